import Data
import Engine
import Foundation

/// fastai's learning-rate range test (`fastai/callback/schedule.py`, `LRFinder` and `Learner.lr_find`):
/// train for up to `iterations` batches while the learning rate grows exponentially from `start` to `end`,
/// smooth the loss, stop once it diverges, and suggest a rate from the curve. Lightning's tuner does the same
/// with other defaults (1e-8 to 1); these are fastai's.
public struct LRFinderSettings: Sendable, Equatable {
    public var start: Double
    public var end: Double
    public var iterations: Int

    public init(start: Double = 1e-7, end: Double = 10, iterations: Int = 100) {
        self.start = start; self.end = end; self.iterations = iterations
    }

    /// The EMA factor of the smoothed loss (fastai's `AvgSmoothLoss`, Lightning's `beta`).
    public static let smoothing = 0.98
    /// The sweep stops once the smoothed loss passes this many times its minimum (fastai's `stop_div`).
    public static let divergence = 4.0
    /// fastai raises fewer iterations to 6: its suggestions drop the last 5 points.
    public static let minimumIterations = 6

    /// The rate of batch `i` (0-based): `start * (end/start)^(i/iterations)`, fastai's `SchedExp` at position
    /// `i/iterations`, so batch 0 uses `start` and the rate reaches `end` only one batch past the last.
    public func learningRate(at i: Int) -> Double {
        start * pow(end / start, Double(i) / Double(iterations))
    }

    /// Checks the ranges; the error names the flag of `cnntui lr-find` a user would change.
    public func validate() throws {
        func bad(_ flag: String, _ message: String) -> TrainingError { .invalidFlag(flag: flag, message: message) }
        if !(start.isFinite && start > 0) { throw bad("--start", "must be a positive number, got \(start)") }
        if !(end.isFinite && end > 0) { throw bad("--end", "must be a positive number, got \(end)") }
        if !(end > start) { throw bad("--end", "must be above --start (\(start)), got \(end)") }
        if iterations < Self.minimumIterations {
            throw bad("--iterations", "must be at least \(Self.minimumIterations), got \(iterations)")
        }
    }
}

/// One batch of the sweep: the rate it trained at, its loss, and the smoothed loss after it.
public struct LRFinderPoint: Sendable, Equatable {
    public var learningRate: Float
    public var loss: Float
    public var smoothed: Float
    public init(learningRate: Float, loss: Float, smoothed: Float) {
        self.learningRate = learningRate; self.loss = loss; self.smoothed = smoothed
    }
}

/// An exponential moving average with fastai's bias correction: the average starts at 0, so after `n` values it
/// is divided by `1 - beta^n` (otherwise the first values would read about 50 times too small).
public struct LossSmoother: Sendable {
    public let beta: Double
    private var average = 0.0
    private var count = 0

    public init(beta: Double = LRFinderSettings.smoothing) { self.beta = beta }

    /// Adds a loss; returns the corrected average so far.
    public mutating func add(_ loss: Double) -> Double {
        average = beta * average + (1 - beta) * loss
        count += 1
        return average / (1 - pow(beta, Double(count)))
    }
}

/// Why a sweep ended.
public enum LRFinderStop: String, Sendable, Equatable, Codable {
    /// All `iterations` batches were trained.
    case completed
    /// The smoothed loss passed `divergence` times its minimum.
    case diverged
    /// The loss or a gradient was NaN or infinite (the step was not applied).
    case notFinite = "not_finite"
    /// The user asked it to stop.
    case cancelled
}

/// The curve as it is measured, with fastai's stopping rules: after each batch the smoothed loss is
/// compared with the lowest so far (`stop_div`), and the sweep ends after `iterations` batches.
/// fastai would go on past a NaN loss and drop it when suggesting; nothing is learned past one, so we stop.
public struct LRFinderCurve: Sendable {
    public let iterations: Int
    public private(set) var points: [LRFinderPoint] = []
    private var smoother = LossSmoother()
    private var lowest = Double.infinity

    public init(iterations: Int) { self.iterations = iterations }

    /// Adds one batch; returns why the sweep ends here, or nil to go on.
    /// - Parameter finite: false when the step found a NaN or an infinity in the loss or a gradient.
    public mutating func add(learningRate: Float, loss: Float, finite: Bool = true) -> LRFinderStop? {
        let smoothed = smoother.add(Double(loss))
        points.append(LRFinderPoint(learningRate: learningRate, loss: loss, smoothed: Float(smoothed)))
        if !finite || !smoothed.isFinite { return .notFinite }
        lowest = min(lowest, smoothed)
        if smoothed > LRFinderSettings.divergence * lowest { return .diverged }
        return points.count >= iterations ? .completed : nil
    }
}

/// A suggested learning rate and the point of the curve it was read at.
public struct LRSuggestion: Sendable, Equatable {
    public enum Rule: String, Sendable, CaseIterable {
        /// fastai's default: about halfway down the longest descent.
        case valley
        /// The steepest descent of the smoothed loss against log LR.
        case steep
    }
    public var rule: Rule
    public var learningRate: Float
    /// The smoothed loss at that rate.
    public var loss: Float
}

/// fastai's suggestion functions (`valley`, `steep`), on its trimmed curve.
public enum LRSuggestions {
    /// The points fastai suggests from: the first `iterations / 10` and the last 5 dropped (the start is flat
    /// noise, the end diverging), then everything from the first non-finite smoothed loss on.
    public static func trimmed(_ points: [LRFinderPoint], iterations: Int) -> ArraySlice<LRFinderPoint> {
        let first = iterations / 10
        let end = points.count - 5
        guard end > first else { return [] }
        let kept = points[first..<end]
        return kept.prefix { $0.smoothed.isFinite }
    }

    /// Both rules on the trimmed curve; empty when too little of the curve is left.
    public static func suggest(_ points: [LRFinderPoint], iterations: Int) -> [LRSuggestion] {
        let curve = Array(trimmed(points, iterations: iterations))
        let rates = curve.map { Double($0.learningRate) }, losses = curve.map { Double($0.smoothed) }
        var found: [LRSuggestion] = []
        if let i = valley(losses) { found.append(LRSuggestion(rule: .valley, learningRate: curve[i].learningRate, loss: curve[i].smoothed)) }
        if let i = steep(rates: rates, losses: losses) {
            found.append(LRSuggestion(rule: .steep, learningRate: curve[i].learningRate, loss: curve[i].smoothed))
        }
        return found
    }

    /// fastai's `valley`: the longest strictly decreasing run of losses (not necessarily adjacent, as in a
    /// longest decreasing subsequence, O(n^2) as fastai computes it), then the index `start + ⌊len/3⌋ + ⌊len/6⌋`
    /// into it, with fastai's bookkeeping kept exactly (its `max_start` is one before the run's first point).
    /// Returns an index into `losses`; nil when empty.
    public static func valley(_ losses: [Double]) -> Int? {
        let n = losses.count
        guard n > 0 else { return nil }
        var runLength = [Int](repeating: 1, count: n)
        var maxStart = 0, maxEnd = 0
        for i in 1..<max(1, n) {
            for j in 0..<i {
                if losses[i] < losses[j] && runLength[i] < runLength[j] + 1 { runLength[i] = runLength[j] + 1 }
                if runLength[maxEnd] < runLength[i] {
                    maxEnd = i
                    maxStart = maxEnd - runLength[maxEnd]
                }
            }
        }
        let sections = Double(maxEnd - maxStart) / 3
        // A descent of two points starting at 0 gives -1, which Python reads as the last point; we take the first.
        return max(0, maxStart + Int(sections) + Int(sections / 2))
    }

    /// fastai's `steep`: the point where the loss falls fastest against log LR, i.e. the left end of the segment
    /// with the most negative `Δloss / Δlog(lr)` (the first of equals). Nil below two points.
    public static func steep(rates: [Double], losses: [Double]) -> Int? {
        guard rates.count >= 2, rates.count == losses.count else { return nil }
        var best: Int?
        var bestSlope = Double.infinity
        for k in 0..<(rates.count - 1) {
            let slope = (losses[k + 1] - losses[k]) / (log(rates[k + 1]) - log(rates[k]))
            if slope < bestSlope { bestSlope = slope; best = k }
        }
        return best
    }
}

/// What a sweep measured.
public struct LRFinderResult: Sendable, Equatable {
    public var points: [LRFinderPoint]
    public var stop: LRFinderStop
    public var suggestions: [LRSuggestion]

    public init(points: [LRFinderPoint], stop: LRFinderStop, suggestions: [LRSuggestion]) {
        self.points = points; self.stop = stop; self.suggestions = suggestions
    }

    public func suggestion(_ rule: LRSuggestion.Rule) -> LRSuggestion? { suggestions.first { $0.rule == rule } }
}

/// The sweep itself, on a network and optimizer it is given: each batch is one `TrainingStep.train()` (the
/// training step, so the sweep measures what training would do) at the sweep's rate. Afterwards the weights,
/// the BatchNorm statistics and counters, the optimizer's state and rate and the network's random stream are
/// put back exactly as they were, as fastai reloads the model it saved before (`learn.save('_tmp')`).
public enum LRSweep {
    /// - Parameters:
    ///   - step: the network and the optimizer (with its momentum and weight decay) to sweep with.
    ///   - loader: the training batches; epochs 1, 2, ... are started as the sweep needs them.
    ///   - isCancelled: asked before each batch; true ends the sweep with `.cancelled`.
    ///   - onPoint: called after each batch with its point.
    public static func run(step: TrainingStep, loader: BatchLoader, settings: LRFinderSettings,
                           isCancelled: () -> Bool = { false }, onPoint: (LRFinderPoint) -> Void = { _ in }) throws
        -> LRFinderResult {
        let network = step.network, optimizer = step.optimizer
        let weights = network.root.stateDictEntries()
        let optimizerState = Dictionary(uniqueKeysWithValues: optimizer.stateEntries())
        let learningRate = optimizer.learningRate
        let random = network.random.source
        defer {
            // The saved entries fit this very network and optimizer, so loading them cannot fail.
            try? network.root.loadStateDict(Dictionary(uniqueKeysWithValues: weights), file: "LR finder snapshot")
            try? optimizer.loadState(optimizerState, file: "LR finder snapshot")
            optimizer.learningRate = learningRate
            network.random.source = random
            optimizer.zeroGradients()
        }

        var curve = LRFinderCurve(iterations: settings.iterations)
        var epoch = 1
        loader.startEpoch(epoch)
        var stop: LRFinderStop?
        while stop == nil {
            if isCancelled() {
                stop = .cancelled
                continue
            }
            guard let batch = loader.next() else {
                epoch += 1
                loader.startEpoch(epoch)
                continue
            }
            let rate = Float(settings.learningRate(at: curve.points.count))
            optimizer.learningRate = rate
            step.load(images: batch.images, labels: batch.labels, count: batch.count)
            loader.recycle(consume batch)
            do {
                stop = curve.add(learningRate: rate, loss: try step.train().loss)
            } catch let found as TrainingStep.NotFinite {
                stop = curve.add(learningRate: rate, loss: found.loss, finite: false)
            }
            if let point = curve.points.last { onPoint(point) }
        }
        return LRFinderResult(points: curve.points, stop: stop ?? .completed,
                              suggestions: LRSuggestions.suggest(curve.points, iterations: settings.iterations))
    }
}
