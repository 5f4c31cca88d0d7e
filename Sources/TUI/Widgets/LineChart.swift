/// A line chart of one or more series that rescales to fit its data, with y-axis labels, an x-axis row and
/// marks (manual learning-rate changes) under the plot.
///
/// Dots are plotted on a sub-cell raster, then each cell's dot pattern becomes a glyph: braille (2x4 dots per
/// cell), half blocks (1x2: ▀ ▄ █) or ASCII (1x2: ' . :).

public struct ChartPoint: Equatable, Sendable {
    public var x: Double, y: Double
    public init(x: Double, y: Double) { self.x = x; self.y = y }
}

public struct ChartSeries: Sendable {
    public var name: String
    public var points: [ChartPoint]
    public var color: Color
    /// Draw a marker (● or o) at every point, e.g. where a test evaluation was measured.
    public var markPoints: Bool
    /// The series' own mark (comparisons give each run one): drawn at marked points instead of ● or o,
    /// and, on a terminal without colour, in every cell of the line, so overlaid series stay apart.
    public var marker: Character?
    public init(name: String, points: [ChartPoint], color: Color, markPoints: Bool = false, marker: Character? = nil) {
        self.name = name; self.points = points; self.color = color; self.markPoints = markPoints; self.marker = marker
    }
}

/// A letter drawn on the plot at a data point, over the lines (the LR finder's suggestions); a highlighted one
/// is drawn in reverse video, so it stands out without colour too.
public struct ChartLabel: Sendable, Equatable {
    public var x: Double, y: Double
    public var text: Character
    public var color: Color
    public var highlighted: Bool
    public init(x: Double, y: Double, text: Character, color: Color, highlighted: Bool = false) {
        self.x = x; self.y = y; self.text = text; self.color = color; self.highlighted = highlighted
    }
}

public enum ChartGlyphs: Sendable {
    case braille, blocks, ascii

    var dotsPerCell: (x: Int, y: Int) {
        switch self {
        case .braille: return (2, 4)
        case .blocks, .ascii: return (1, 2)
        }
    }

    /// The glyph for a cell's dots; `bits` has bit (dy * dotsX + dx) set per dot, dy = 0 at the top.
    func glyph(bits: Int) -> Character {
        switch self {
        case .braille:
            // Braille dot numbering: column 0 = dots 1,2,3,7; column 1 = dots 4,5,6,8.
            let dotBit: [[Int]] = [[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]]
            var code = 0
            for dy in 0..<4 { for dx in 0..<2 where bits & (1 << (dy * 2 + dx)) != 0 { code |= dotBit[dy][dx] } }
            return Character(Unicode.Scalar(0x2800 + code) ?? " ")
        case .blocks: return [" ", "▀", "▄", "█"][bits & 3]
        case .ascii: return [" ", "'", ".", ":"][bits & 3]
        }
    }
}

public struct LineChart: Sendable {
    public var series: [ChartSeries]
    /// x positions to mark under the plot (e.g. manual LR changes).
    public var marks: [Double]
    public var glyphs: ChartGlyphs?
    /// When set, the y range always includes these bounds (e.g. 0...1 for accuracy).
    public var fixedYRange: ClosedRange<Double>?
    /// When set, the x range always includes these bounds (a sweep's whole range, before it is measured).
    public var fixedXRange: ClosedRange<Double>?
    /// Letters on the plot at data points, drawn last.
    public var labels: [ChartLabel]
    public var yFormatter: @Sendable (Double) -> String
    /// x-axis labels: integers without decimals, others short ("1.5", "0.25").
    public var xFormatter: @Sendable (Double) -> String
    /// What x counts ("epoch"), written in the middle of the axis row when there is room.
    public var xUnit: String?
    /// Labelled ticks between the ends (whole epochs), drawn where they do not crowd a neighbour.
    public var xTicks: [Double]

    public init(series: [ChartSeries], marks: [Double] = [], glyphs: ChartGlyphs? = nil,
                fixedYRange: ClosedRange<Double>? = nil, fixedXRange: ClosedRange<Double>? = nil,
                labels: [ChartLabel] = [],
                yFormatter: @escaping @Sendable (Double) -> String = { Format.compact($0) },
                xFormatter: @escaping @Sendable (Double) -> String = { Format.axis($0) },
                xUnit: String? = nil, xTicks: [Double] = []) {
        self.series = series; self.marks = marks; self.glyphs = glyphs
        self.fixedYRange = fixedYRange; self.fixedXRange = fixedXRange; self.labels = labels
        self.yFormatter = yFormatter
        self.xFormatter = xFormatter; self.xUnit = xUnit; self.xTicks = xTicks
    }

    /// The data range shown: all points (and the fixed y range), widened when flat so a constant line sits mid-plot.
    func ranges() -> (x: ClosedRange<Double>, y: ClosedRange<Double>)? {
        let all = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        guard let first = all.first else { return nil }
        var x0 = first.x, x1 = first.x, y0 = first.y, y1 = first.y
        for p in all { x0 = min(x0, p.x); x1 = max(x1, p.x); y0 = min(y0, p.y); y1 = max(y1, p.y) }
        if let f = fixedYRange { y0 = min(y0, f.lowerBound); y1 = max(y1, f.upperBound) }
        if let f = fixedXRange { x0 = min(x0, f.lowerBound); x1 = max(x1, f.upperBound) }
        if x1 == x0 { x1 = x0 + 1 }
        if y1 == y0 { let pad = max(abs(y0) * 0.1, 1e-6); y0 -= pad; y1 += pad }
        return (x0...x1, y0...y1)
    }

    public func render(into grid: inout CellGrid, area: Rect, capabilities: TerminalCapabilities) {
        guard area.width >= 4, area.height >= 1 else { return }
        let chartGlyphs = glyphs ?? (capabilities.glyphs.isUnicode ? .braille : .ascii)
        guard let (xr, yr) = ranges() else {
            grid.text("waiting for data", in: area, row: area.height / 2, align: .center,
                      style: capabilities.style(fg: .default, [.dim]), glyphs: capabilities.glyphs)
            return
        }
        let showAxis = area.height >= 3
        let plotHeight = showAxis ? area.height - 1 : area.height
        let labels = [yFormatter(yr.upperBound), yFormatter((yr.lowerBound + yr.upperBound) / 2), yFormatter(yr.lowerBound)]
        let labelWidth = min(labels.map(\.count).max() ?? 0, area.width / 3)
        let plot = Rect(x: area.x + labelWidth + 1, y: area.y, width: area.width - labelWidth - 1, height: plotHeight)
        guard plot.width > 0, plot.height > 0 else { return }

        // y-axis labels: top, middle (when there is room), bottom.
        let labelStyle = capabilities.style(fg: .default, [.dim])
        let labelArea = Rect(x: area.x, y: area.y, width: labelWidth, height: plotHeight)
        grid.text(labels[0], in: labelArea, row: 0, align: .right, style: labelStyle, glyphs: capabilities.glyphs)
        if plotHeight >= 5 {
            grid.text(labels[1], in: labelArea, row: plotHeight / 2, align: .right, style: labelStyle, glyphs: capabilities.glyphs)
        }
        if plotHeight >= 2 {
            grid.text(labels[2], in: labelArea, row: plotHeight - 1, align: .right, style: labelStyle, glyphs: capabilities.glyphs)
        }

        // Raster: one bit mask and an owning series per cell; later series draw over earlier ones.
        let (dx, dy) = chartGlyphs.dotsPerCell
        let dotsW = plot.width * dx, dotsH = plot.height * dy
        var bits = [Int](repeating: 0, count: plot.width * plot.height)
        var owner = [Int](repeating: -1, count: plot.width * plot.height)
        func column(_ x: Double) -> Int {
            Int(((x - xr.lowerBound) / (xr.upperBound - xr.lowerBound) * Double(dotsW - 1)).rounded())
        }
        func row(_ y: Double) -> Int {   // 0 at the top
            let t = (y - yr.lowerBound) / (yr.upperBound - yr.lowerBound)
            return min(dotsH - 1, max(0, dotsH - 1 - Int((t * Double(dotsH - 1)).rounded())))
        }
        func set(_ cx: Int, _ cy: Int, _ s: Int) {
            guard cx >= 0, cx < dotsW, cy >= 0, cy < dotsH else { return }
            let cell = (cy / dy) * plot.width + cx / dx
            bits[cell] |= 1 << ((cy % dy) * dx + cx % dx)
            owner[cell] = s
        }
        for (s, series) in series.enumerated() {
            // One value per dot column (the mean of the points falling in it), then segments between columns.
            var sums = [Double](repeating: 0, count: dotsW), counts = [Int](repeating: 0, count: dotsW)
            for p in series.points where p.x.isFinite && p.y.isFinite {
                let c = min(dotsW - 1, max(0, column(p.x)))
                sums[c] += p.y; counts[c] += 1
            }
            var previous: (Int, Int)?
            for c in 0..<dotsW where counts[c] > 0 {
                let r = row(sums[c] / Double(counts[c]))
                if let (pc, pr) = previous {
                    // Connect: fill the vertical run between the previous row and this one across the gap.
                    let steps = max(c - pc, abs(r - pr))
                    for k in 1...steps {
                        set(pc + (c - pc) * k / steps, pr + (r - pr) * k / steps, s)
                    }
                } else {
                    set(c, r, s)
                }
                previous = (c, r)
            }
        }
        for cy in 0..<plot.height {
            for cx in 0..<plot.width where bits[cy * plot.width + cx] != 0 {
                let owning = series[owner[cy * plot.width + cx]]
                let marker = capabilities.colorDepth == .none ? owning.marker : nil
                grid.put(marker ?? chartGlyphs.glyph(bits: bits[cy * plot.width + cx]), x: plot.x + cx, y: plot.y + cy,
                         style: capabilities.style(fg: owning.color))
            }
        }

        // Markers on the measured points of the series that want them (test evaluations).
        let pointMark: Character = capabilities.glyphs.isUnicode ? "●" : "o"
        for s in series where s.markPoints {
            for p in s.points where p.x.isFinite && p.y.isFinite {
                let cx = min(dotsW - 1, max(0, column(p.x))) / dx, cy = row(p.y) / dy
                grid.put(s.marker ?? pointMark, x: plot.x + cx, y: plot.y + cy, style: capabilities.style(fg: s.color, [.bold]))
            }
        }

        for label in self.labels where label.x.isFinite && label.y.isFinite {
            let cx = min(dotsW - 1, max(0, column(label.x))) / dx, cy = row(label.y) / dy
            let attributes: CellAttributes = label.highlighted ? [.bold, .reverse] : [.bold]
            grid.put(label.text, x: plot.x + cx, y: plot.y + cy, style: capabilities.style(fg: label.color, attributes))
        }

        guard showAxis else { return }
        // x-axis row: first and last x, whole ticks between, the unit in the middle, a marker under each mark.
        let axisY = area.y + plotHeight
        let axisArea = Rect(x: plot.x, y: axisY, width: plot.width, height: 1)
        let first = xFormatter(xr.lowerBound), last = xFormatter(xr.upperBound)
        grid.text(first, in: axisArea, align: .left, style: labelStyle, glyphs: capabilities.glyphs)
        grid.text(last, in: axisArea, align: .right, style: labelStyle, glyphs: capabilities.glyphs)
        var taken = [(plot.x, plot.x + first.count), (plot.maxX - last.count, plot.maxX)]
        func free(_ a: Int, _ b: Int) -> Bool { a >= plot.x && b <= plot.maxX && taken.allSatisfy { b + 1 < $0.0 || a > $0.1 + 1 } }
        if let unit = xUnit {
            let a = plot.x + (plot.width - unit.count) / 2
            if free(a, a + unit.count) {
                grid.text(unit, x: a, y: axisY, style: labelStyle, clip: axisArea)
                taken.append((a, a + unit.count))
            }
        }
        for t in xTicks where t > xr.lowerBound && t < xr.upperBound {
            let label = xFormatter(t)
            let cx = plot.x + column(t) / dx
            let a = cx - label.count / 2
            guard free(a, a + label.count) else { continue }
            grid.text(label, x: a, y: axisY, style: labelStyle, clip: axisArea)
            taken.append((a, a + label.count))
        }
        for m in marks where m >= xr.lowerBound && m <= xr.upperBound {
            grid.put(capabilities.glyphs.marker, x: plot.x + column(m) / dx, y: axisY,
                     style: capabilities.style(fg: .yellow, [.bold]))
        }
    }
}
