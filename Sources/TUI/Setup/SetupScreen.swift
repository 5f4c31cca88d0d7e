import Data
import Foundation
import Models
import Training

/// Draws the pickers' state: a header with the steps, one panel for the current step, and the status line.
struct SetupScreen {
    let state: SetupState
    let width: Int, height: Int
    let caps: TerminalCapabilities
    /// The model the estimator is building or timing right now, if any.
    let busyModel: String?

    func render() -> CellGrid {
        var grid = CellGrid(width: width, height: height)
        renderHeader(&grid)
        let body = Rect(x: 0, y: 2, width: width, height: height - 3)
        switch state.step {
        case .dataset: renderDatasets(&grid, body)
        case .model:
            if let problem = state.specProblem { renderSpecProblem(&grid, body, problem) } else { renderModels(&grid, body) }
        case .recipe:
            if let finder = state.finder { renderFinder(&grid, body, finder: finder) } else { renderRecipe(&grid, body) }
        case .summary: renderSummary(&grid, body)
        }
        renderStatus(&grid, Rect(x: 0, y: height - 1, width: width, height: 1))
        return grid
    }

    func renderHeader(_ grid: inout CellGrid) {
        grid.fill(Rect(x: 0, y: 0, width: width, height: 1), style: caps.style(fg: .default, [.reverse]))
        var x = grid.text(" cnntui  new run   ", x: 0, y: 0, style: caps.style(fg: .default, [.reverse, .bold]))
        let arrow = caps.glyphs.isUnicode ? " › " : " > "
        for s in SetupStep.allCases {
            let current = s == state.step
            let style = current ? caps.style(fg: .black, bg: .cyan, [.bold]) : caps.style(fg: .default, [.reverse])
            // Without colour the current step is the one in brackets.
            let label = caps.colorDepth == .none && current ? "[\(s.rawValue + 1) \(s.title)]" : " \(s.rawValue + 1) \(s.title) "
            x = grid.text(label, x: x, y: 0, style: style)
            if s != .summary { x = grid.text(arrow, x: x, y: 0, style: caps.style(fg: .default, [.reverse])) }
        }
        var chosen: [String] = []
        if state.step.rawValue > 0, let d = state.dataset {
            chosen.append("\(d.name) \(d.shape.map(String.init).joined(separator: "x")), \(d.classes.count) classes")
        }
        if state.step.rawValue > 1, let m = state.modelName { chosen.append(m) }
        if state.step.rawValue > 2, let c = state.config {
            chosen.append("\(c.epochs) epochs, batch \(c.batchSize), \(c.optimizer.rawValue) lr \(Format.learningRate(c.learningRate))")
        }
        grid.text(" " + chosen.joined(separator: "  ·  ".asciiDot(caps)), in: Rect(x: 0, y: 1, width: width, height: 1),
                  style: caps.style(fg: .cyan), glyphs: caps.glyphs)
    }

    func renderStatus(_ grid: inout CellGrid, _ row: Rect) {
        if let input = state.editing, let field = state.recipeField(at: state.recipeCursor) {
            TextInput(prompt: " \(field.label): ", state: input).render(into: &grid, area: row, capabilities: caps)
            if let m = state.message, state.messageIsError {
                grid.text(m, in: row, align: .right, style: caps.style(fg: .red, [.bold]), glyphs: caps.glyphs)
            }
            return
        }
        if let m = state.message {
            grid.text(" " + m, in: row, style: caps.style(fg: state.messageIsError ? .red : .green, [.bold]), glyphs: caps.glyphs)
            return
        }
        let hints: String
        switch state.step {
        case .dataset: hints = " up/down move  Enter choose  r runs so far  ? help  q quit"
        case .model where state.specProblem != nil: hints = " e edit it again  Esc back to the list  q quit"
        case .model: hints = " up/down move  Enter choose  e edit as a spec file  Esc back  ? help  q quit"
        case .recipe where state.finder != nil: hints = " left/right pick a suggestion  Enter use it  Esc cancel  ? help  q quit"
        case .recipe: hints = " up/down move  Enter edit  left/right optimizer  tab summary  Esc back  q quit"
        case .summary: hints = " up/down PgUp/PgDn scroll  Enter START TRAINING  Esc back  q quit"
        }
        grid.text(hints, in: row, style: caps.style(fg: .default, [.dim]), glyphs: caps.glyphs)
    }

    func panel(_ grid: inout CellGrid, _ rect: Rect, _ title: String) -> Rect {
        Chrome.panel(&grid, rect, title: title, focused: true, capabilities: caps)
    }

    /// A row with the selection shown by reverse video and, without colour too, by a marker in column 0.
    func row(_ grid: inout CellGrid, _ text: String, area: Rect, y: Int, selected: Bool, style: Style = .plain) {
        let marker: Character = selected ? (caps.glyphs.isUnicode ? "▶" : ">") : " "
        let rowStyle = selected ? Style(foreground: style.foreground, attributes: style.attributes.union(.reverse)) : style
        if selected { grid.fill(Rect(x: area.x, y: y, width: area.width, height: 1), style: rowStyle) }
        grid.put(marker, x: area.x, y: y, style: rowStyle, clip: area)
        // Cut with an ellipsis, not mid-word at the border: a clipped "n/a: ..." read as a stray letter.
        grid.text(text.truncated(to: area.width - 1, ellipsis: caps.glyphs.ellipsis), x: area.x + 1, y: y, style: rowStyle,
                  clip: area)
    }

    // MARK: - Dataset

    func renderDatasets(_ grid: inout CellGrid, _ body: Rect) {
        let inside = panel(&grid, body, "Choose a dataset (found ones first)")
        let columns = [("Dataset", 16), ("Found", 8), ("Train", 8), ("Test", 8), ("Shape", 9)]
        func line(_ cells: [String]) -> String {
            zip(columns, cells).map { $0.1.padded(to: $0.0.1) }.joined(separator: " ") + " " + (cells.last ?? "")
        }
        grid.text(" " + line(columns.map(\.0) + ["Where / how to get it"]), x: inside.x, y: inside.y,
                  style: Style(attributes: [.bold, .underline]), clip: inside)
        let visible = max(0, inside.height - 6)
        let offset = Table.scrollOffset(selected: state.datasetCursor, rowCount: state.datasets.count, visible: visible)
        for (k, d) in state.datasets.enumerated().dropFirst(offset).prefix(visible) {
            let y = inside.y + 1 + k - offset
            let shape = d.shape.map(String.init).joined(separator: "x")
            let found = d.found ? "yes" : "missing"
            let place = d.path ?? "get it: " + (d.howToGet ?? "see cnntui datasets")
            let text = line([d.name, found, d.train.map(String.init) ?? "-", d.test.map(String.init) ?? "-", shape, place])
            row(&grid, text, area: inside, y: y, selected: k == state.datasetCursor,
                style: d.found ? .plain : caps.style(fg: .default, [.dim]))
        }
        guard let d = state.dataset else {
            grid.text("no datasets known", in: inside, row: 2, align: .center, glyphs: caps.glyphs)
            return
        }
        let detail = Rect(x: inside.x + 1, y: inside.maxY - 4, width: inside.width - 2, height: 4)
        grid.text("classes: " + d.classes.joined(separator: ", "), in: detail, row: 0, glyphs: caps.glyphs)
        if d.found {
            grid.text("found in " + (d.path ?? "?"), in: detail, row: 1, style: caps.style(fg: .green), glyphs: caps.glyphs)
            for (k, text) in Self.perClassLines(d).enumerated() {
                grid.text(text, in: detail, row: 2 + k, style: caps.style(fg: .cyan), glyphs: caps.glyphs)
            }
        } else {
            let how = "missing. " + (d.howToGet ?? "`cnntui download \(d.name)` fetches it where the network allows")
            for (k, text) in Format.wrapped(how, width: detail.width).prefix(detail.height - 1).enumerated() {
                grid.text(text, in: detail, row: 1 + k, style: caps.style(fg: .yellow, [.bold]), glyphs: caps.glyphs)
            }
        }
    }

    // MARK: - Model

    func renderModels(_ grid: inout CellGrid, _ body: Rect) {
        let shape = state.dataset.map { "\($0.shape.map(String.init).joined(separator: "x")), \($0.classes.count) classes" } ?? ""
        let inside = panel(&grid, body, "Choose a model and variant (counted at \(shape))")
        let columns: [(String, Int, Alignment)] = [("Model", 24, .left), ("Family", 14, .left), ("Params", 10, .right),
                                                   ("Mult-adds", 13, .right), ("s/epoch", 9, .right)]
        func line(_ cells: [String]) -> String {
            zip(columns, cells).map { $0.1.padded(to: $0.0.1, align: $0.0.2) }.joined(separator: " ")
                + (cells.count > columns.count ? "  " + cells[columns.count] : "")
        }
        grid.text(" " + line(columns.map(\.0)), x: inside.x, y: inside.y, style: Style(attributes: [.bold, .underline]), clip: inside)
        let legendHeight = 3
        let visible = max(0, inside.height - 1 - legendHeight)
        let offset = Table.scrollOffset(selected: state.modelCursor, rowCount: state.models.count, visible: visible)
        for (k, model) in state.models.enumerated().dropFirst(offset).prefix(visible) {
            let y = inside.y + 1 + k - offset
            let e = state.estimate(model)
            var cells = [model, ModelZoo.family(model)]
            if let error = e?.error {
                cells += ["-", "-", "-", "n/a: " + Self.shortReason(error)]
            } else {
                let pending = caps.glyphs.isUnicode ? "…" : "..."
                cells.append(e?.parameters.map(grouped) ?? pending)
                cells.append(e?.macs.map(grouped) ?? pending)
                let steps = state.stepsPerEpoch(batchSize: e?.batchSize ?? state.batchSize(for: model), model: model)
                if let seconds = steps.flatMap({ e?.secondsPerEpoch(steps: $0) }) {
                    cells.append(Format.duration(seconds))
                } else {
                    cells.append(busyModel == model && k == state.modelCursor ? "timing" + pending : k == state.modelCursor ? "queued" : "-")
                }
            }
            row(&grid, line(cells), area: inside, y: y, selected: k == state.modelCursor,
                style: e?.error != nil ? caps.style(fg: .default, [.dim]) : .plain)
        }
        let legend = Rect(x: inside.x + 1, y: inside.maxY - legendHeight, width: inside.width - 2, height: legendHeight)
        let batch = state.modelName.map { state.batchSize(for: $0) } ?? 0
        grid.text("s/epoch measured on this machine: 2 training steps of the highlighted model,",
                  in: legend, row: 1, style: caps.style(fg: .default, [.dim]), glyphs: caps.glyphs)
        grid.text("batch \(batch) (the recipe's), times batches per epoch; evaluation not included.",
                  in: legend, row: 2, style: caps.style(fg: .default, [.dim]), glyphs: caps.glyphs)
        if let model = state.modelName, let error = state.estimate(model)?.error {
            grid.text("cannot take these images: " + error, in: legend, row: 0, style: caps.style(fg: .red), glyphs: caps.glyphs)
        } else if let model = state.modelName, state.estimate(model) != nil {
            let notes = ModelZoo.notes(model, inputShape: state.dataset?.shape ?? [])
            if let first = notes.first {
                grid.text("note: " + first, in: legend, row: 0, style: caps.style(fg: .yellow), glyphs: caps.glyphs)
            }
        }
    }

    /// A spec file that does not build after the editor: the error, then the file around the line it names,
    /// that line marked (by a marker and bold, so it shows without colour too).
    func renderSpecProblem(_ grid: inout CellGrid, _ body: Rect, _ problem: SpecProblem) {
        let inside = panel(&grid, body, "\(problem.file) does not build")
        var y = inside.y
        for text in Format.wrapped(problem.message, width: inside.width - 2) where y < inside.maxY - 2 {
            grid.text(" " + text, x: inside.x, y: y, style: caps.style(fg: .red, [.bold]), clip: inside)
            y += 1
        }
        y += 1
        let digits = String(problem.excerpt.last?.number ?? 0).count
        let bar = caps.glyphs.isUnicode ? "│" : "|"
        for source in problem.excerpt where y < inside.maxY - 2 {
            let isTheLine = source.number == problem.line
            let marker = isTheLine ? (caps.glyphs.isUnicode ? "▶" : ">") : " "
            let line = source.text.replacingOccurrences(of: "\t", with: "^I")   // the "a tab" error's tab, made visible
            let text = "\(marker)\(String(source.number).padded(to: digits, align: .right)) \(bar) \(line)"
            grid.text(text, x: inside.x, y: y, style: isTheLine ? caps.style(fg: .yellow, [.bold]) : .plain, clip: inside)
            y += 1
        }
        grid.text(" e edits it again; Esc goes back to the list (the file stays as you left it).",
                  in: inside, row: inside.height - 1, style: caps.style(fg: .default, [.dim]), glyphs: caps.glyphs)
    }

    /// An image folder's pictures per class (so an imbalance shows), and where its test pictures come from.
    static func perClassLines(_ d: DatasetListing) -> [String] {
        guard let train = d.trainPerClass, !train.isEmpty else { return [] }
        let counts = zip(d.classes, train).map { "\($0) \($1)" }.joined(separator: ", ")
        var first = "train pictures per class: " + counts
        if let most = train.max(), let least = train.min(), least > 0, most > least {
            first += String(format: " (largest/smallest %.1fx)", Double(most) / Double(least))
        }
        let second: String
        if let held = d.heldOutTest {
            second = "no test/ folder: \(Int((held.fraction * 100).rounded())) % of train/ held out for testing, seed \(held.seed)"
        } else {
            second = "test pictures per class: " + zip(d.classes, d.testPerClass ?? []).map { "\($0) \($1)" }.joined(separator: ", ")
        }
        return [first, second]
    }

    static func shortReason(_ error: String) -> String {
        if let r = error.range(of: ": ") { return String(error[r.upperBound...]) }
        return error
    }

    // MARK: - Recipe

    func renderRecipe(_ grid: inout CellGrid, _ body: Rect) {
        guard let c = state.config else { return }
        let family = state.modelName.map(ModelZoo.family) ?? ""
        let inside = panel(&grid, body, "Recipe: pre-filled from the \(family) seed recipe, editable")
        let labelWidth = 16
        for (index, field) in state.recipeFields.enumerated() {
            let y = inside.y + 1 + index
            let changed = field.isSet(in: state.overrides) ? " *" : ""
            let selected = state.recipeCursor == index
            var value = field.value(c)
            if field == .imageSize, c.imageSize == nil, let side = state.folderReport?.side { value += " (\(side))" }
            if choices(field) != nil { value = (caps.glyphs.isUnicode ? "◀ " : "< ") + value + (caps.glyphs.isUnicode ? " ▶" : " >") }
            row(&grid, " " + field.label.padded(to: labelWidth) + value + changed, area: inside, y: y, selected: selected)
            let hints: [RecipeField: String] = [
                .learningRate: "f: find one with the LR finder",
                .imageSize: "auto: the pictures' own side if they share one up to 64, else 32",
                .resize: "crop: shorter side, then the centre",
            ]
            if let hint = hints[field], state.editing == nil || !selected {
                grid.text("   " + hint, x: inside.x + 2 + labelWidth + value.count + changed.count, y: y,
                          style: caps.style(fg: .default, [.dim]), clip: inside)
            }
            if selected, state.editing != nil {
                grid.text(" (editing below)", x: inside.x + 2 + labelWidth + value.count + changed.count, y: y,
                          style: caps.style(fg: .yellow), clip: inside)
            }
        }
        let continueY = inside.y + 2 + state.recipeFields.count
        row(&grid, " [ Continue: layer summary ]", area: inside, y: continueY,
            selected: state.recipeCursor == state.recipeFields.count, style: Style(attributes: [.bold]))

        let fixed: [(String, String)] = [
            ("momentum", Format.compact(Double(c.momentum))), ("weight decay", Format.compact(Double(c.weightDecay))),
            ("label smoothing", Format.compact(Double(c.labelSmoothing))),
            ("augmentation", Self.augmentationText(c, imageFolder: state.dataset?.trainPerClass != nil)),
            ("held out", c.validationFraction > 0 ? Format.percent(Float(c.validationFraction), decimals: 0) : "none"),
            ("drop last batch", c.dropLast ? "yes" : "no"), ("engine threads", String(c.threads)),
            ("limit train", c.limitTrain.map(String.init) ?? "all"), ("limit test", c.limitTest.map(String.init) ?? "all"),
        ] + folderRows(c)
        var y = continueY + 2
        grid.text("From the recipe as well (flags of `cnntui train` change them):", in: inside, row: y - inside.y,
                  style: caps.style(fg: .default, [.dim]), glyphs: caps.glyphs)
        y += 1
        for (name, value) in fixed where y < inside.maxY {
            grid.text("   " + name.padded(to: labelWidth) + value, x: inside.x, y: y, style: caps.style(fg: .default, [.dim]), clip: inside)
            y += 1
        }
        if let steps = state.stepsPerEpoch(batchSize: c.batchSize, model: c.model), y + 1 < inside.maxY {
            var text = "\(steps) batches per epoch"
            if let e = state.estimate(c.model), let s = e.stepSeconds, e.batchSize == c.batchSize {
                text += ", about \(Format.duration(s * Double(steps))) per epoch (measured)"
            }
            grid.text(text, in: inside, row: y + 1 - inside.y, style: caps.style(fg: .cyan), glyphs: caps.glyphs)
        }
    }

    /// The augmentation in force, and what it does: whether pictures are mirrored is what matters for digits,
    /// letters and signs.
    static func augmentationText(_ c: TrainingConfig, imageFolder: Bool) -> String {
        let isDefault = c.augmentation == nil
        let a = c.augmentation.flatMap { try? Augmentation.parse($0) } ?? Dataset.defaultAugmentation(forDatasetNamed: c.dataset)
        var parts: [String] = []
        if a.padCrop > 0 { parts.append("pad \(a.padCrop) + random crop") }
        parts.append(a.horizontalFlip ? "mirrored at random" : "no mirror")
        let text = "\(a) (\(parts.joined(separator: ", "))\(isDefault ? "; the dataset's default" : ""))"
        return a.horizontalFlip || !imageFolder ? text : text + "; --augment crop+flip mirrors photos"
    }

    /// For an image folder: the mean and std measured on its training pictures (the side and the resize rule
    /// are fields of the form).
    func folderRows(_ c: TrainingConfig) -> [(String, String)] {
        guard let d = state.dataset, d.trainPerClass != nil else { return [] }
        let stats: String
        if let r = state.folderReport {
            func list(_ v: [Float]) -> String { v.map { String(format: "%.3f", $0) }.joined(separator: " ") }
            stats = "mean \(list(r.mean)), std \(list(r.std)) (measured on the training pictures)"
        } else {
            stats = "measured on the training pictures when they are first decoded"
        }
        var rows = [("mean / std", stats)]
        if let r = state.folderReport, !r.skipped.isEmpty {
            rows.append(("skipped", "\(r.skipped.count) unreadable picture(s), e.g. \(r.skipped[0].path)"))
        }
        return rows
    }

    // MARK: - Summary

    func renderSummary(_ grid: inout CellGrid, _ body: Rect) {
        let page = max(1, body.height - 2)
        let first = min(state.summaryScroll, max(0, state.summaryLines.count - 1))
        let last = min(state.summaryLines.count, first + page)
        let inside = panel(&grid, body, "Layer summary, lines \(first + 1)-\(last) of \(state.summaryLines.count); Enter starts training")
        for (k, text) in state.summaryLines[first..<last].enumerated() {
            grid.text(text, x: inside.x, y: inside.y + k, clip: inside)
        }
    }
}

extension String {
    func asciiDot(_ caps: TerminalCapabilities) -> String { caps.glyphs.isUnicode ? self : replacingOccurrences(of: "·", with: "|") }
}
