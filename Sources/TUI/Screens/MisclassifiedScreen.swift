import Foundation
import Training

/// The misclassified browser: one large image with its true class, loss and top-3 probabilities, a strip of
/// the others below, and the filter (by true class, predicted class, or one confusion-matrix cell). It lists
/// the mistakes, most confident first ("top losses"), or the correct predictions the model was least sure
/// of; either by test index instead. With Grad-CAM on (`g`), the large picture carries the map of one layer
/// for the predicted or the true class, and the details say which layer, class and weights.
public struct MisclassifiedScreen: Sendable {
    public init() {}

    public func render(model: DashboardModel, ui: UIState, width: Int, height: Int,
                       capabilities caps: TerminalCapabilities) -> CellGrid {
        var (grid, body) = Chrome.page(model: model, ui: ui, width: width, height: height, capabilities: caps)

        let items = ui.browser.items(in: model)
        let selected = min(max(0, ui.browser.selected), max(0, items.count - 1))
        // The strip holds a row of pictures at half their pixels (never smaller), their captions, the border.
        let picture = items.first.map { HalfBlockImage($0).cellSize(scale: DashboardLayout.minimumImageScale).height } ?? 7
        let stripHeight = max(picture + 3, body.height * 35 / 100)
        let (top, strip) = body.splitTop(body.height - stripHeight)
        let (imageBox, infoBox) = top.splitLeft(max(top.height * 2 + 2, top.width * 45 / 100))
        let mistakes = ui.browser.view == .mistakes
        // By loss, highest first: the most confident mistakes, or the correct images least sure of their class.
        let order = ui.browser.order == .loss ? (mistakes ? ", by loss" : "") : ", by index"
        let title = (mistakes ? "Misclassified" : "Least sure correct")
            + " \(items.isEmpty ? 0 : selected + 1)/\(items.count)\(order)"
        let imageArea = Chrome.panel(&grid, imageBox, title: title, focused: true, capabilities: caps)
        let infoArea = Chrome.panel(&grid, infoBox, title: "Prediction", focused: false, capabilities: caps)
        let stripArea = Chrome.panel(&grid, strip, title: "Others (←/→ to move)".asciiArrows(caps), focused: false,
                                     capabilities: caps)

        grid.text("filter: " + ui.browser.filter.describe(model), in: Rect(x: infoArea.x + 1, y: infoArea.y, width: infoArea.width - 1, height: 1),
                  style: caps.style(fg: .yellow), glyphs: caps.glyphs)
        guard !items.isEmpty else {
            let why = model.lastEvaluation == nil ? "no evaluation yet"
                : mistakes ? "no misclassified images match this filter" : "no correct images match this filter"
            grid.text(why, in: imageArea, row: imageArea.height / 2, align: .center, style: caps.style(fg: .default, [.dim]),
                      glyphs: caps.glyphs)
            return grid
        }
        let image = items[selected]
        let camKey = ui.browser.camKey(in: model)
        let cam = camKey.flatMap { model.explanations.maps[$0] }
        HalfBlockImage(image, heat: cam?.map).render(into: &grid, area: imageArea, capabilities: caps, maxScale: 8)

        // Prediction details: true class, predicted, top-3 with bars.
        var y = infoArea.y + (infoArea.height >= 11 ? 2 : 1)
        func line(_ text: String, _ style: Style = .plain) {
            guard y < infoArea.maxY else { return }
            grid.text(text, in: Rect(x: infoArea.x + 1, y: y, width: infoArea.width - 1, height: 1), style: style,
                      glyphs: caps.glyphs)
            y += 1
        }
        line("test image #\(image.testIndex)", caps.style(fg: .default, [.dim]))
        line("true:      \(model.className(image.trueClass))", caps.style(fg: .green, [.bold]))
        line("predicted: \(model.className(image.predictedClass)) \(image.isCorrect ? caps.glyphs.right : caps.glyphs.wrong)",
             caps.style(fg: image.isCorrect ? .green : .red, [.bold]))
        line(String(format: "loss %.3f, p(true) %.1f%%", image.loss, image.trueProbability * 100), Style(attributes: [.bold]))
        // Grad-CAM's caption comes before the top 3, so a small window still says what the map is.
        if ui.browser.gradCAM {
            if infoArea.height >= 11 { y += 1 }
            for (text, style) in Self.camCaption(model: model, ui: ui, key: camKey, shown: cam != nil, caps: caps) {
                line(text, style)
            }
        }
        if infoArea.height >= 11 { y += 1 }
        line("top 3:", Style(attributes: [.bold]))
        let bars = image.topK.prefix(3).map {
            BarChart.Bar(label: ($0.classIndex == image.trueClass ? "* " : "  ") + model.className($0.classIndex),
                         value: $0.probability)
        }
        if y < infoArea.maxY {
            BarChart(bars: bars, maxLabelWidth: 16).render(
                into: &grid, area: Rect(x: infoArea.x + 1, y: y, width: infoArea.width - 2, height: min(3, infoArea.maxY - y)),
                capabilities: caps)
            y += bars.count + 1
        }
        if y < infoArea.maxY { line("* = true class", caps.style(fg: .default, [.dim])) }

        let tiles = items.map {
            ImageGrid.Tile(image: HalfBlockImage($0), caption: model.className($0.predictedClass), isCorrect: $0.isCorrect)
        }
        ImageGrid(tiles: tiles, selected: selected, maxScale: 0.5, minimumShown: 6, minScale: DashboardLayout.minimumImageScale)
            .render(into: &grid, area: stripArea, capabilities: caps)
        return grid
    }
}

extension MisclassifiedScreen {
    /// Four lines under the prediction: which layer (of how many), which class, whose weights, and how the map
    /// is drawn; or why there is no map yet.
    static func camCaption(model: DashboardModel, ui: UIState, key: CAMKey?, shown: Bool,
                           caps: TerminalCapabilities) -> [(String, Style)] {
        let dim = caps.style(fg: .default, [.dim])
        let title = Style(attributes: [.bold])
        let e = model.explanations
        guard let setup = e.setup, let key else {
            let why = e.failure.map { "Grad-CAM: \($0)" }
                ?? (e.evaluating ? "Grad-CAM: re-running the test set…" : "Grad-CAM: waiting for the weights…")
            return [(why, dim)]
        }
        let layer = setup.layers[key.layer]
        let whose = ui.browser.camClass == .predicted ? "predicted" : "true"
        // An all-zero map is an answer too: nothing at this layer raised the class's score.
        let flat = model.explanations.maps[key].map { $0.map.allSatisfy { $0 == 0 } } ?? false
        let status = flat ? "0 everywhere: nothing here raises this class"
            : shown ? (caps.glyphs.isUnicode && caps.colorDepth != .none ? "red = strongest, blue = none"
                       : "shaded: @ strongest, blank none")
            : e.failure.map { "failed: \($0)" } ?? "computing…"
        return [
            ("Grad-CAM \(key.layer + 1)/\(setup.layers.count): \(layer.label)", title),
            ("class: \(whose), \(model.className(key.classIndex)) (v: \(whose == "true" ? "predicted" : "true"))", .plain),
            ("weights: \(setup.weights)", dim),
            (status, dim),
        ]
    }
}

extension String {
    func asciiArrows(_ caps: TerminalCapabilities) -> String {
        caps.glyphs.isUnicode ? self : String(map { $0 == "←" ? "<" : $0 == "→" ? ">" : $0 })
    }
}
