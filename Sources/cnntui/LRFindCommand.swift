import ArgumentParser
import Foundation
import TUI
import Training

/// `cnntui lr-find`: fastai's learning-rate range test on a model and dataset with the recipe's optimizer, headless.
struct LRFindCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lr-find",
        abstract: "Find a learning rate: sweep it exponentially over a short training and suggest one.",
        discussion: """
            Trains a fresh model (the recipe's seed, optimizer, batches and augmentation) for up to --iterations \
            batches while the learning rate grows from --start to --end, smooths the loss (EMA 0.98, bias-corrected) \
            and stops once it passes 4x its minimum. Suggests fastai's "valley" (its default) and "steep" rates, \
            read on the curve without its first tenth and last 5 batches. Nothing is saved; no session is made.
            """)

    @Option(help: "Model name (see the zoo).") var model: String
    @Option(help: "Dataset name or path.") var dataset: String
    @OptionGroup var recipe: RecipeOptions
    @Option(parsing: .unconditional, help: "The first learning rate of the sweep.") var start = 1e-7
    @Option(parsing: .unconditional, help: "The learning rate the sweep grows towards.") var end = 10.0
    @Option(parsing: .unconditional, help: "Batches in the sweep (at least 6).") var iterations = 100
    @Flag(help: "One JSON object on stdout: the points (lr, loss, smoothed) and the suggestions.") var json = false

    var settings: LRFinderSettings { LRFinderSettings(start: start, end: end, iterations: iterations) }

    func validate() throws {
        _ = try recipe.resolve(model: model, dataset: dataset)
        do { try settings.validate() } catch let error as TrainingError { throw ValidationError(error.description) }
    }

    func run() throws {
        let config = try recipe.resolve(model: model, dataset: dataset)
        let handle = LRFinderRun.start(config, settings: settings)
        var measured = 0
        while true {
            handle.waitForEvents(timeout: nil)
            for event in handle.drain() {
                switch event {
                case .started: break
                case let .point(point):
                    // A line on stderr every 10 batches, so a slow model shows it is working.
                    measured += 1
                    if measured % 10 == 0 {
                        stderrLine("batch \(measured)/\(iterations): lr \(Format.learningRate(point.learningRate)), "
                                   + "loss \(Format.compact(Double(point.loss))), smoothed \(Format.compact(Double(point.smoothed)))")
                    }
                case let .finished(result):
                    if json { try printReport(config: config, result: result) } else { printText(config: config, result: result) }
                    return
                case let .failed(message):
                    stderrLine("error: \(message)")
                    throw ExitCode(1)
                }
            }
        }
    }

    /// The batches the suggestions were read on, 1-based, as "11-78".
    private func suggestedRange(_ result: LRFinderResult) -> String {
        let first = iterations / 10
        let count = LRSuggestions.trimmed(result.points, iterations: iterations).count
        return count == 0 ? "none" : "\(first + 1)-\(first + count)"
    }

    private func printText(config: TrainingConfig, result: LRFinderResult) {
        var optimizer = config.optimizer.rawValue
        if config.optimizer == .sgd { optimizer += " momentum \(Format.compact(Double(config.momentum)))" }
        optimizer += " weight decay \(Format.compact(Double(config.weightDecay)))"
        print("LR finder: \(config.model) on \(config.dataset), \(optimizer), batch \(config.batchSize), seed \(config.seed)")
        let n = result.points.count
        let ending: String
        switch result.stop {
        case .completed: ending = "all \(n) batches trained"
        case .diverged: ending = "stopped at batch \(n): the smoothed loss passed 4x its minimum"
        case .notFinite: ending = "stopped at batch \(n): the loss was not finite"
        case .cancelled: ending = "cancelled at batch \(n)"
        }
        print("swept \(String(format: "%g", start)) to \(String(format: "%g", end)) over \(iterations) batches; \(ending)")
        print("")

        // The chart the TUI's finder draws, in the locale's glyphs (ASCII under LANG=C), without colour.
        let environment = ProcessInfo.processInfo.environment
        let glyphs = TerminalCapabilities.detect(environment: environment, colorCount: nil, codeset: nil).glyphs
        let capabilities = TerminalCapabilities(colorDepth: .none, glyphs: glyphs)
        var grid = CellGrid(width: 78, height: 14)
        LRFinderChart.make(points: result.points, settings: settings, suggestions: result.suggestions,
                           selected: .valley, finished: true).render(into: &grid, area: grid.bounds, capabilities: capabilities)
        print("smoothed loss against learning rate (log scale), without the last \(LRFinderChart.skippedAtEnd) points; V valley, S steep")
        for line in grid.lines { print(line.replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)) }
        print("")

        // About 20 rows of the curve, evenly spaced, and the last point.
        print("batch        lr        loss    smoothed")
        let every = max(1, n / 20)
        for (i, p) in result.points.enumerated() where i % every == 0 || i == n - 1 {
            print(String(format: "%5d  %10.3e  %10.4f  %10.4f", i + 1, Double(p.learningRate), Double(p.loss), Double(p.smoothed)))
        }
        print("")
        guard !result.suggestions.isEmpty else {
            print("no suggestion: the curve is too short once fastai's trim drops its first \(iterations / 10) and last 5 batches")
            return
        }
        print("suggestions (fastai's rules on batches \(suggestedRange(result))):")
        for s in result.suggestions {
            let note = s.rule == .valley ? "  (fastai's default)" : ""
            print("  \(s.rule.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0))\(Format.learningRate(s.learningRate))\(note)")
        }
        print("  recipe  \(Format.learningRate(config.learningRate))  (the \(config.recipe) recipe's rate)")
    }

    private func printReport(config: TrainingConfig, result: LRFinderResult) throws {
        let report = LRFindReport(
            model: config.model, dataset: config.dataset, optimizer: config.optimizer.rawValue, momentum: config.momentum,
            weightDecay: config.weightDecay, batchSize: config.batchSize, seed: config.seed, recipeLearningRate: config.learningRate,
            start: start, end: end, iterations: iterations, stop: result.stop,
            points: result.points.map(LRFindReport.Point.init),
            suggestions: Dictionary(uniqueKeysWithValues: result.suggestions.map { ($0.rule.rawValue, $0.learningRate) }))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try encoder.encode(report), as: UTF8.self))
    }
}

/// `lr-find --json`'s one object. Losses that are not finite (the batch that stopped a sweep) are null.
struct LRFindReport: Encodable {
    struct Point: Encodable {
        var lr: Float
        var loss: Float
        var smoothed: Float
        init(_ point: LRFinderPoint) { lr = point.learningRate; loss = point.loss; smoothed = point.smoothed }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(lr, forKey: .lr)
            try c.encode(loss.isFinite ? loss : nil, forKey: .loss)
            try c.encode(smoothed.isFinite ? smoothed : nil, forKey: .smoothed)
        }
        enum CodingKeys: String, CodingKey { case lr, loss, smoothed }
    }
    var model: String
    var dataset: String
    var optimizer: String
    var momentum: Float
    var weightDecay: Float
    var batchSize: Int
    var seed: UInt64
    var recipeLearningRate: Float
    var start: Double
    var end: Double
    var iterations: Int
    var stop: LRFinderStop
    var points: [Point]
    /// By rule: "valley", "steep"; absent when the curve was too short.
    var suggestions: [String: Float]
    enum CodingKeys: String, CodingKey {
        case model, dataset, optimizer, momentum, seed, start, end, iterations, stop, points, suggestions
        case weightDecay = "weight_decay", batchSize = "batch_size", recipeLearningRate = "recipe_lr"
    }
}
