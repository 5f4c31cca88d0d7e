import Foundation
import Training

/// Draws the runs screen: a header with the directory and the order, the table with the cursor and the
/// marks, the selected run's details, and the status line (a prompt, the delete question, a message or
/// the keys). Below 140 columns the model and dataset columns go (the ID holds both) and dates are short.
struct RunsScreen {
    let state: RunsState
    /// The sessions directory, for the header.
    let root: String
    let width: Int, height: Int
    let caps: TerminalCapabilities

    var wide: Bool { width >= 140 }

    func render() -> CellGrid {
        var grid = CellGrid(width: width, height: height)
        renderHeader(&grid)
        let body = Rect(x: 0, y: 2, width: width, height: height - 3)
        let title = "Runs: \(state.visible.count) of \(state.runs.count)" + (state.filter.isEmpty ? "" : " matching \"\(state.filter)\"")
        let inside = Chrome.panel(&grid, body, title: title, focused: true, capabilities: caps)
        let (tableArea, detailArea) = inside.splitTop(inside.height - 3)
        renderTable(&grid, tableArea)
        renderDetail(&grid, Rect(x: detailArea.x + 1, y: detailArea.y + 1, width: detailArea.width - 2, height: 2))
        renderStatus(&grid, Rect(x: 0, y: height - 1, width: width, height: 1))
        return grid
    }

    func renderHeader(_ grid: inout CellGrid) {
        grid.fill(Rect(x: 0, y: 0, width: width, height: 1), style: caps.style(fg: .default, [.reverse]))
        let arrow = state.sort.descendingFirst != state.reversed ? "descending" : "ascending"
        let order = " sort: \(state.sort.rawValue), \(arrow) "
        grid.text(" cnntui runs  " + root, in: Rect(x: 0, y: 0, width: width - order.count, height: 1),
                  style: caps.style(fg: .default, [.reverse, .bold]), glyphs: caps.glyphs)
        grid.text(order, x: width - order.count, y: 0, style: caps.style(fg: .default, [.reverse]))
        var info: [String] = []
        let live = state.runs.filter { $0.status.isLive }.count
        if live > 0 { info.append("\(live) running") }
        if !state.marked.isEmpty { info.append("\(state.marked.count) marked (c compares them, in the order marked)") }
        grid.text(" " + info.joined(separator: "  ·  ".asciiDot(caps)), in: Rect(x: 0, y: 1, width: width, height: 1),
                  style: caps.style(fg: .cyan), glyphs: caps.glyphs)
    }

    /// A marked run's place in the comparison to come: 1, 2, ...
    func markerOf(_ id: String) -> String { state.marked.firstIndex(of: id).map { String($0 + 1) } ?? "" }

    struct Column {
        var title: String
        var width: Int
        var align: Alignment
        var value: (RunInfo) -> String
    }

    func columns(idWidth: Int) -> [Column] {
        func percent(_ a: Float?) -> String { a.map { Format.percent($0) } ?? "-" }
        var columns = [Column(title: "ID", width: idWidth, align: .left, value: \.id)]
        if wide {
            columns.append(Column(title: "MODEL", width: 16, align: .left, value: { $0.summary.model ?? "?" }))
            columns.append(Column(title: "DATASET", width: 14, align: .left, value: { $0.summary.dataset ?? "?" }))
        }
        columns += [
            Column(title: "EPOCHS", width: 7, align: .right, value: {
                "\($0.summary.epochsDone ?? 0)/\($0.summary.epochs.map(String.init) ?? "?")"
            }),
            Column(title: "BEST", width: 6, align: .right, value: { percent($0.summary.bestTestAccuracy) }),
            Column(title: "LAST", width: 6, align: .right, value: { percent($0.summary.lastTestAccuracy) }),
            Column(title: "STATUS", width: wide ? 20 : 11, align: .left, value: { wide ? $0.status.text : $0.status.name }),
            Column(title: "STARTED", width: wide ? 16 : 11, align: .left, value: { run in
                run.started.map { Self.date($0, long: wide) } ?? "-"
            }),
            Column(title: "SIZE", width: 6, align: .right, value: { Format.bytes($0.sizeBytes) }),
        ]
        return columns
    }

    static func date(_ date: Date, long: Bool) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = long ? "yyyy-MM-dd HH:mm" : "MM-dd HH:mm"
        return formatter.string(from: date)
    }

    func renderTable(_ grid: inout CellGrid, _ area: Rect) {
        guard area.height >= 2 else { return }
        // Two cells for the cursor and the mark, then the columns; the ID takes what the others leave.
        let fixed = columns(idWidth: 0).dropFirst().map { $0.width + 1 }.reduce(0, +)
        let idWidth = max(12, area.width - 3 - fixed)
        let columns = columns(idWidth: idWidth)
        func line(_ cells: [String]) -> String {
            zip(columns, cells).map { $0.1.padded(to: $0.0.width, align: $0.0.align) }.joined(separator: " ")
        }
        grid.text("   " + line(columns.map(\.title)), x: area.x, y: area.y, style: Style(attributes: [.bold, .underline]),
                  clip: area)
        let rows = state.visible
        guard !rows.isEmpty else {
            let why = state.runs.isEmpty ? "no runs yet: train one from the pickers (Esc) or with `cnntui train`"
                : "no run matches \"\(state.filter)\" (Esc clears the filter)"
            grid.text(why, in: area, row: area.height / 2, align: .center, style: caps.style(fg: .default, [.dim]),
                      glyphs: caps.glyphs)
            return
        }
        let visible = area.height - 1
        let offset = Table.scrollOffset(selected: state.cursor, rowCount: rows.count, visible: visible)
        for (k, run) in rows.enumerated().dropFirst(offset).prefix(visible) {
            let y = area.y + 1 + k - offset
            let selected = k == state.cursor
            var style = statusStyle(run.status)
            if selected { style.attributes.insert(.reverse) }
            if selected { grid.fill(Rect(x: area.x, y: y, width: area.width, height: 1), style: style) }
            let cursor: Character = selected ? (caps.glyphs.isUnicode ? "▶" : ">") : " "
            let mark = markerOf(run.id)
            grid.put(cursor, x: area.x, y: y, style: style, clip: area)
            grid.text(mark.isEmpty ? " " : mark, x: area.x + 1, y: y, style: style.with(.bold), clip: area)
            let cells = columns.map { column in
                column.value(run).truncated(to: column.width, ellipsis: caps.glyphs.ellipsis)
            }
            grid.text(line(cells), x: area.x + 3, y: y, style: style, clip: area)
        }
    }

    /// Live runs green, interrupted ones yellow, new ones dim; finished ones plain.
    func statusStyle(_ status: RunStatus) -> Style {
        switch status {
        case .running, .paused: return caps.style(fg: .green, [.bold])
        case .interrupted, .stopped: return caps.style(fg: .yellow)
        case .new: return caps.style(fg: .default, [.dim])
        case .finished: return .plain
        }
    }

    func renderDetail(_ grid: inout CellGrid, _ area: Rect) {
        guard let run = state.selected else { return }
        let s = run.summary
        var first = "\(run.id)  \(run.status.text)"
        if let step = s.globalStep { first += "  step \(step)" }
        first += "  \(Format.bytes(run.sizeBytes)) on disk"
        grid.text(first, in: area, row: 0, style: Style(attributes: [.bold]), glyphs: caps.glyphs)
        grid.text("\(s.model ?? "?") on \(s.dataset ?? "?")  in \(run.session.url.path)", in: area, row: 1,
                  style: caps.style(fg: .default, [.dim]), glyphs: caps.glyphs)
    }

    func renderStatus(_ grid: inout CellGrid, _ row: Rect) {
        if let input = state.filterInput {
            TextInput(prompt: " filter (words of ID, model, dataset, status): ", state: input)
                .render(into: &grid, area: row, capabilities: caps)
            return
        }
        if let id = state.confirmingDelete {
            grid.text(" Delete \(id)? y = yes, any other key = keep", in: row,
                      style: caps.style(fg: .yellow, [.bold]), glyphs: caps.glyphs)
            return
        }
        if let m = state.message {
            grid.text(" " + m, in: row, style: caps.style(fg: state.messageIsError ? .red : .green, [.bold]), glyphs: caps.glyphs)
            return
        }
        // The keys in priority order as they fit ("? help" leads: it lists the rest).
        var hints = ""
        for hint in ["? help", "enter open", "space mark", "c compare", "r resume", "a attach", "d delete", "s sort",
                     "/ filter", "esc back", "q quit"] where hints.count + hint.count + 2 <= row.width {
            hints += (hints.isEmpty ? " " : "  ") + hint
        }
        grid.text(hints, in: row, style: caps.style(fg: .default, [.dim]), glyphs: caps.glyphs)
    }
}

extension Style {
    func with(_ attributes: CellAttributes) -> Style {
        Style(foreground: foreground, background: background, attributes: self.attributes.union(attributes))
    }
}
