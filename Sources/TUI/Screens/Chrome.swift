import Training

/// The parts every screen shares: the two header rows, the status line, the too-small screen.
public enum Chrome {
    public static let minimumWidth = 80, minimumHeight = 24

    static func stateColor(_ state: TrainingState) -> Color {
        switch state {
        case .starting: return .cyan
        case .running: return .green
        case .paused: return .yellow
        case .finished: return .cyan
        case .failed: return .red
        case .interrupted: return .magenta
        }
    }

    /// Row 0: what runs and where it is; row 1: progress bar and the newest numbers.
    /// A page's frame: the header (2 rows) and the status line (last row) drawn into a new grid, and the
    /// body between them for the page to fill.
    public static func page(model: DashboardModel, ui: UIState, width: Int, height: Int,
                            capabilities caps: TerminalCapabilities) -> (grid: CellGrid, body: Rect) {
        var grid = CellGrid(width: width, height: height)
        let (header, rest) = Rect(x: 0, y: 0, width: width, height: height).splitTop(2)
        renderHeader(into: &grid, area: header, model: model, capabilities: caps)
        renderStatus(into: &grid, area: Rect(x: 0, y: height - 1, width: width, height: 1), model: model, ui: ui,
                     capabilities: caps)
        return (grid, Rect(x: 0, y: rest.y, width: width, height: rest.height - 1))
    }

    public static func renderHeader(into grid: inout CellGrid, area: Rect, model: DashboardModel,
                                    capabilities caps: TerminalCapabilities) {
        guard area.height >= 1 else { return }
        let sep = caps.glyphs.isUnicode ? " │ " : " | "
        grid.fill(Rect(x: area.x, y: area.y, width: area.width, height: 1), style: caps.style(fg: .default, [.reverse]))
        var parts = [" cnntui"]
        if let run = model.run { parts.append("\(run.model) on \(run.dataset)") }
        if let s = model.lastStep {
            parts.append("epoch \(s.epoch)/\(model.run?.epochs ?? 0)")
            parts.append("step \(s.step)/\(s.stepsPerEpoch)")
            parts.append((model.lastRecord.map { Format.rate($0.imagesPerSecond) } ?? "--") + " img/s")
            parts.append("ETA " + (s.etaSeconds.map(Format.duration) ?? "--"))
        }
        let stateText = " " + model.state.rawValue.uppercased() + " "
        // Narrow windows drop the program name first, then the speed, so epoch, step and ETA stay.
        for drop in [0, 2] where parts.joined(separator: sep).count > area.width - stateText.count && parts.count > 3 {
            parts.remove(at: drop == 0 ? 0 : parts.count - drop)
        }
        let line = (parts.first == " cnntui" ? "" : " ") + parts.joined(separator: sep)
        grid.text(line, in: Rect(x: area.x, y: area.y, width: area.width - stateText.count, height: 1),
                  style: caps.style(fg: .default, [.reverse, .bold]), glyphs: caps.glyphs)
        grid.text(stateText, x: area.maxX - stateText.count, y: area.y,
                  style: caps.style(fg: .black, bg: stateColor(model.state), [.bold, .reverse]), clip: area)
        guard area.height >= 2 else { return }

        let y = area.y + 1
        var info: [String] = []
        if let r = model.lastRecord {
            info.append("loss \(Format.compact(Double(r.loss)))")
            info.append("acc \(Format.percent(r.accuracy))")
        }
        if let e = model.lastEvaluation { info.append("test \(Format.percent(e.testAccuracy))") }
        if let b = model.bestTestAccuracy { info.append("best \(Format.percent(b))") }
        if let lr = model.currentLearningRate { info.append("lr \(Format.learningRate(lr))") }
        var fraction = model.progress
        // Before the first step of a new image folder: its decoding, which can take a while.
        if model.lastStep == nil, let d = model.decoding {
            info = [d.text]
            fraction = d.total > 0 ? Double(d.done) / Double(d.total) : 1
        }
        let infoText = info.joined(separator: "  ")
        let barWidth = max(10, min(area.width / 4, area.width - infoText.count - 4))
        ProgressBar(fraction: fraction).render(
            into: &grid, area: Rect(x: area.x + 1, y: y, width: barWidth, height: 1), capabilities: caps)
        grid.text(infoText, in: Rect(x: area.x + barWidth + 3, y: y, width: area.width - barWidth - 3, height: 1),
                  glyphs: caps.glyphs)
    }

    /// The bottom line: an open prompt, the quit question, a message, an engine notice, or key hints.
    public static func renderStatus(into grid: inout CellGrid, area: Rect, model: DashboardModel, ui: UIState,
                                    capabilities caps: TerminalCapabilities) {
        guard area.height >= 1 else { return }
        let row = Rect(x: area.x, y: area.y, width: area.width, height: 1)
        grid.fill(row)
        if let form = ui.steeringForm {
            // The focused field is edited in place; the others are listed at the right (Tab reaches them).
            let field = form.focusedField
            let current = field == .learningRate ? model.currentLearningRate.map { Double($0) } : model.steeredValues[field]
            let now = current.map { " (now \(Format.steered(field, $0)))" } ?? ""
            TextInput(prompt: " new \(field.label)\(now): ", state: form.focusedInput).render(into: &grid, area: row, capabilities: caps)
            if let m = ui.message, ui.messageIsError {   // the error stays visible at the right while editing
                grid.text(m, in: row, align: .right, style: caps.style(fg: .red, [.bold]), glyphs: caps.glyphs)
            } else if form.fields.count > 1 {
                let others = form.fields.indices.filter { $0 != form.focus }.map { k in
                    let text = form.inputs[k].text
                    return form.fields[k].label + (text.isEmpty ? "" : " \(text)")
                }
                let hint = "Tab: " + others.joined(separator: ", ") + "  Enter applies "
                let used = " new \(field.label)\(now): ".count + form.focusedInput.text.count + 3
                if hint.count <= row.width - used {
                    grid.text(hint, in: row, align: .right, style: caps.style(fg: .default, [.dim]), glyphs: caps.glyphs)
                }
            }
            return
        }
        if ui.confirmingQuit {
            grid.text(" Quit? Training stops after saving a checkpoint. y = quit, any other key = stay", in: row,
                      style: caps.style(fg: .yellow, [.bold]), glyphs: caps.glyphs)
            return
        }
        if let m = ui.message {
            grid.text(" " + m, in: row, style: caps.style(fg: ui.messageIsError ? .red : .green, ui.messageIsError ? [.bold] : []),
                      glyphs: caps.glyphs)
            return
        }
        // The pages as tabs (the open one reversed), then the page's keys in priority order as they fit.
        var x = row.x + 1
        for page in ScreenID.allCases {
            let current = page == ui.screen
            x = grid.text("\(page.rawValue) \(page.pageName)", x: x, y: row.y,
                          style: current ? caps.style(fg: .cyan, [.bold, .reverse]) : caps.style(fg: .default, [.dim]), clip: row) + 1
        }
        x += 1
        var room = row.maxX - x
        var chosen = Set<Int>()
        // An attached viewer leaves with d (q does too): the run goes on either way.
        let hints = pageHints(ui.screen).map { model.isAttached && $0 == "q quit" ? "d detach" : $0 }
            .map { caps.glyphs.isUnicode ? $0 : $0.replacingArrows() }
        // An anomaly takes the place of the hints: it names the layer and the step on every page.
        let anomalyText = model.anomaly.map { "NaN/Inf in \($0.layer) at step \($0.globalStep) (3: health)" }
        for (k, hint) in hints.enumerated() where hint.count + 2 <= room && (anomalyText == nil || k == 0 && row.width >= 100) {
            chosen.insert(k); room -= hint.count + 2
        }
        let shownHints = hints.enumerated().filter { chosen.contains($0.offset) }.map(\.element).joined(separator: "  ")
        let hintsEnd = x + shownHints.count
        if let text = anomalyText {
            if row.maxX - hintsEnd > 12 {
                grid.text(text, in: Rect(x: hintsEnd + 2, y: row.y, width: row.maxX - hintsEnd - 2, height: 1), align: .right,
                          style: caps.style(fg: .red, [.bold, .reverse]), glyphs: caps.glyphs)
            }
        } else if let notice = model.notice, row.maxX - hintsEnd > 12 {
            let style = caps.style(fg: model.state == .failed ? .red : .cyan)
            grid.text(notice, in: Rect(x: hintsEnd + 2, y: row.y, width: row.maxX - hintsEnd - 2, height: 1),
                      align: .right, style: style, glyphs: caps.glyphs)
        }
        grid.text(shownHints, x: x, y: row.y, style: caps.style(fg: .default, [.dim]), clip: row)
    }

    /// Each page's key hints, most important first ("? help" always leads: it lists the rest).
    static func pageHints(_ screen: ScreenID) -> [String] {
        switch screen {
        case .dashboard: return ["? help", "p pause", "l lr", "s save", "tab focus", "enter open", "q quit"]
        case .layers: return ["? help", "↑↓ layer", "[ ] image", "←→ channels", "x scale", "o sort", ", . filters", "q quit"]
        case .health: return ["? help", "↑↓ scroll", "p pause", "l lr", "q quit"]
        case .misclassified:
            return ["? help", "esc back", "←→ move", "t true-class", "c predicted", "a all", "o order", "u least sure", "q quit"]
        }
    }

    /// "Terminal too small: 70x20, need 80x24", the dimension that fails in red.
    public static func renderTooSmall(width: Int, height: Int, confirmingQuit: Bool = false,
                                      capabilities caps: TerminalCapabilities) -> CellGrid {
        var grid = CellGrid(width: width, height: height)
        let needW = minimumWidth, needH = minimumHeight
        let pieces: [(String, Style)] = [
            ("Terminal too small: ", Style(attributes: [.bold])),
            ("\(width)", width < needW ? caps.style(fg: .red, [.bold]) : .plain), ("x", .plain),
            ("\(height)", height < needH ? caps.style(fg: .red, [.bold]) : .plain),
            (", need \(needW)x\(needH)", .plain),
        ]
        let total = pieces.map(\.0.count).reduce(0, +)
        let lines = height >= 2 ? 2 : 1
        var x = max(0, (width - total) / 2)
        let y = max(0, (height - lines) / 2)
        for (text, style) in pieces { x = grid.text(text, x: x, y: y, style: style) }
        if height >= 2 {
            grid.text(confirmingQuit ? "quit? y = quit, any other key = stay" : "enlarge the window, or q to quit", in: Rect(x: 0, y: y + 1, width: width, height: 1), align: .center,
                      style: caps.style(fg: .default, [.dim]), glyphs: caps.glyphs)
        }
        return grid
    }

    /// A panel's frame; the focused panel's border and title are highlighted.
    static func panel(_ grid: inout CellGrid, _ rect: Rect, title: String, focused: Bool,
                      capabilities caps: TerminalCapabilities) -> Rect {
        let border = focused ? caps.style(fg: .cyan, [.bold]) : caps.style(fg: .default, [.dim])
        let titleStyle = focused ? caps.style(fg: .cyan, [.bold, .reverse]) : Style(attributes: [.bold])
        return grid.box(rect, title: " \(title) ", style: border, titleStyle: titleStyle, glyphs: caps.glyphs)
    }
}

extension String {
    func replacingArrows() -> String {
        String(map { c -> Character in c == "←" ? "<" : c == "→" ? ">" : c == "↑" ? "^" : c == "↓" ? "v" : c })
            .replacingOccurrences(of: "<>", with: "<-/->")
    }
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = "", rest = Substring(self)
        while let r = rest.range(of: target) {
            result += rest[..<r.lowerBound] + replacement
            rest = rest[r.upperBound...]
        }
        return result + rest
    }
}

extension Substring {
    func range(of target: String) -> Range<Index>? {
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(target) { return i..<(index(i, offsetBy: target.count)) }
            i = index(after: i)
        }
        return nil
    }
}
