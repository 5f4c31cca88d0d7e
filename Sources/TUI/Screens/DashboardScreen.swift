import Training

/// Where each dashboard panel goes for a window size: header (2 rows), body, status line (1 row). The body
/// splits into charts on the left (loss 40 %, accuracy 30 %, learning rate the rest) and a stack on the right
/// (per-class bars, confusion matrix, images). When the right stack does not fit at its minimum heights, the
/// focused panel is kept, then images, then per-class bars, then the matrix.
public struct DashboardLayout: Equatable, Sendable {
    public var header: Rect
    public var status: Rect
    public var panels: [DashboardPanel: Rect]

    public init(width: Int, height: Int, classCount: Int, focus: DashboardPanel) {
        let full = Rect(x: 0, y: 0, width: width, height: height)
        let (header, rest) = full.splitTop(2)
        let body = Rect(x: 0, y: rest.y, width: width, height: rest.height - 1)
        self.header = header
        status = Rect(x: 0, y: height - 1, width: width, height: 1)

        let shownClasses = min(max(classCount, 1), 10)
        let rightWidth = max(38, width * 45 / 100)
        let (left, right) = body.splitLeft(width - rightWidth)
        var panels: [DashboardPanel: Rect] = [:]
        let lossHeight = left.height * 40 / 100, accuracyHeight = left.height * 30 / 100
        let (loss, afterLoss) = left.splitTop(lossHeight)
        let (accuracy, lr) = afterLoss.splitTop(accuracyHeight)
        panels[.loss] = loss; panels[.accuracy] = accuracy; panels[.learningRate] = lr

        // Right stack: minimum and preferred heights (borders included).
        let wanted: [DashboardPanel: (min: Int, preferred: Int)] = [
            .perClass: (5, max(classCount, 1) + 2),
            .confusion: (shownClasses + 3, max(classCount, 1) + 3),
            .images: (7, 2 + 3 * 15),
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

/// The main screen: header, three charts, per-class bars, confusion matrix, preview images, status line.
public struct DashboardScreen: Sendable {
    public init() {}

    public func render(model: DashboardModel, ui: UIState, width: Int, height: Int,
                       capabilities caps: TerminalCapabilities) -> CellGrid {
        var grid = CellGrid(width: width, height: height)
        let layout = DashboardLayout(width: width, height: height, classCount: model.classCount, focus: ui.focus)
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
            return "Learning rate" + (model.manualLearningRateChanges.isEmpty ? "" : " (marks: set by hand)")
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

    func renderPanel(_ panel: DashboardPanel, into grid: inout CellGrid, area: Rect, model: DashboardModel, ui: UIState,
                     capabilities caps: TerminalCapabilities) {
        switch panel {
        case .loss:
            LineChart(series: [ChartSeries(name: "train", points: model.trainLoss.points, color: .cyan),
                               ChartSeries(name: "test", points: model.testLoss.points, color: .magenta)])
                .render(into: &grid, area: area, capabilities: caps)
        case .accuracy:
            LineChart(series: [ChartSeries(name: "train", points: model.trainAccuracy.points, color: .cyan),
                               ChartSeries(name: "test", points: model.testAccuracy.points, color: .magenta)],
                      yFormatter: { Format.percent(Float($0), decimals: 0) })
                .render(into: &grid, area: area, capabilities: caps)
        case .learningRate:
            LineChart(series: [ChartSeries(name: "lr", points: model.learningRate.points, color: .yellow)],
                      marks: model.manualLearningRateChanges, fixedYRange: 0...0)
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
            ImageGrid(tiles: tiles).render(into: &grid, area: area, capabilities: caps)
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
