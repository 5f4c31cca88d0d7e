import Training

/// Where each dashboard panel goes for a window size: header (2 rows), body, status line (1 row). The body
/// splits into charts on the left and a stack on the right (per-class bars, confusion matrix, images).
/// Left: while the learning rate is constant it is a strip of `learningRateStrip` rows and loss and accuracy
/// share the rest (55 / 45 %); once it changes, loss 40 %, accuracy 30 %, learning rate the rest.
/// Right: the images panel is never smaller than one picture at half its pixels plus its caption (a 28x28
/// image: 14x7 cells), so pictures stay legible and fewer of them show. When the stack does not fit at its
/// minimum heights, the focused panel is kept, then images, then per-class bars, then the matrix.
public struct DashboardLayout: Equatable, Sendable {
    public var header: Rect
    public var status: Rect
    public var panels: [DashboardPanel: Rect]

    /// Rows of the learning-rate panel while the rate is constant (borders included).
    public static let learningRateStrip = 4
    /// The smallest scale a test picture is drawn at: half its pixels.
    public static let minimumImageScale = 0.5

    public init(width: Int, height: Int, classCount: Int, focus: DashboardPanel, learningRateChanging: Bool = true,
                imageSize: (width: Int, height: Int) = (28, 28)) {
        let full = Rect(x: 0, y: 0, width: width, height: height)
        let (header, rest) = full.splitTop(2)
        let body = Rect(x: 0, y: rest.y, width: width, height: rest.height - 1)
        self.header = header
        status = Rect(x: 0, y: height - 1, width: width, height: 1)

        let shownClasses = min(max(classCount, 1), 10)
        let rightWidth = max(38, width * 45 / 100)
        let (left, right) = body.splitLeft(width - rightWidth)
        var panels: [DashboardPanel: Rect] = [:]
        let strip = Self.learningRateStrip
        let lossHeight = learningRateChanging ? left.height * 40 / 100 : (left.height - strip) * 55 / 100
        let accuracyHeight = learningRateChanging ? left.height * 30 / 100 : left.height - strip - lossHeight
        let (loss, afterLoss) = left.splitTop(lossHeight)
        let (accuracy, lr) = afterLoss.splitTop(accuracyHeight)
        panels[.loss] = loss; panels[.accuracy] = accuracy; panels[.learningRate] = lr

        // Right stack: minimum and preferred heights (borders included).
        let picture = HalfBlockImage(channels: 1, height: imageSize.height, width: imageSize.width, pixels: [])
            .cellSize(scale: Self.minimumImageScale)
        let wanted: [DashboardPanel: (min: Int, preferred: Int)] = [
            .perClass: (5, max(classCount, 1) + 2),
            .confusion: (shownClasses + 3, max(classCount, 1) + 3),
            .images: (picture.height + 3, 2 + 3 * 15),   // a picture, its caption, the border
        ]
        var priority: [DashboardPanel] = [.images, .perClass, .confusion]
        if let k = priority.firstIndex(of: focus) { priority.remove(at: k); priority.insert(focus, at: 0) }
        var chosen: [DashboardPanel] = []
        var used = 0
        for p in priority {
            let need = wanted[p]?.min ?? 0
            if used + need <= right.height { chosen.append(p); used += need }
        }
        let order = [DashboardPanel.perClass, .confusion, .images].filter(chosen.contains)
        var heights = order.map { wanted[$0]?.min ?? 0 }
        var spare = right.height - used
        for (i, p) in order.enumerated() where p != .images {   // grow to preferred, images take what is left
            let grow = min(spare, (wanted[p]?.preferred ?? 0) - heights[i])
            if grow > 0 { heights[i] += grow; spare -= grow }
        }
        if let i = order.firstIndex(of: .images) { heights[i] += spare } else if !heights.isEmpty { heights[heights.count - 1] += spare }
        var y = right.y
        for (p, h) in zip(order, heights) {
            panels[p] = Rect(x: right.x, y: y, width: right.width, height: h)
            y += h
        }
        self.panels = panels
    }
}

extension DashboardLayout {
    /// The layout for this model: the LR panel is a strip while the rate is constant, and the images panel
    /// fits one picture of the preview's size at half its pixels.
    public init(model: DashboardModel, width: Int, height: Int, focus: DashboardPanel) {
        let first = model.preview.first
        self.init(width: width, height: height, classCount: model.classCount, focus: focus,
                  learningRateChanging: model.learningRateIsChanging,
                  imageSize: first.map { ($0.width, $0.height) } ?? (28, 28))
    }
}

extension DashboardModel {
    /// True once the learning rate has taken more than one value (a schedule, a change by hand).
    public var learningRateIsChanging: Bool {
        guard let first = learningRate.points.first?.y else { return false }
        return learningRate.points.contains { $0.y != first }
    }
}

/// The main screen: header, three charts, per-class bars, confusion matrix, preview images, status line.
public struct DashboardScreen: Sendable {
    public init() {}

    public func render(model: DashboardModel, ui: UIState, width: Int, height: Int,
                       capabilities caps: TerminalCapabilities) -> CellGrid {
        var grid = CellGrid(width: width, height: height)
        let layout = DashboardLayout(model: model, width: width, height: height, focus: ui.focus)
        Chrome.renderHeader(into: &grid, area: layout.header, model: model, capabilities: caps)
        for (panel, rect) in layout.panels.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            let inside = Chrome.panel(&grid, rect, title: title(panel, model: model, ui: ui), focused: ui.focus == panel,
                                      capabilities: caps)
            renderPanel(panel, into: &grid, area: inside, model: model, ui: ui, capabilities: caps)
        }
        Chrome.renderStatus(into: &grid, area: layout.status, model: model, ui: ui, capabilities: caps)
        return grid
    }

    func title(_ panel: DashboardPanel, model: DashboardModel, ui: UIState) -> String {
        switch panel {
        case .loss: return "Loss: \(trainSeriesName(model)), test"
        case .accuracy: return "Accuracy: \(trainSeriesName(model)), test"
        case .learningRate:
            let kind = model.learningRateIsChanging ? "" : ", constant"
            return "Learning rate" + kind + (model.manualChangeMarks.isEmpty ? "" : " (marks: set by hand)")
        case .confusion where ui.focus == .confusion:
            let r = ui.confusionCursor.row, c = ui.confusionCursor.column
            return "Confusion: \(model.className(r)) as \(model.className(c)), Enter: browse"
        default: return panel.title
        }
    }

    /// What a point of the train curves is: the mean over the steps of one step record.
    func trainSeriesName(_ model: DashboardModel) -> String {
        guard let steps = model.run?.stepsPerRecord else { return "train" }
        return steps == 1 ? "train (each step)" : "train (mean of \(steps) steps)"
    }

    /// The charts' x axis: epochs (fractional) when the run says how many steps an epoch has, else steps.
    struct XAxis {
        var perUnit: Double
        var unit: String
        init(_ model: DashboardModel) {
            if let steps = model.run?.stepsPerEpoch, steps > 0 { perUnit = Double(steps); unit = "epoch" } else { perUnit = 1; unit = "step" }
        }
        func points(_ p: [ChartPoint]) -> [ChartPoint] { p.map { ChartPoint(x: $0.x / perUnit, y: $0.y) } }
        /// Whole epochs between the first and the last point.
        func ticks(_ series: [ChartPoint]...) -> [Double] {
            let xs = series.flatMap { $0.map(\.x) }
            guard unit == "epoch", let lo = xs.min(), let hi = xs.max(), hi - lo < 200 else { return [] }
            return stride(from: lo.rounded(.up), through: hi.rounded(.down), by: 1).map { $0 }
        }
    }

    func renderPanel(_ panel: DashboardPanel, into grid: inout CellGrid, area: Rect, model: DashboardModel, ui: UIState,
                     capabilities caps: TerminalCapabilities) {
        let axis = XAxis(model)
        switch panel {
        case .loss:
            let train = axis.points(model.trainLoss.points), test = axis.points(model.testLoss.points)
            LineChart(series: [ChartSeries(name: "train", points: train, color: .cyan),
                               ChartSeries(name: "test", points: test, color: .magenta, markPoints: true)],
                      xUnit: axis.unit, xTicks: axis.ticks(train, test))
                .render(into: &grid, area: area, capabilities: caps)
        case .accuracy:
            let train = axis.points(model.trainAccuracy.points), test = axis.points(model.testAccuracy.points)
            LineChart(series: [ChartSeries(name: "train", points: train, color: .cyan),
                               ChartSeries(name: "test", points: test, color: .magenta, markPoints: true)],
                      yFormatter: { Format.percent(Float($0), decimals: 0) }, xUnit: axis.unit, xTicks: axis.ticks(train, test))
                .render(into: &grid, area: area, capabilities: caps)
        case .learningRate:
            let lr = axis.points(model.learningRate.points)
            LineChart(series: [ChartSeries(name: "lr", points: lr, color: .yellow)],
                      marks: model.manualChangeMarks.map { $0 / axis.perUnit }, fixedYRange: 0...0,
                      xUnit: axis.unit, xTicks: axis.ticks(lr))
                .render(into: &grid, area: area, capabilities: caps)
        case .perClass:
            let acc = model.perClassAccuracy
            guard !acc.isEmpty else { return waiting(&grid, area, evaluationPending(model), caps) }
            // Scroll so the class cursor stays visible when there are more classes than rows.
            let offset = Table.scrollOffset(selected: ui.focus == .perClass ? ui.confusionCursor.row : nil,
                                            rowCount: acc.count, visible: area.height)
            let bars = acc.enumerated().dropFirst(offset).map { BarChart.Bar(label: model.className($0.offset), value: $0.element) }
            BarChart(bars: bars).render(into: &grid, area: area, capabilities: caps)
            if ui.focus == .perClass {
                let row = ui.confusionCursor.row - offset
                grid.setStyle(Style(attributes: [.reverse]), in: Rect(x: area.x, y: area.y + row, width: min(area.width, 12), height: 1))
                // setStyle drops colour from the label only, which is plain text anyway.
            }
        case .confusion:
            guard !model.confusion.isEmpty else { return waiting(&grid, area, evaluationPending(model), caps) }
            ConfusionMatrixView(counts: model.confusion, labels: model.classNames,
                                selected: ui.focus == .confusion ? ui.confusionCursor : nil)
                .render(into: &grid, area: area, capabilities: caps)
        case .images:
            let tiles = model.preview.map {
                ImageGrid.Tile(image: HalfBlockImage($0), caption: model.className($0.predictedClass), isCorrect: $0.isCorrect)
            }
            guard !tiles.isEmpty else { return waiting(&grid, area, evaluationPending(model), caps) }
            ImageGrid(tiles: tiles, minScale: DashboardLayout.minimumImageScale).render(into: &grid, area: area, capabilities: caps)
        }
    }

    /// Why an evaluation panel is empty: none yet, or (a session's history) the metrics do not keep it.
    func evaluationPending(_ model: DashboardModel) -> String {
        model.isHistory ? "not kept in the metrics (cnntui eval ID recomputes it)" : "after the first evaluation"
    }

    func waiting(_ grid: inout CellGrid, _ area: Rect, _ text: String, _ caps: TerminalCapabilities) {
        grid.text(text, in: area, row: area.height / 2, align: .center, style: caps.style(fg: .default, [.dim]),
                  glyphs: caps.glyphs)
    }
}
