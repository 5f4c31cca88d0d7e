import Training

/// Page 2: the model's layer tree on the left; on the right the chosen layer's output for one test image
/// (a half-block tile per channel, with the layer's min, max, mean and fraction of zeros) and the
/// convolution filters below it. Layout: the tree takes 28 % of the width (26...40 columns); the filters
/// panel takes 35 % of the body (at least 6 rows) when the view carries weights; the input picture is drawn
/// at half its pixels or larger, beside the tiles.
public struct LayersScreen: Sendable {
    public init() {}

    struct Layout {
        var header: Rect, status: Rect, tree: Rect, output: Rect, filters: Rect?
        init(width: Int, height: Int, hasFilters: Bool) {
            let full = Rect(x: 0, y: 0, width: width, height: height)
            let (header, rest) = full.splitTop(2)
            self.header = header
            status = Rect(x: 0, y: height - 1, width: width, height: 1)
            let body = Rect(x: 0, y: rest.y, width: width, height: rest.height - 1)
            let (tree, right) = body.splitLeft(min(40, max(26, width * 28 / 100)))
            self.tree = tree
            if hasFilters {
                let (top, bottom) = right.splitTop(right.height - max(6, right.height * 35 / 100))
                output = top; filters = bottom
            } else {
                output = right; filters = nil
            }
        }
    }

    /// The view of the selected layer and image, if the engine's newest one is it.
    static func currentView(_ model: DashboardModel, _ ui: UIState) -> LayerView? {
        guard let view = model.layerView, let watch = watchTarget(model, ui), view.layer == watch.layer,
              view.testIndex == watch.testIndex else { return nil }
        return view
    }

    static func watchTarget(_ model: DashboardModel, _ ui: UIState) -> LayerWatch? {
        guard let layers = model.run?.layers, !layers.isEmpty else { return nil }
        let layer = layers[min(max(0, ui.layers.layer), layers.count - 1)]
        return LayerWatch(layer: layer.path, testIndex: selectedLayerImage(ui, model)?.testIndex ?? 0)
    }

    public func render(model: DashboardModel, ui: UIState, width: Int, height: Int,
                       capabilities caps: TerminalCapabilities) -> CellGrid {
        var grid = CellGrid(width: width, height: height)
        let view = Self.currentView(model, ui)
        let layout = Layout(width: width, height: height, hasFilters: view?.filters != nil)
        Chrome.renderHeader(into: &grid, area: layout.header, model: model, capabilities: caps)
        Chrome.renderStatus(into: &grid, area: layout.status, model: model, ui: ui, capabilities: caps)
        let layers = model.run?.layers ?? []
        let treeInside = Chrome.panel(&grid, layout.tree, title: "Layers \(layers.isEmpty ? 0 : ui.layers.layer + 1)/\(layers.count)",
                                      focused: true, capabilities: caps)
        renderTree(layers, selected: ui.layers.layer, into: &grid, area: treeInside, capabilities: caps)

        guard !layers.isEmpty else {
            let inside = Chrome.panel(&grid, layout.output, title: "Layer output", focused: false, capabilities: caps)
            let why = model.isHistory
                ? "The layers page needs a live run: a session read from its files has no layer tree."
                : "The layers page needs a live run that describes its layers: this run has no layer tree."
            note(&grid, inside, why, caps)
            return grid
        }
        let layer = layers[min(max(0, ui.layers.layer), layers.count - 1)]
        let image = selectedLayerImage(ui, model)
        let imageText = image.map { "image #\($0.testIndex)" } ?? "image #0"
        let outside = Chrome.panel(&grid, layout.output,
                                   title: "\(layer.path) (\(layer.type)) \(Self.shape(layer.outputShape)) on \(imageText)",
                                   focused: false, capabilities: caps)
        // The input picture beside the tiles, at half its pixels or larger.
        var tilesArea = outside
        var statsTop: Int?
        if let column = Self.pictureColumn(outside: outside, image: image) {
            var y = column.y
            if let image {
                let picture = HalfBlockImage(image)
                let size = picture.cellSize(scale: DashboardLayout.minimumImageScale)
                picture.render(into: &grid, area: Rect(x: column.x, y: y, width: size.width, height: size.height),
                               capabilities: caps, maxScale: DashboardLayout.minimumImageScale)
                let mark = image.isCorrect ? caps.glyphs.right : caps.glyphs.wrong
                grid.text("\(mark)\(model.className(image.predictedClass))", in: Rect(x: column.x, y: y + size.height, width: column.width, height: 1),
                          style: caps.style(fg: image.isCorrect ? .green : .red), glyphs: caps.glyphs)
                y += size.height + 1
            }
            statsTop = y
            tilesArea = outside.inset(left: column.width + 1)
        }
        guard let view else {
            let why = model.isHistory ? "The layers page needs a live run: this session is read from its files."
                : model.isTrainingLive ? "waiting for the engine's view of \(layer.path) on \(imageText)\(caps.glyphs.ellipsis)"
                : "training has \(model.state.rawValue): the layers page needs a live run"
            note(&grid, tilesArea, why, caps)
            if let f = layout.filters { _ = Chrome.panel(&grid, f, title: "Filters", focused: false, capabilities: caps) }
            return grid
        }
        var l = ui.layers
        l.channelPage = min(l.channelPage, max(0, Self.pageCount(view: view, area: tilesArea) - 1))
        if let top = statsTop {
            let column = Rect(x: outside.x, y: top, width: tilesArea.x - outside.x - 1, height: outside.maxY - top)
            renderStats(view, into: &grid, area: column, capabilities: caps)
            renderOutput(view, state: l, model: model, into: &grid, area: tilesArea, statsShown: true, capabilities: caps)
        } else {
            renderOutput(view, state: l, model: model, into: &grid, area: tilesArea, statsShown: false, capabilities: caps)
        }
        if let bank = view.filters, let f = layout.filters {
            renderFilters(bank, output: ui.layers.filterOutput, into: &grid, rect: f, capabilities: caps)
        }
        return grid
    }

    /// Where the input picture goes (half its pixels, beside the tiles), nil when the panel is too small.
    /// The column left of the tiles: the input picture (half its pixels), its caption, the layer's numbers.
    static func pictureColumn(outside: Rect, image: PredictedImage?) -> Rect? {
        let size = image.map { HalfBlockImage($0).cellSize(scale: DashboardLayout.minimumImageScale) } ?? (width: 14, height: 0)
        let column = Rect(x: outside.x, y: outside.y, width: max(size.width, 14), height: outside.height)
        return column.height >= size.height + 1 && outside.width >= column.width + 20 ? column : nil
    }

    static func shape(_ s: [Int]) -> String { s.map(String.init).joined(separator: "x") }

    func note(_ grid: inout CellGrid, _ area: Rect, _ text: String, _ caps: TerminalCapabilities) {
        let lines = Format.wrapped(text, width: max(1, area.width - 2))
        for (k, line) in lines.enumerated() {
            grid.text(line, in: area, row: area.height / 2 - lines.count / 2 + k, align: .center,
                      style: caps.style(fg: .default, [.dim]), glyphs: caps.glyphs)
        }
    }

    func renderTree(_ layers: [LayerInfo], selected: Int, into grid: inout CellGrid, area: Rect, capabilities caps: TerminalCapabilities) {
        guard !area.isEmpty else { return }
        if layers.isEmpty {
            grid.text("no layer tree", in: area, row: 0, style: caps.style(fg: .default, [.dim]), glyphs: caps.glyphs)
            return
        }
        let offset = Table.scrollOffset(selected: selected, rowCount: layers.count, visible: area.height)
        for (k, layer) in layers.dropFirst(offset).prefix(area.height).enumerated() {
            let y = area.y + k
            let isSelected = offset + k == selected
            let name = String(repeating: " ", count: min(6, layer.depth)) + (layer.path.split(separator: ".").last.map(String.init) ?? layer.path)
            let shape = Self.shape(layer.outputShape)
            let left = name + " " + layer.type
            let row = Rect(x: area.x, y: y, width: area.width, height: 1)
            if isSelected { grid.fill(row, style: caps.style(fg: .cyan, [.reverse, .bold])) }
            let style = isSelected ? caps.style(fg: .cyan, [.reverse, .bold]) : .plain
            let showShape = left.count + 1 + shape.count <= area.width
            grid.text(left, in: row, style: style, glyphs: caps.glyphs)
            if showShape {
                grid.text(shape, in: row, align: .right, style: isSelected ? style : caps.style(fg: .default, [.dim]), glyphs: caps.glyphs)
            }
        }
    }

    // MARK: - Output tiles

    /// Scale of the channel tiles: the largest (up to 4 pixels per value) at which every channel fits, else
    /// the largest at which at least 8 do (then the channels page), never below 4 cells of width.
    static func tileLayout(view: LayerView, area: Rect) -> (scale: Double, cell: (width: Int, height: Int), columns: Int, rows: Int)? {
        guard view.shape.count == 3 else { return nil }
        let (c, h, w) = (view.shape[0], view.shape[1], view.shape[2])
        guard c > 0, h > 0, w > 0, h * w > 1 else { return nil }
        let map = ValueMap(width: w, height: h, values: [], palette: .grey, range: 0...1)
        let grid = Rect(x: area.x, y: area.y + 1, width: area.width, height: area.height - 1)
        typealias Choice = (scale: Double, cell: (width: Int, height: Int), columns: Int, rows: Int)
        var atLeastEight: Choice?, most: Choice?
        for s in [4, 3, 2, 1.5, 1, 0.75, 0.5, 0.375, 0.25, 0.125, 0.0625] {
            let size = map.cellSize(scale: s)
            guard size.width >= min(6, w) else { break }
            let columns = (grid.width + 1) / (size.width + 1), rows = grid.height / (size.height + 1)
            guard columns > 0, rows > 0 else { continue }
            let choice: Choice = (s, size, columns, rows)
            if columns * rows >= c { return choice }
            if atLeastEight == nil && columns * rows >= min(c, 8) { atLeastEight = choice }
            most = choice
        }
        return atLeastEight ?? most
    }

    static func pageCount(view: LayerView, area: Rect) -> Int {
        let c = view.shape.first ?? 0
        if let t = tileLayout(view: view, area: area) { return max(1, (c + t.columns * t.rows - 1) / (t.columns * t.rows)) }
        let perPage = max(1, area.width * max(1, area.height - 2))
        return max(1, (c + perPage - 1) / perPage)
    }

    /// The channel order shown: by index, or by mean activation (largest first).
    static func order(_ view: LayerView, byMean: Bool) -> [Int] {
        let c = view.shape.first ?? 0
        guard byMean, c > 0 else { return Array(0..<max(0, c)) }
        let plane = view.values.count / c
        let means = (0..<c).map { k in view.values[(k * plane)..<((k + 1) * plane)].reduce(0, +) / Float(max(1, plane)) }
        return (0..<c).sorted { means[$0] > means[$1] || means[$0] == means[$1] && $0 < $1 }
    }

    /// min, max, mean, zeros and the step the view was taken at, one per line.
    func renderStats(_ view: LayerView, into grid: inout CellGrid, area: Rect, capabilities caps: TerminalCapabilities) {
        let lines = [("min", Format.compact(Double(view.minimum))), ("max", Format.compact(Double(view.maximum))),
                     ("mean", Format.compact(Double(view.mean))), ("zeros", Format.percent(view.zeroFraction)),
                     ("step", String(view.globalStep))]
        for (k, (name, value)) in lines.enumerated() where k < area.height {
            grid.text(name, in: area, row: k, style: caps.style(fg: .default, [.dim]), glyphs: caps.glyphs)
            grid.text(value, in: area, row: k, align: .right, style: Style(attributes: [.bold]), glyphs: caps.glyphs)
        }
    }

    func renderOutput(_ view: LayerView, state l: LayersState, model: DashboardModel, into grid: inout CellGrid, area: Rect,
                      statsShown: Bool, capabilities caps: TerminalCapabilities) {
        guard !area.isEmpty else { return }
        let signed = view.minimum < 0
        let c = view.shape.count == 3 ? view.shape[0] : view.values.count
        let sep = caps.glyphs.isUnicode ? " · " : " - "
        if !statsShown {
            let stats = "min \(Format.compact(Double(view.minimum)))  max \(Format.compact(Double(view.maximum)))  "
                + "mean \(Format.compact(Double(view.mean)))  zeros \(Format.percent(view.zeroFraction))"
            grid.text(stats, in: area, row: 0, style: Style(attributes: [.bold]), glyphs: caps.glyphs)
        }
        guard c > 0, view.values.count >= c else {
            grid.text("no channels", in: area, row: 2, align: .center, style: caps.style(fg: .default, [.dim]), glyphs: caps.glyphs)
            return
        }
        let plane = view.values.count / c
        let palette: ValuePalette = signed ? .diverging : .grey
        let layerRange = view.minimum...max(view.minimum, view.maximum)
        let order = Self.order(view, byMean: l.sortByMean)
        guard let t = Self.tileLayout(view: view, area: area), view.shape.count == 3 else {
            renderVector(view, order: order, palette: palette, model: model, into: &grid, area: area.inset(top: 1), capabilities: caps)
            return
        }
        let (h, w) = (view.shape[1], view.shape[2])
        let perPage = t.columns * t.rows
        let pages = max(1, (c + perPage - 1) / perPage)
        let page = min(l.channelPage, pages - 1)
        let tiles = Rect(x: area.x, y: area.y + 1, width: area.width, height: area.height - 1)
        for (k, channel) in order.dropFirst(page * perPage).prefix(perPage).enumerated() {
            let values = view.values[(channel * plane)..<((channel + 1) * plane)]
            var range = layerRange
            if l.perChannelScale, let lo = values.min(), let hi = values.max() { range = lo...max(lo, hi) }
            let x = tiles.x + (k % t.columns) * (t.cell.width + 1), y = tiles.y + (k / t.columns) * (t.cell.height + 1)
            ValueMap(width: w, height: h, values: values, palette: palette, range: range)
                .render(into: &grid, x: x, y: y, scale: t.scale, clip: tiles, capabilities: caps)
            grid.text("#\(channel)", in: Rect(x: x, y: y + t.cell.height, width: t.cell.width, height: 1),
                      style: caps.style(fg: .default, [.dim]), glyphs: caps.glyphs)
        }
        // Under the stats: what the tiles show.
        let scaleText = l.perChannelScale ? "per channel" : "per layer"
        let sortText = l.sortByMean ? ", by mean" : ""
        let colours = caps.colorDepth == .none ? (signed ? "shade: -max blank, 0 '=', +max '@'" : "shade: 0 blank")
            : signed ? "blue < 0 < red" : "grey: 0 black"
        let legend = "ch \(page * perPage)-\(min(c, (page + 1) * perPage) - 1)/\(c)" + (pages > 1 ? ", page \(page + 1)/\(pages)" : "")
            + sortText + sep + "scaled \(scaleText)" + sep + colours
        let used = ((min(perPage, c - page * perPage) + t.columns - 1) / t.columns) * (t.cell.height + 1)
        if used < tiles.height {
            grid.text(legend, in: tiles, row: tiles.height - 1, style: caps.style(fg: .default, [.dim]), glyphs: caps.glyphs)
        }
    }

    /// A vector output (linear, pooled): one cell per value, in rows, and the largest values by name.
    func renderVector(_ view: LayerView, order: [Int], palette: ValuePalette, model: DashboardModel, into grid: inout CellGrid,
                      area: Rect, capabilities caps: TerminalCapabilities) {
        guard !area.isEmpty else { return }
        let n = view.values.count
        let range = view.minimum...max(view.minimum, view.maximum)
        let top = (0..<n).sorted { view.values[$0] > view.values[$1] }.prefix(5)
        let named = n == model.classCount
        let topText = "top: " + top.map { "\(named ? model.className($0) : "#\($0)") \(Format.compact(Double(view.values[$0])))" }
            .joined(separator: "  ")
        grid.text(topText, in: area, row: 0, glyphs: caps.glyphs)
        let strip = area.inset(top: 2)
        guard !strip.isEmpty else { return }
        let perRow = strip.width
        for (k, i) in order.prefix(perRow * strip.height).enumerated() {
            let map = ValueMap(width: 1, height: 2, values: [view.values[i], view.values[i]], palette: palette, range: range)
            map.render(into: &grid, x: strip.x + k % perRow, y: strip.y + k / perRow, scale: 1, clip: strip, capabilities: caps)
        }
    }

    // MARK: - Filters

    func renderFilters(_ bank: FilterBank, output: Int, into grid: inout CellGrid, rect: Rect, capabilities caps: TerminalCapabilities) {
        guard bank.shape.count == 4 else {
            _ = Chrome.panel(&grid, rect, title: "Filters", focused: false, capabilities: caps); return
        }
        let (o, i, kh, kw) = (bank.shape[0], bank.shape[1], bank.shape[2], bank.shape[3])
        let per = i * kh * kw
        let deep = i != 1 && i != 3
        let chosen = o > 0 ? min(output, o - 1) : 0
        let title = deep
            ? "Kernels of output \(chosen)/\(o) of \(bank.layer) \(Self.shape(bank.shape)) (, .)"
            : "Filters of \(bank.layer) \(Self.shape(bank.shape))\(i == 3 ? ", RGB" : ""), each scaled to itself"
        let area = Chrome.panel(&grid, rect, title: title, focused: false, capabilities: caps)
        guard o > 0, per > 0, bank.weights.count >= o * per, !area.isEmpty else { return }
        let count = deep ? i : o
        // The largest whole scale at which every kernel fits; else scale 1 and as many as fit.
        var scale = 1, columns = 1, rows = 1
        for s in [4, 3, 2, 1] {
            let cw = kw * s, ch = (kh * s + 1) / 2
            let cols = (area.width + 1) / (cw + 1), rws = (area.height + 1) / (ch + 1)
            scale = s; columns = max(1, cols); rows = max(1, rws)
            if cols * rws >= count { break }
        }
        let cw = kw * scale, ch = (kh * scale + 1) / 2
        for k in 0..<min(count, columns * rows) {
            let x = area.x + (k % columns) * (cw + 1), y = area.y + (k / columns) * (ch + 1)
            if i == 3 {
                let w = bank.weights[(k * per)..<((k + 1) * per)]
                let m = max(1e-12, w.map { abs($0) }.max() ?? 0)
                let pixels = w.map { UInt8(max(0, min(255, 127.5 + 127.5 * $0 / m))) }
                HalfBlockImage(channels: 3, height: kh, width: kw, pixels: pixels)
                    .render(into: &grid, area: Rect(x: x, y: y, width: cw, height: ch).intersection(area), capabilities: caps,
                            maxScale: Double(scale))
            } else {
                let filter = deep ? chosen : k
                let all = bank.weights[(filter * per)..<((filter + 1) * per)]
                let m = all.map { abs($0) }.max() ?? 0
                let start = filter * per + (deep ? k * kh * kw : 0)
                ValueMap(width: kw, height: kh, values: bank.weights[start..<(start + kh * kw)], palette: .diverging, range: -m...m)
                    .render(into: &grid, x: x, y: y, scale: Double(scale), clip: area, capabilities: caps)
            }
        }
        if count > columns * rows {
            grid.text("+\(count - columns * rows) more", in: area, row: area.height - 1, align: .right,
                      style: caps.style(fg: .default, [.dim]), glyphs: caps.glyphs)
        }
    }
}
