import Foundation
import Training

/// Each compared run's colour and mark, by its position in the comparison, so a run keeps both while
/// others are hidden and on every panel. Without colour the mark alone tells the runs apart.
enum RunMarks {
    static let colors: [Color] = [.cyan, .yellow, .magenta, .green, .red, .blue, .indexed(208), .white]
    static let unicode: [Character] = ["●", "■", "▲", "◆", "▼", "★", "✚", "◉"]
    static let ascii: [Character] = ["o", "#", "+", "x", "*", "@", "%", "&"]

    static func color(_ k: Int) -> Color { colors[k % colors.count] }
    static func mark(_ k: Int, _ caps: TerminalCapabilities) -> Character {
        let marks = caps.glyphs.isUnicode ? unicode : ascii
        return marks[k % marks.count]
    }

    /// Short names for the runs: their IDs without the parts all of them share at the start and the end
    /// (cut at a '-'), e.g. the date and `-mycnn-fashion-mnist`; the whole ID when that leaves nothing.
    static func labels(_ ids: [String]) -> [String] {
        guard ids.count > 1 else { return ids }
        let parts = ids.map { $0.split(separator: "-", omittingEmptySubsequences: false).map(String.init) }
        let shortest = parts.map(\.count).min() ?? 0
        var front = 0
        while front < shortest - 1, parts.allSatisfy({ $0[front] == parts[0][front] }) { front += 1 }
        var back = 0
        while back < shortest - 1 - front, parts.allSatisfy({ $0[$0.count - 1 - back] == parts[0][parts[0].count - 1 - back] }) {
            back += 1
        }
        return zip(ids, parts).map { id, p in
            let kept = p[front..<(p.count - back)].joined(separator: "-")
            return kept.isEmpty ? id : kept
        }
    }
}

/// Where the comparison's panels go: header (2 rows: title, legend), charts on the left (loss 40 %,
/// accuracy 35 %, learning rate the rest), on the right the runs table (its rows, as far as the per-class
/// panel keeps 5 rows) and per-class accuracy below it, and the status line.
struct CompareLayout {
    var loss, accuracy, learningRate, table, perClass: Rect

    init(width: Int, height: Int, tableRows: Int) {
        let body = Rect(x: 0, y: 2, width: width, height: height - 3)
        let rightWidth = max(40, width * 45 / 100)
        let (left, right) = body.splitLeft(width - rightWidth)
        let lossHeight = left.height * 40 / 100, accuracyHeight = left.height * 35 / 100
        let (lossRect, rest) = left.splitTop(lossHeight)
        (accuracy, learningRate) = rest.splitTop(accuracyHeight)
        loss = lossRect
        (table, perClass) = right.splitTop(min(tableRows + 3, right.height - 5))
    }
}

/// Draws a comparison: runs overlaid on loss, accuracy and learning rate, the runs table with the recipe
/// fields that differ, per-class accuracy side by side.
struct CompareScreen {
    let runs: [ComparedRun]
    let ui: CompareUIState
    /// Esc goes back to the runs screen (else it quits).
    let canGoBack: Bool
    let width: Int, height: Int
    let caps: TerminalCapabilities

    var labels: [String] { RunMarks.labels(runs.map(\.id)) }

    func render() -> CellGrid {
        var grid = CellGrid(width: width, height: height)
        let rows = tableRows()
        let layout = CompareLayout(width: width, height: height, tableRows: rows.count)
        renderHeader(&grid)
        let curves = runs.map { RunCurves($0, axis: ui.axis) }
        let unit = ui.axis == .epoch ? "epoch" : ui.axis == .step ? "step" : "time"
        let loss = Chrome.panel(&grid, layout.loss, title: "Loss: train line, test marks", focused: false, capabilities: caps)
        chart(&grid, loss, curves, unit: unit, train: \.trainLoss, test: \.testLoss)
        let accuracy = Chrome.panel(&grid, layout.accuracy, title: "Accuracy: train line, test marks", focused: false,
                                    capabilities: caps)
        chart(&grid, accuracy, curves, unit: unit, train: \.trainAccuracy, test: \.testAccuracy,
              yFormatter: { Format.percent(Float($0), decimals: 0) })
        let lr = Chrome.panel(&grid, layout.learningRate, title: "Learning rate", focused: false, capabilities: caps)
        chart(&grid, lr, curves, unit: unit, train: \.learningRate, test: nil, fixedYRange: 0...0)
        let table = Chrome.panel(&grid, layout.table, title: "Runs: recipe fields that differ", focused: false, capabilities: caps)
        renderTable(&grid, table, rows)
        let perClass = Chrome.panel(&grid, layout.perClass, title: "Per-class accuracy, last evaluation", focused: false,
                                    capabilities: caps)
        renderPerClass(&grid, perClass)
        renderStatus(&grid, Rect(x: 0, y: height - 1, width: width, height: 1))
        return grid
    }

    func renderHeader(_ grid: inout CellGrid) {
        let sep = caps.glyphs.isUnicode ? " │ " : " | "
        grid.fill(Rect(x: 0, y: 0, width: width, height: 1), style: caps.style(fg: .default, [.reverse]))
        let axis: String
        switch ui.axis {
        case .epoch: axis = "x: epoch"
        case .step: axis = "x: global step"
        case .time: axis = "x: wall time (from epoch seconds)"
        }
        let title = [" cnntui compare", "\(runs.count) runs", axis].joined(separator: sep)
        let live = runs.filter { $0.status.isLive }.count
        let liveText = live > 0 ? " \(live) LIVE " : ""
        grid.text(title, in: Rect(x: 0, y: 0, width: width - liveText.count, height: 1),
                  style: caps.style(fg: .default, [.reverse, .bold]), glyphs: caps.glyphs)
        if live > 0 {
            grid.text(liveText, x: width - liveText.count, y: 0, style: caps.style(fg: .black, bg: .green, [.bold, .reverse]))
        }
        // The legend: each run's mark, number and name in its colour; hidden runs dimmed.
        var x = 1
        let row = Rect(x: 0, y: 1, width: width, height: 1)
        for (k, label) in labels.enumerated() {
            let hidden = ui.hidden.contains(k)
            let text = "\(RunMarks.mark(k, caps)) \(k + 1) \(label)\(hidden ? " (hidden)" : "")"
            let style = hidden ? caps.style(fg: .default, [.dim]) : caps.style(fg: RunMarks.color(k), [.bold])
            if x + text.count > row.maxX {
                grid.text(caps.glyphs.isUnicode ? "…" : "~", x: row.maxX - 1, y: row.y, clip: row)
                break
            }
            x = grid.text(text, x: x, y: row.y, style: style, clip: row) + 3
        }
    }

    func chart(_ grid: inout CellGrid, _ area: Rect, _ curves: [RunCurves], unit: String, train: KeyPath<RunCurves, [ChartPoint]>,
               test: KeyPath<RunCurves, [ChartPoint]>?, fixedYRange: ClosedRange<Double>? = nil,
               yFormatter: @escaping @Sendable (Double) -> String = { Format.compact($0) }) {
        var series: [ChartSeries] = []
        for (k, c) in curves.enumerated() where !ui.hidden.contains(k) {
            let mark = RunMarks.mark(k, caps), color = RunMarks.color(k)
            series.append(ChartSeries(name: "\(k + 1)", points: c[keyPath: train], color: color, marker: mark))
            if let test {
                series.append(ChartSeries(name: "\(k + 1) test", points: c[keyPath: test], color: color, markPoints: true,
                                          marker: mark))
            }
        }
        let xs = series.flatMap { $0.points.map(\.x) }
        var ticks: [Double] = []
        if ui.axis == .epoch, let lo = xs.min(), let hi = xs.max(), hi - lo < 200 {
            ticks = stride(from: lo.rounded(.up), through: hi.rounded(.down), by: 1).map { $0 }
        }
        let byTime = ui.axis == .time
        let xFormatter: @Sendable (Double) -> String = { byTime ? Format.duration($0) : Format.axis($0) }
        LineChart(series: series, fixedYRange: fixedYRange, yFormatter: yFormatter, xFormatter: xFormatter, xUnit: unit,
                  xTicks: ticks)
            .render(into: &grid, area: area, capabilities: caps)
    }

    // MARK: - The runs table

    /// Rows of the runs table: what each run reached, then the recipe fields that differ.
    func tableRows() -> [(name: String, values: [String])] {
        var rows: [(String, [String])] = [
            ("status", runs.map(\.status.name)),
            ("epochs", runs.map { "\($0.epochsDone)/\($0.config.epochs)" }),
            ("best test", runs.map { $0.bestTestAccuracy.map { Format.percent($0) } ?? "-" }),
            ("last test", runs.map { $0.lastTestAccuracy.map { Format.percent($0) } ?? "-" }),
            ("s/epoch", runs.map { run in
                let s = run.epochSeconds
                return s.isEmpty ? "-" : Format.duration(s.reduce(0, +) / Double(s.count))
            }),
        ]
        let differing = TrainingConfig.differingFields(runs.map(\.config))
        if differing.isEmpty { rows.append(("recipe", runs.map { _ in "same" })) }
        rows += differing.map { ($0.name, $0.values) }
        return rows
    }

    /// Column widths: the row names, then one column per run sharing what is left (at least 6 each).
    func columns(_ area: Rect, names: [String]) -> (name: Int, run: Int) {
        let nameWidth = min(max(9, names.map(\.count).max() ?? 0), area.width / 3)
        let run = max(6, (area.width - nameWidth) / max(1, runs.count) - 1)
        return (nameWidth, run)
    }

    func renderColumnHeads(_ grid: inout CellGrid, _ area: Rect, nameWidth: Int, runWidth: Int, title: String) {
        grid.text(title.padded(to: nameWidth), x: area.x, y: area.y, style: Style(attributes: [.bold, .underline]), clip: area)
        for k in runs.indices {
            let x = area.x + nameWidth + 1 + k * (runWidth + 1)
            let head = "\(RunMarks.mark(k, caps)) \(k + 1)".padded(to: runWidth, align: .right)
            grid.text(head, x: x, y: area.y, style: runStyle(k, [.bold, .underline]), clip: area)
        }
    }

    func runStyle(_ k: Int, _ attributes: CellAttributes = []) -> Style {
        ui.hidden.contains(k) ? caps.style(fg: .default, attributes.union(.dim)) : caps.style(fg: RunMarks.color(k), attributes)
    }

    func renderTable(_ grid: inout CellGrid, _ area: Rect, _ rows: [(name: String, values: [String])]) {
        guard area.height >= 1 else { return }
        let (nameWidth, runWidth) = columns(area, names: rows.map(\.name))
        renderColumnHeads(&grid, area, nameWidth: nameWidth, runWidth: runWidth, title: "run")
        let visible = area.height - 1
        for (i, row) in rows.prefix(visible).enumerated() {
            let y = area.y + 1 + i
            let last = i == visible - 1 && rows.count > visible
            let name = last ? "+\(rows.count - visible + 1) more" : row.name
            grid.text(name.padded(to: nameWidth), x: area.x, y: y, style: caps.style(fg: .default, last ? [.dim] : []), clip: area)
            if last { break }
            for (k, value) in row.values.enumerated() {
                let x = area.x + nameWidth + 1 + k * (runWidth + 1)
                grid.text(value.truncated(to: runWidth, ellipsis: caps.glyphs.ellipsis).padded(to: runWidth, align: .right),
                          x: x, y: y, style: runStyle(k), clip: area)
            }
        }
    }

    // MARK: - Per-class accuracy

    func renderPerClass(_ grid: inout CellGrid, _ area: Rect) {
        guard area.height >= 2 else { return }
        let classCount = runs.map { max($0.classNames.count, $0.perClass?.perClassAccuracy.count ?? 0) }.max() ?? 0
        let names = (0..<classCount).map { c in runs.lazy.compactMap { $0.classNames.indices.contains(c) ? $0.classNames[c] : nil }.first ?? "class \(c)" }
        let missing = runs.indices.filter { runs[$0].perClass == nil }
        let noteRows = missing.isEmpty ? 0 : 2
        let (nameWidth, runWidth) = columns(area, names: names)
        renderColumnHeads(&grid, area, nameWidth: nameWidth, runWidth: runWidth, title: "class")
        let visible = max(0, area.height - 1 - noteRows)
        for (c, name) in names.prefix(visible).enumerated() {
            let y = area.y + 1 + c
            let last = c == visible - 1 && names.count > visible
            grid.text((last ? "+\(names.count - visible + 1) more" : name).padded(to: nameWidth), x: area.x, y: y,
                      style: last ? caps.style(fg: .default, [.dim]) : .plain, clip: area)
            if last { break }
            for k in runs.indices {
                let values = runs[k].perClass?.perClassAccuracy ?? []
                let text = values.indices.contains(c) ? Format.percent(values[c]) : "-"
                let x = area.x + nameWidth + 1 + k * (runWidth + 1)
                grid.text(text.padded(to: runWidth, align: .right), x: x, y: y, style: runStyle(k), clip: area)
            }
        }
        guard noteRows > 0 else { return }
        let which = missing.map { String($0 + 1) }.joined(separator: ", ")
        let note = "- run \(which): no evaluation in its events.jsonl (an older run, or none yet); "
            + "metrics.jsonl keeps no per-class numbers"
        let lines = Format.wrapped(note, width: area.width)
        for (i, line) in lines.prefix(noteRows).enumerated() {
            let text = i == noteRows - 1 && lines.count > noteRows ? line + " " + lines[(i + 1)...].joined(separator: " ") : line
            grid.text(text, in: Rect(x: area.x, y: area.maxY - noteRows + i, width: area.width, height: 1),
                      style: caps.style(fg: .default, [.dim]), glyphs: caps.glyphs)
        }
    }

    func renderStatus(_ grid: inout CellGrid, _ row: Rect) {
        if let m = ui.message {
            grid.text(" " + m, in: row, style: caps.style(fg: .red, [.bold]), glyphs: caps.glyphs)
            return
        }
        let axisHints = ui.axis == .step ? "s epochs  t time" : ui.axis == .time ? "s step  t epochs" : "s step  t time"
        let back = canGoBack ? "  esc runs" : ""
        let hints = " ? help  \(axisHints)  1-\(runs.count) show/hide\(back)  q quit"
        grid.text(hints, in: row, style: caps.style(fg: .default, [.dim]), glyphs: caps.glyphs)
    }
}
