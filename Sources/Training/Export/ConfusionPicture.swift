/// A confusion matrix [true][predicted] drawn as a heat map for TensorBoard's image tab: one square block of
/// pixels per cell (true class down, predicted class across, as the dashboard's matrix), coloured by the
/// cell's share of its row (what the dashboard shows: the fraction of each class predicted as each class,
/// whatever the class sizes), thin grid lines between cells, and to the right a colour scale from 0% at the
/// bottom to 100% at the top with ticks every 25%. No text: the tag names the picture, the scale reads it.
struct ConfusionPicture {
    let width: Int
    let height: Int
    /// height x width RGB triples.
    let rgb: [UInt8]

    static let margin = 4
    static let scaleGap = 6
    static let scaleWidth = 10
    static let tickLength = 3

    /// Pixels per cell side: large enough to see for a few classes, smaller for many, so the picture stays
    /// a few hundred pixels wide.
    static func cellSize(classes: Int) -> Int { max(3, min(24, 320 / max(1, classes))) }

    init(confusion: [[Int]]) {
        let n = max(1, confusion.count)
        let cell = Self.cellSize(classes: n)
        let side = n * cell + (n + 1)  // cells and the grid lines around them
        width = Self.margin * 2 + side + Self.scaleGap + Self.scaleWidth + Self.tickLength
        height = Self.margin * 2 + side
        var pixels = [UInt8](repeating: 255, count: width * height * 3)
        let w = width
        func fill(x: Int, y: Int, w rectWidth: Int, h rectHeight: Int, _ colour: (UInt8, UInt8, UInt8)) {
            for row in y..<y + rectHeight {
                for column in x..<x + rectWidth {
                    let i = (row * w + column) * 3
                    pixels[i] = colour.0; pixels[i + 1] = colour.1; pixels[i + 2] = colour.2
                }
            }
        }
        let grid: (UInt8, UInt8, UInt8) = (96, 96, 96)
        fill(x: Self.margin, y: Self.margin, w: side, h: side, grid)
        for (truth, row) in confusion.enumerated() {
            let total = row.reduce(0, +)
            for (predicted, count) in row.enumerated() where predicted < n {
                let share = total > 0 ? Double(count) / Double(total) : 0
                fill(x: Self.margin + 1 + predicted * (cell + 1), y: Self.margin + 1 + truth * (cell + 1),
                     w: cell, h: cell, Self.colour(share))
            }
        }
        // The scale: one row per pixel of the matrix's height, 100% at the top.
        let scaleX = Self.margin + side + Self.scaleGap
        for y in 0..<side {
            let share = side > 1 ? 1 - Double(y) / Double(side - 1) : 1
            fill(x: scaleX, y: Self.margin + y, w: Self.scaleWidth, h: 1, Self.colour(share))
        }
        for quarter in 0...4 {
            let y = Self.margin + Int((Double(side - 1) * Double(quarter) / 4).rounded())
            fill(x: scaleX + Self.scaleWidth, y: y, w: Self.tickLength, h: 1, (0, 0, 0))
        }
        rgb = pixels
    }

    /// Viridis (matplotlib's default map: perceptually even, readable in grey and by most colour-blind
    /// eyes), interpolated between five of its stops; `share` in 0...1.
    static func colour(_ share: Double) -> (UInt8, UInt8, UInt8) {
        let stops: [(Double, Double, Double)] = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
        let position = min(1, max(0, share.isFinite ? share : 0)) * Double(stops.count - 1)
        let lower = min(Int(position), stops.count - 2)
        let t = position - Double(lower)
        let a = stops[lower], b = stops[lower + 1]
        func mix(_ x: Double, _ y: Double) -> UInt8 { UInt8((x + (y - x) * t).rounded()) }
        return (mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }
}
