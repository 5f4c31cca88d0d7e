/// A confusion matrix [true][predicted]: each cell shows its share of the row in percent (or the raw count) on a
/// heat-shaded background, the diagonal in green, and an optional selected cell. Too narrow for numbers, each
/// cell becomes one shade character.
public struct ConfusionMatrixView: Sendable {
    public var counts: [[Int]]
    public var labels: [String]
    public var selected: (row: Int, column: Int)?
    /// Percent of the row (3 columns per cell) rather than counts (as wide as the largest count).
    public var showsPercent: Bool
    public init(counts: [[Int]], labels: [String], selected: (row: Int, column: Int)? = nil, showsPercent: Bool = true) {
        self.counts = counts; self.labels = labels; self.selected = selected; self.showsPercent = showsPercent
    }

    static let shades: [Character] = Array(" .:-=+*#%@")

    /// Cell width that fits `n` columns after a row-label column, or 1 (shade only).
    func cellWidth(for area: Rect, labelWidth: Int) -> Int {
        let n = max(1, counts.count)
        let digits = showsPercent ? 2 : String(counts.flatMap { $0 }.max() ?? 0).count
        let wanted = max(3, digits + 1)
        let fits = (area.width - labelWidth) / n
        return fits >= wanted ? min(fits, wanted + 1) : 1
    }

    public func render(into grid: inout CellGrid, area: Rect, capabilities: TerminalCapabilities) {
        let n = counts.count
        guard n > 0, area.width >= 4, area.height >= 2 else { return }
        let labelWidth = min(max(2, labels.map(\.count).max() ?? 1), 4) + 1
        let w = cellWidth(for: area, labelWidth: labelWidth)
        let dim = capabilities.style(fg: .default, [.dim])
        // Header row: predicted-class numbers; row labels: true-class names, shortened.
        for c in 0..<n {
            let text = w >= 2 ? String(c).padded(to: w, align: .right) : String(c % 10)
            grid.text(text, x: area.x + labelWidth + c * w, y: area.y, style: dim, clip: area)
        }
        for r in 0..<min(n, area.height - 1) {
            let y = area.y + 1 + r
            let label = r < labels.count ? labels[r] : String(r)
            grid.text(label.truncated(to: labelWidth - 1, ellipsis: capabilities.glyphs.ellipsis).padded(to: labelWidth - 1) + " ",
                      x: area.x, y: y, style: dim, clip: area)
            let rowTotal = max(1, counts[r].reduce(0, +))
            for c in 0..<n {
                let count = c < counts[r].count ? counts[r][c] : 0
                let share = Double(count) / Double(rowTotal)
                let x = area.x + labelWidth + c * w
                let isSelected = selected.map { $0.row == r && $0.column == c } ?? false
                var style = cellStyle(share: share, diagonal: r == c, capabilities: capabilities)
                if isSelected { style.attributes.insert(.reverse) }
                let cell = Rect(x: x, y: y, width: w, height: 1).intersection(area)
                if w == 1 {
                    let k = count == 0 ? 0 : max(1, Int((share * Double(Self.shades.count - 1)).rounded()))
                    grid.put(capabilities.colorDepth == .none || !capabilities.glyphs.isUnicode ? Self.shades[k] : (count == 0 ? " " : "■"),
                             x: x, y: y, style: style, clip: area)
                } else {
                    grid.fill(cell, style: style)
                    let number = showsPercent ? String(Int((share * 100).rounded())) : String(count)
                    grid.text(number.padded(to: w, align: .right), x: x, y: y, style: style, clip: area)
                }
            }
        }
    }

    /// Background heat from the row share; no-colour terminals get bold for large off-diagonal shares instead.
    func cellStyle(share: Double, diagonal: Bool, capabilities: TerminalCapabilities) -> Style {
        switch capabilities.colorDepth {
        case .palette256:
            let bg = Color.indexed(Palette.heat(share))
            let fg: Color = diagonal ? .indexed(46) : (share > 0.5 ? .indexed(16) : .indexed(231))
            return Style(foreground: fg, background: share == 0 ? .default : bg, attributes: diagonal ? [.bold] : [])
        case .basic8:
            if diagonal { return Style(foreground: .green, attributes: [.bold]) }
            if share >= 0.2 { return Style(foreground: .white, background: .red) }
            if share >= 0.05 { return Style(foreground: .red) }
            return Style(foreground: .default, attributes: share == 0 ? [.dim] : [])
        case .none:
            if diagonal { return Style(attributes: [.bold]) }
            return Style(attributes: share >= 0.05 ? [.underline] : share == 0 ? [.dim] : [])
        }
    }
}
