/// Horizontal bars with labels and a percentage, e.g. per-class accuracy. Colour says how good a value is.
public struct BarChart: Sendable {
    public struct Bar: Sendable, Equatable {
        public var label: String
        public var value: Float   // 0...1
        public init(label: String, value: Float) { self.label = label; self.value = value }
    }
    public var bars: [Bar]
    public var maxLabelWidth: Int
    public init(bars: [Bar], maxLabelWidth: Int = 12) { self.bars = bars; self.maxLabelWidth = maxLabelWidth }

    static let eighths: [Character] = [" ", "▏", "▎", "▍", "▌", "▋", "▊", "▉", "█"]

    /// Red below 50 %, yellow below 80 %, green above.
    public static func color(for value: Float) -> Color { value < 0.5 ? .red : value < 0.8 ? .yellow : .green }

    public func render(into grid: inout CellGrid, area: Rect, capabilities: TerminalCapabilities) {
        guard area.width >= 8, area.height >= 1 else { return }
        let labelWidth = min(maxLabelWidth, bars.map(\.label.count).max() ?? 0, area.width / 3)
        let valueWidth = 6   // "100.0%"
        let barWidth = area.width - labelWidth - valueWidth - 2
        for (row, bar) in bars.prefix(area.height).enumerated() {
            let y = area.y + row
            grid.text(bar.label.padded(to: labelWidth), x: area.x, y: y, clip: area)
            let v = min(1, max(0, bar.value.isFinite ? bar.value : 0))
            let style = capabilities.style(fg: BarChart.color(for: v))
            if barWidth > 0 {
                let bx = area.x + labelWidth + 1
                if capabilities.glyphs.isUnicode {
                    let eighthsTotal = Int((v * Float(barWidth * 8)).rounded())
                    for i in 0..<barWidth {
                        let e = min(8, max(0, eighthsTotal - i * 8))
                        if e > 0 { grid.put(BarChart.eighths[e], x: bx + i, y: y, style: style) }
                    }
                } else {
                    let filled = Int((v * Float(barWidth)).rounded())
                    for i in 0..<barWidth { grid.put(i < filled ? "#" : ".", x: bx + i, y: y, style: i < filled ? style : .plain) }
                }
            }
            grid.text(Format.percent(v).padded(to: valueWidth, align: .right), x: area.maxX - valueWidth, y: y,
                      style: style, clip: area)
        }
    }
}

/// A one-line progress bar: [█████░░░░░] 42%.
public struct ProgressBar: Sendable {
    public var fraction: Double
    public var color: Color
    public init(fraction: Double, color: Color = .cyan) { self.fraction = fraction; self.color = color }

    public func render(into grid: inout CellGrid, area: Rect, capabilities: TerminalCapabilities) {
        guard area.width >= 6, area.height >= 1 else { return }
        let f = min(1, max(0, fraction.isFinite ? fraction : 0))
        let label = " \(Int((f * 100).rounded(.down)))%"
        let inner = area.width - label.count
        let filled = Int((f * Double(inner)).rounded(.down))
        let (on, off): (Character, Character) = capabilities.glyphs.isUnicode ? ("█", "░") : ("#", ".")
        for i in 0..<inner {
            grid.put(i < filled ? on : off, x: area.x + i, y: area.y,
                     style: i < filled ? capabilities.style(fg: color) : capabilities.style(fg: .default, [.dim]))
        }
        grid.text(label, x: area.x + inner, y: area.y, clip: area)
    }
}
