/// A 2-D map of numbers (a channel of a layer's output, a convolution kernel) drawn with half blocks like
/// `HalfBlockImage`: grey for non-negative values (`lo` black ... `hi` white), a diverging blue-dark-red
/// palette for signed ones (-m ... 0 ... +m). On 8-colour terminals cells become shade characters (blue or
/// red for signed values); without colour or Unicode, the ASCII shades " .:-=+*#%@" (signed: -m blank,
/// 0 in the middle, +m '@').
public enum ValuePalette: Sendable, Equatable { case grey, diverging }

public struct ValueMap: Sendable {
    public var width: Int, height: Int
    public var values: ArraySlice<Float>
    public var palette: ValuePalette
    /// grey: lo...hi; diverging: the magnitude m shown at full colour is max(|lo|, |hi|).
    public var range: ClosedRange<Float>

    public init(width: Int, height: Int, values: ArraySlice<Float>, palette: ValuePalette, range: ClosedRange<Float>) {
        self.width = width; self.height = height; self.values = values; self.palette = palette; self.range = range
    }

    /// Cells the map takes at `scale` (output pixels per value; two pixel rows per cell row).
    public func cellSize(scale: Double) -> (width: Int, height: Int) {
        (max(1, Int((Double(width) * scale).rounded(.down))), max(1, (Int((Double(height) * scale).rounded(.down)) + 1) / 2))
    }

    static let ascii: [Character] = Array(" .:-=+*#%@")
    static let unicodeShades: [Character] = [" ", "░", "▒", "▓", "█"]
    static let reds: [UInt8] = [235, 52, 88, 124, 160, 196, 203]
    static let blues: [UInt8] = [235, 18, 19, 20, 27, 33, 39]

    func value(_ x: Int, _ y: Int) -> Float {
        let i = values.startIndex + y * width + x
        return i < values.endIndex ? values[i] : 0
    }

    /// Box average of the values under output pixel (ox, oy) at `scale`.
    func sample(ox: Int, oy: Int, scale: Double) -> Float {
        let x0 = min(width - 1, Int(Double(ox) / scale)), y0 = min(height - 1, Int(Double(oy) / scale))
        let x1 = max(x0 + 1, min(width, Int(Double(ox + 1) / scale))), y1 = max(y0 + 1, min(height, Int(Double(oy + 1) / scale)))
        var sum: Float = 0
        for y in y0..<y1 { for x in x0..<x1 { sum += value(x, y) } }
        return sum / Float((y1 - y0) * (x1 - x0))
    }

    /// 0...1 (grey) or -1...1 (diverging).
    func normalized(_ v: Float) -> Float {
        guard v.isFinite else { return 0 }
        switch palette {
        case .grey:
            let span = range.upperBound - range.lowerBound
            return span > 0 ? min(1, max(0, (v - range.lowerBound) / span)) : (v > range.lowerBound ? 1 : 0)
        case .diverging:
            let m = max(abs(range.lowerBound), abs(range.upperBound))
            return m > 0 ? min(1, max(-1, v / m)) : 0
        }
    }

    func color(_ t: Float) -> Color {
        switch palette {
        case .grey: return .indexed(232 + UInt8((t * 23).rounded()))
        case .diverging:
            let ramp = t < 0 ? Self.blues : Self.reds
            return .indexed(ramp[Int((abs(t) * Float(ramp.count - 1)).rounded())])
        }
    }

    func cell(_ upper: Float, _ lower: Float?, capabilities caps: TerminalCapabilities) -> Cell {
        let tu = normalized(upper), tl = lower.map(normalized)
        switch (caps.colorDepth, caps.glyphs.isUnicode) {
        case (.palette256, true):
            let u = color(tu)
            guard let tl else { return Cell("▀", style: Style(foreground: u)) }
            let l = color(tl)
            return u == l ? Cell("█", style: Style(foreground: u)) : Cell("▀", style: Style(foreground: u, background: l))
        case (.basic8, true):
            let t = tl.map { (tu + $0) / 2 } ?? tu
            let k = Int((abs(t) * Float(Self.unicodeShades.count - 1)).rounded())
            let fg: Color = palette == .grey ? .default : (t < 0 ? .blue : .red)
            return Cell(Self.unicodeShades[k], style: caps.style(fg: fg))
        default:
            let t = tl.map { (tu + $0) / 2 } ?? tu
            let u = palette == .grey ? t : (t + 1) / 2
            return Cell(Self.ascii[min(Self.ascii.count - 1, Int(u * Float(Self.ascii.count)))])
        }
    }

    /// Draws the map at `scale` with its top-left corner at (x, y), clipped to `clip`.
    public func render(into grid: inout CellGrid, x: Int, y: Int, scale: Double, clip: Rect,
                       capabilities caps: TerminalCapabilities) {
        guard width > 0, height > 0, scale > 0 else { return }
        let outW = max(1, Int((Double(width) * scale).rounded(.down)))
        let outH = max(1, Int((Double(height) * scale).rounded(.down)))
        for cy in 0..<((outH + 1) / 2) {
            for cx in 0..<outW where clip.contains(x: x + cx, y: y + cy) {
                let upper = sample(ox: cx, oy: cy * 2, scale: scale)
                let lower = cy * 2 + 1 < outH ? sample(ox: cx, oy: cy * 2 + 1, scale: scale) : nil
                grid[x + cx, y + cy] = cell(upper, lower, capabilities: caps)
            }
        }
    }
}

/// A one-row sparkline: the newest `width` values as ▁▂▃▄▅▆▇█ (ASCII "_.-=+*#"), scaled to `range`
/// (default: the values' own range).
public struct Sparkline: Sendable {
    public var values: [Double]
    public var range: ClosedRange<Double>?
    public var color: Color
    public init(values: [Double], range: ClosedRange<Double>? = nil, color: Color = .cyan) {
        self.values = values; self.range = range; self.color = color
    }

    static let unicode: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
    static let ascii: [Character] = Array("_.-=+*#")

    public func text(width: Int, unicode: Bool) -> String {
        let shown = values.suffix(max(0, width)).filter(\.isFinite)
        guard let lo0 = shown.min(), let hi0 = shown.max() else { return "" }
        let lo = range?.lowerBound ?? lo0, hi = range?.upperBound ?? hi0
        let levels = unicode ? Self.unicode : Self.ascii
        return String(shown.map { v -> Character in
            let t = hi > lo ? (v - lo) / (hi - lo) : 0.5
            return levels[min(levels.count - 1, max(0, Int((t * Double(levels.count - 1)).rounded())))]
        })
    }

    public func render(into grid: inout CellGrid, x: Int, y: Int, width: Int, capabilities caps: TerminalCapabilities) {
        grid.text(text(width: width, unicode: caps.glyphs.isUnicode), x: x, y: y, style: caps.style(fg: color),
                  clip: Rect(x: x, y: y, width: width, height: 1))
    }
}
