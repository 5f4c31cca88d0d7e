import Foundation
import Training

/// The learning-rate finder over the recipe screen (`f`), as a value: the sweep's points as they arrive, its
/// result, and which suggestion the user has picked. `SetupApp` starts and cancels the sweep and feeds its events
/// in; `handleFinderKey` picks and applies; `SetupScreen.renderFinder` draws it.
public struct LRFinderState: Equatable, Sendable {
    public var settings: LRFinderSettings
    /// The recipe's rate when the sweep started, drawn for comparison.
    public var recipeLearningRate: Float
    /// The optimizer as the sweep uses it ("adam", "sgd momentum 0.9 wd 5e-4").
    public var optimizer: String
    public var points: [LRFinderPoint] = []
    public var result: LRFinderResult?
    public var failure: String?
    public var selected = LRSuggestion.Rule.valley

    public init(config: TrainingConfig, settings: LRFinderSettings = LRFinderSettings()) {
        self.settings = settings
        recipeLearningRate = config.learningRate
        var optimizer = config.optimizer.rawValue
        if config.optimizer == .sgd && config.momentum != 0 { optimizer += " momentum \(Format.compact(Double(config.momentum)))" }
        if config.weightDecay != 0 { optimizer += " wd \(Format.compact(Double(config.weightDecay)))" }
        self.optimizer = optimizer
    }

    public var isRunning: Bool { result == nil && failure == nil }
    public var suggestions: [LRSuggestion] { result?.suggestions ?? [] }
    /// The suggestion Enter applies: the selected rule's, else the one there is.
    public var chosen: LRSuggestion? { result?.suggestion(selected) ?? suggestions.first }

    public mutating func apply(_ event: LRFinderEvent) {
        switch event {
        case let .started(settings): self.settings = settings
        case let .point(point): points.append(point)
        case let .finished(result):
            self.result = result
            points = result.points
        case let .failed(message): failure = message
        }
    }
}

/// The finder's keys: left/right or tab switch between the suggestions, Enter puts the chosen one into the recipe
/// (an override, marked as set), Esc leaves (the app cancels a sweep still running). q and ? are the pickers'.
func handleFinderKey(_ key: Key, finder: LRFinderState, state: SetupState) -> (SetupState, [SetupAction]) {
    var s = state
    switch key {
    case .escape, .backspace:
        s.finder = nil
        s.message = finder.isRunning ? "LR finder cancelled; learning rate unchanged" : "learning rate unchanged"
        return (s, [.stopFinder])
    case .left, .right, .tab, .backTab:
        let rules = finder.suggestions.map(\.rule)
        guard rules.count > 1, let now = rules.firstIndex(of: finder.chosen?.rule ?? finder.selected) else { return (s, []) }
        let step = key == .left || key == .backTab ? rules.count - 1 : 1
        s.finder?.selected = rules[(now + step) % rules.count]
        return (s, [])
    case .enter:
        guard let pick = finder.chosen else {
            s.fail(finder.isRunning ? "still sweeping: Enter works once the suggestions are in (Esc cancels)"
                   : "no suggestion from this sweep: Esc goes back to the recipe")
            return (s, [])
        }
        // Swift prints a Float's shortest round-tripping digits, so the recipe gets exactly the suggested value.
        guard applyRecipeField(.learningRate, text: "\(pick.learningRate)", to: &s) else { return (s, []) }
        s.finder = nil
        s.recipeCursor = RecipeField.learningRate.rawValue
        s.message = "learning rate \(Format.learningRate(pick.learningRate)) (the finder's \(pick.rule.rawValue) suggestion)"
        return (s, [.stopFinder])
    default:
        return (s, [])
    }
}

/// The finder's curve as a chart: the smoothed loss against log10 of the learning rate over the sweep's whole
/// range, with the suggestions as letters on the curve (V valley, S steep; the selected one in reverse video).
/// The TUI and `cnntui lr-find` draw the same chart.
public enum LRFinderChart {
    /// A finished curve is drawn without its last 5 points, as fastai's `plot_lr_find` (`skip_end=5`) does: the
    /// divergence that stopped the sweep would otherwise set the scale and flatten the part worth reading.
    public static let skippedAtEnd = 5

    public static func make(points: [LRFinderPoint], settings: LRFinderSettings, suggestions: [LRSuggestion],
                            selected: LRSuggestion.Rule?, finished: Bool) -> LineChart {
        let shown = finished ? points.dropLast(skippedAtEnd) : points[...]
        let curve = shown.filter { $0.smoothed.isFinite }.map {
            ChartPoint(x: log10(Double($0.learningRate)), y: Double($0.smoothed))
        }
        let first = log10(settings.start), last = log10(settings.end)
        let labels = suggestions.map { s in
            ChartLabel(x: log10(Double(s.learningRate)), y: Double(s.loss), text: letter(s.rule), color: color(s.rule),
                       highlighted: s.rule == selected)
        }
        let decades = Array(Int(first.rounded(.up))...Int(last.rounded(.down))).map(Double.init)
        return LineChart(series: [ChartSeries(name: "smoothed loss", points: curve, color: .cyan)],
                         fixedXRange: first...last, labels: labels,
                         xFormatter: { powerOfTen($0) }, xTicks: decades)
    }

    public static func letter(_ rule: LRSuggestion.Rule) -> Character {
        switch rule {
        case .valley: return "V"
        case .steep: return "S"
        }
    }

    static func color(_ rule: LRSuggestion.Rule) -> Color {
        switch rule {
        case .valley: return .green
        case .steep: return .yellow
        }
    }

    /// An axis label for log10 of a rate: "1e-7", "0.1", "1", "10"; "3e-5" between decades.
    public static func powerOfTen(_ exponent: Double) -> String {
        let whole = exponent.rounded()
        if abs(exponent - whole) < 1e-9 {
            switch Int(whole) {
            case -1: return "0.1"
            case 0: return "1"
            case 1: return "10"
            case let e: return "1e\(e)"
            }
        }
        let text = String(format: "%.0e", pow(10, exponent))
        return text.replacingOccurrences(of: "e-0", with: "e-").replacingOccurrences(of: "e+0", with: "e")
            .replacingOccurrences(of: "e+", with: "e")
    }
}

extension SetupScreen {
    func renderFinder(_ grid: inout CellGrid, _ body: Rect, finder: LRFinderState) {
        let s = finder.settings
        let title = "Learning-rate finder: \(finder.optimizer), \(LRFinderChart.powerOfTen(log10(s.start))) to "
            + "\(LRFinderChart.powerOfTen(log10(s.end))) over \(s.iterations) batches"
        let inside = panel(&grid, body, title)
        grid.text(statusLine(finder), in: inside, row: 0,
                  style: caps.style(fg: finder.failure != nil ? .red : .default, finder.failure != nil ? [.bold] : []),
                  glyphs: caps.glyphs)
        let legendHeight = 4
        let chartArea = Rect(x: inside.x, y: inside.y + 1, width: inside.width, height: max(0, inside.height - 1 - legendHeight))
        LRFinderChart.make(points: finder.points, settings: s, suggestions: finder.suggestions, selected: finder.chosen?.rule,
                           finished: finder.result != nil)
            .render(into: &grid, area: chartArea, capabilities: caps)

        let legendY = inside.maxY - legendHeight
        if finder.suggestions.isEmpty {
            let note = finder.isRunning ? "suggestions when the sweep ends (fastai's valley and steep)"
                : "too short a curve to suggest from (fastai drops the first tenth and the last 5 batches)"
            grid.text(note, in: inside, row: legendY - inside.y + 1, style: caps.style(fg: .default, [.dim]), glyphs: caps.glyphs)
        }
        for (k, suggestion) in finder.suggestions.enumerated() {
            let why = suggestion.rule == .valley ? "fastai's default: halfway down the longest descent"
                : "where the smoothed loss falls fastest"
            let text = " \(LRFinderChart.letter(suggestion.rule)) \(suggestion.rule.rawValue.padded(to: 7))"
                + "\(Format.learningRate(suggestion.learningRate).padded(to: 10))\(why)"
            row(&grid, text, area: inside, y: legendY + k, selected: suggestion.rule == finder.chosen?.rule,
                style: caps.style(fg: LRFinderChart.color(suggestion.rule)))
        }
        grid.text("  recipe   \(Format.learningRate(finder.recipeLearningRate).padded(to: 10))"
                  + "x: learning rate (log scale), y: smoothed loss", in: inside, row: legendY + 2 - inside.y,
                  style: caps.style(fg: .default, [.dim]), glyphs: caps.glyphs)
        grid.text("Weights, optimizer and BatchNorm statistics are restored after the sweep.", in: inside,
                  row: legendY + 3 - inside.y, style: caps.style(fg: .default, [.dim]), glyphs: caps.glyphs)
    }

    private func statusLine(_ finder: LRFinderState) -> String {
        if let failure = finder.failure { return "failed: \(failure)" }
        let n = finder.points.count
        let last = finder.points.last.map {
            ", lr \(Format.learningRate($0.learningRate)), loss \(Format.compact(Double($0.loss))) (smoothed \(Format.compact(Double($0.smoothed))))"
        } ?? ""
        guard let result = finder.result else {
            return n == 0 ? "preparing the data and the model" + (caps.glyphs.isUnicode ? "…" : "...")
                : "sweeping: batch \(n) of \(finder.settings.iterations)\(last)"
        }
        let rate = finder.points.last.map { " (lr \(Format.learningRate($0.learningRate)))" } ?? ""
        switch result.stop {
        case .completed: return "done: all \(n) batches\(last)"
        case .diverged: return "done: stopped at batch \(n)\(rate), the smoothed loss passed 4x its minimum"
        case .notFinite: return "done: stopped at batch \(n)\(rate), the loss was not finite"
        case .cancelled: return "cancelled at batch \(n)"
        }
    }
}
