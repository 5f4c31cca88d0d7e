import Training

/// A dataset image drawn with half blocks: each cell shows two pixels, '▀' with fg = upper and bg = lower
/// (equal pixels become '█'). Colours are quantised to the 256 palette (cube + grey ramp). On 8-colour terminals
/// colour images use the nearest basic colours and grey images use shade characters; without colour or Unicode,
/// every cell is a shade character " .:-=+*#%@" of the two pixels' mean brightness.
///
/// A heat map (Grad-CAM's, H*W values in [0, 1]) blends into the picture: half the pixel, half the jet colour
/// of its heat, as pytorch-grad-cam's `show_cam_on_image` does. Where cells are shade characters, they shade
/// the heat instead of the brightness (coloured by the jet map when the terminal has colours), so the map
/// still reads without colour; the picture itself is one key away.
public struct HalfBlockImage: Sendable {
    public var channels: Int, height: Int, width: Int
    public var pixels: [UInt8]   // C*H*W
    /// H*W values in [0, 1] drawn over the picture, or nil.
    public var heat: [Float]?

    public init(channels: Int, height: Int, width: Int, pixels: [UInt8]) {
        self.channels = channels; self.height = height; self.width = width; self.pixels = pixels
    }
    public init(_ image: PredictedImage, heat: [Float]? = nil) {
        self.init(channels: image.channels, height: image.height, width: image.width, pixels: image.pixels)
        self.heat = heat.flatMap { $0.count == image.height * image.width ? $0 : nil }
    }

    /// The jet colour map (blue, cyan, yellow, red) at heat h in [0, 1], as 0...255 RGB.
    static func jet(_ h: Float) -> (r: Int, g: Int, b: Int) {
        func channel(_ centre: Float) -> Int { Int(255 * min(1, max(0, 1.5 - abs(4 * h - centre)))) }
        return (channel(3), channel(2), channel(1))
    }

    /// Mean heat of the source block that output pixel (ox, oy) covers at `scale`, as `sample` averages pixels.
    func sampleHeat(ox: Int, oy: Int, scale: Double) -> Float? {
        guard let heat else { return nil }
        let x0 = Int(Double(ox) / scale), y0 = Int(Double(oy) / scale)
        let x1 = max(x0 + 1, min(width, Int(Double(ox + 1) / scale)))
        let y1 = max(y0 + 1, min(height, Int(Double(oy + 1) / scale)))
        var sum: Float = 0, n = 0
        for y in y0..<min(y1, height) {
            for x in x0..<min(x1, width) { sum += heat[y * width + x]; n += 1 }
        }
        return sum / Float(max(1, n))
    }

    /// The pixel with its heat blended in: half each, as pytorch-grad-cam's overlay (image_weight 0.5).
    static func blend(_ p: (r: Int, g: Int, b: Int), heat: Float?) -> (r: Int, g: Int, b: Int) {
        guard let heat else { return p }
        let j = jet(heat)
        return ((p.r + j.r) / 2, (p.g + j.g) / 2, (p.b + j.b) / 2)
    }

    static let shades: [Character] = Array(" .:-=+*#%@")

    /// The cell size the image takes at `scale` (1 = one pixel per column, two pixel rows per cell row).
    public func cellSize(scale: Double) -> (width: Int, height: Int) {
        let w = max(1, Int((Double(width) * scale).rounded(.up)))
        let h = max(1, Int((Double(height) * scale / 2).rounded(.up)))
        return (w, h)
    }

    /// RGB of the source pixel block that output pixel (ox, oy) covers at `scale` (a box average).
    func sample(ox: Int, oy: Int, scale: Double) -> (r: Int, g: Int, b: Int) {
        let x0 = Int(Double(ox) / scale), y0 = Int(Double(oy) / scale)
        let x1 = max(x0 + 1, min(width, Int(Double(ox + 1) / scale)))
        let y1 = max(y0 + 1, min(height, Int(Double(oy + 1) / scale)))
        var sum = [0, 0, 0], n = 0
        let plane = width * height
        for y in y0..<min(y1, height) {
            for x in x0..<min(x1, width) {
                for c in 0..<3 {
                    let ch = channels >= 3 ? c : 0
                    let i = ch * plane + y * width + x
                    sum[c] += i < pixels.count ? Int(pixels[i]) : 0
                }
                n += 1
            }
        }
        n = max(1, n)
        return (sum[0] / n, sum[1] / n, sum[2] / n)
    }

    /// Draws the image as large as fits in `area` (never above `maxScale`), centred.
    public func render(into grid: inout CellGrid, area: Rect, capabilities: TerminalCapabilities, maxScale: Double = 4) {
        guard width > 0, height > 0, area.width > 0, area.height > 0 else { return }
        let scale = min(maxScale, Double(area.width) / Double(width), Double(area.height * 2) / Double(height))
        let outW = min(area.width, max(1, Int(Double(width) * scale)))
        let outH = min(area.height * 2, max(1, Int(Double(height) * scale)))
        let cellRows = (outH + 1) / 2
        let left = area.x + (area.width - outW) / 2, top = area.y + (area.height - cellRows) / 2
        for cy in 0..<cellRows {
            for cx in 0..<outW {
                let upper = sample(ox: cx, oy: cy * 2, scale: scale)
                let lower = cy * 2 + 1 < outH ? sample(ox: cx, oy: cy * 2 + 1, scale: scale) : nil
                let upperHeat = sampleHeat(ox: cx, oy: cy * 2, scale: scale)
                let lowerHeat = cy * 2 + 1 < outH ? sampleHeat(ox: cx, oy: cy * 2 + 1, scale: scale) : nil
                let cell = self.cell(upper: upper, lower: lower, upperHeat: upperHeat, lowerHeat: lowerHeat,
                                     capabilities: capabilities)
                grid[left + cx, top + cy] = cell
            }
        }
    }

    func cell(upper: (r: Int, g: Int, b: Int), lower: (r: Int, g: Int, b: Int)?, upperHeat: Float? = nil,
              lowerHeat: Float? = nil, capabilities: TerminalCapabilities) -> Cell {
        let halfBlocks = capabilities.glyphs.isUnicode && capabilities.colorDepth != .none
        if let upperHeat, !halfBlocks {
            // Shade characters: the heat's, coloured by the jet map where there is colour.
            let h = lowerHeat.map { (upperHeat + $0) / 2 } ?? upperHeat
            let k = min(Self.shades.count - 1, Int(h * Float(Self.shades.count)))
            let j = Self.jet(h)
            let style = capabilities.colorDepth == .none ? Style.plain
                : capabilities.style(fg: .indexed(Palette.truecolorTo256(r: j.r, g: j.g, b: j.b)))
            return Cell(Self.shades[k], style: style)
        }
        let isColorImage = channels >= 3 || upperHeat != nil
        let upper = Self.blend(upper, heat: upperHeat)
        let lower = lower.map { Self.blend($0, heat: lowerHeat ?? upperHeat) }
        switch (capabilities.colorDepth, capabilities.glyphs.isUnicode) {
        case (.palette256, true):
            let u = Color.indexed(Palette.truecolorTo256(r: upper.r, g: upper.g, b: upper.b))
            guard let lower else { return Cell("▀", style: Style(foreground: u)) }
            let l = Color.indexed(Palette.truecolorTo256(r: lower.r, g: lower.g, b: lower.b))
            return u == l ? Cell("█", style: Style(foreground: u)) : Cell("▀", style: Style(foreground: u, background: l))
        case (.basic8, true) where isColorImage:
            let u = Color.basic(Palette.nearestBasic(r: upper.r, g: upper.g, b: upper.b))
            guard let lower else { return Cell("▀", style: Style(foreground: u)) }
            let l = Color.basic(Palette.nearestBasic(r: lower.r, g: lower.g, b: lower.b))
            return u == l ? Cell("█", style: Style(foreground: u)) : Cell("▀", style: Style(foreground: u, background: l))
        default:
            let lum = { (p: (r: Int, g: Int, b: Int)) in (p.r * 299 + p.g * 587 + p.b * 114) / 1000 }
            let mean = lower.map { (lum(upper) + lum($0)) / 2 } ?? lum(upper)
            let k = min(Self.shades.count - 1, mean * Self.shades.count / 256)
            var style = Style.plain
            if capabilities.colorDepth != .none && isColorImage {
                let avg = lower.map { ((upper.r + $0.r) / 2, (upper.g + $0.g) / 2, (upper.b + $0.b) / 2) } ?? (upper.r, upper.g, upper.b)
                style = capabilities.style(fg: .indexed(Palette.truecolorTo256(r: avg.0, g: avg.1, b: avg.2)))
            }
            return Cell(Self.shades[k], style: style)
        }
    }
}

/// Images in a grid, each with a caption: green with ✓ when right, red with ✗ when wrong (+/x in ASCII), so
/// the verdict shows even without colour. One tile may be selected (reverse caption).
public struct ImageGrid: Sendable {
    public struct Tile: Sendable {
        public var image: HalfBlockImage
        public var caption: String
        public var isCorrect: Bool?
        public init(image: HalfBlockImage, caption: String, isCorrect: Bool?) {
            self.image = image; self.caption = caption; self.isCorrect = isCorrect
        }
    }
    public var tiles: [Tile]
    public var selected: Int?
    /// Largest scale to try (1 = native size); smaller scales are tried until `minimumShown` tiles fit.
    public var maxScale: Double
    public var minimumShown: Int
    /// Smallest scale allowed: below it fewer tiles show instead of smaller ones (0.5 keeps pictures legible).
    public var minScale: Double
    public init(tiles: [Tile], selected: Int? = nil, maxScale: Double = 1, minimumShown: Int = 8, minScale: Double = 0) {
        self.tiles = tiles; self.selected = selected; self.maxScale = maxScale; self.minimumShown = minimumShown
        self.minScale = minScale
    }

    /// Chooses a scale and returns (scale, tile cell size, columns, rows).
    func layout(in area: Rect) -> (scale: Double, cell: (width: Int, height: Int), columns: Int, rows: Int)? {
        guard let first = tiles.first?.image else { return nil }
        let scales = [1.0, 0.75, 0.5, 0.375, 0.25, 0.125].filter { $0 <= maxScale && $0 >= minScale }
        var best: (Double, (Int, Int), Int, Int)?
        for s in scales {
            var size = first.cellSize(scale: s)
            size.width = max(size.width, 6)   // room for a caption
            let columns = (area.width + 1) / (size.width + 1), rows = area.height / (size.height + 1)
            guard columns > 0, rows > 0 else { continue }
            best = (s, size, columns, rows)
            if columns * rows >= min(tiles.count, minimumShown) { break }
        }
        return best.map { (scale: $0.0, cell: (width: $0.1.0, height: $0.1.1), columns: $0.2, rows: $0.3) }
    }

    public func render(into grid: inout CellGrid, area: Rect, capabilities: TerminalCapabilities) {
        guard let (scale, cell, columns, rows) = layout(in: area) else {
            if tiles.isEmpty {
                grid.text("no images yet", in: area, row: area.height / 2, align: .center,
                          style: capabilities.style(fg: .default, [.dim]), glyphs: capabilities.glyphs)
            }
            return
        }
        // Scroll so the selected tile is on screen.
        let perPage = columns * rows
        let firstShown = selected.map { ($0 / perPage) * perPage } ?? 0
        for (k, tile) in tiles.dropFirst(firstShown).prefix(perPage).enumerated() {
            let x = area.x + (k % columns) * (cell.width + 1), y = area.y + (k / columns) * (cell.height + 1)
            tile.image.render(into: &grid, area: Rect(x: x, y: y, width: cell.width, height: cell.height),
                              capabilities: capabilities, maxScale: scale)
            var style = Style.plain
            var mark = ""
            if let ok = tile.isCorrect {
                style = capabilities.style(fg: ok ? .green : .red)
                mark = String(ok ? capabilities.glyphs.right : capabilities.glyphs.wrong)
            }
            if selected == firstShown + k { style.attributes.insert(.reverse) }
            let caption = mark.isEmpty ? tile.caption : mark + tile.caption
            grid.text(caption.truncated(to: cell.width, ellipsis: capabilities.glyphs.ellipsis), x: x, y: y + cell.height,
                      style: style, clip: area)
        }
    }
}
