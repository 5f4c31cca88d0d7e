/// PyTorch's `ReduceLROnPlateau`, stepped by `stepEpoch(metric:)` with the validation metric:
///
///     better = min/rel: m < best * (1 - threshold)    min/abs: m < best - threshold
///              max/rel: m > best * (1 + threshold)    max/abs: m > best + threshold
///     if better { best = m; bad = 0 } else { bad += 1 }
///     if cooldown > 0 { cooldown -= 1; bad = 0 }       (bad epochs in cooldown are ignored)
///     if bad > patience { new = max(lr * factor, min_lr); if lr - new > eps { lr = new }; cooldown = cooldown0; bad = 0 }
///
/// `stepEpoch(metric: nil)` (no validation this epoch) changes nothing. `override` replaces the rate and
/// keeps the counters.
public final class ReduceLROnPlateau: LearningRateSchedule {
    public enum Mode: String, Sendable { case min, max }
    public enum ThresholdMode: String, Sendable { case rel, abs }

    /// PyTorch's arguments and defaults.
    public struct Options: Equatable, Sendable {
        public var mode: Mode = .min
        public var factor = 0.1
        public var patience = 10
        public var threshold = 1e-4
        public var thresholdMode: ThresholdMode = .rel
        public var cooldown = 0
        public var minLearningRate = 0.0
        public var eps = 1e-8
        public init() {}
    }

    public let options: Options
    public private(set) var best: Double
    public private(set) var badEpochs = 0
    public private(set) var cooldownCounter = 0
    public private(set) var epoch = 0
    private var rate: Double

    public init(baseLearningRate: Double, options: Options = Options()) throws {
        func check(_ ok: Bool, _ message: String) throws {
            if !ok { throw EngineError.invalidArgument(layer: "plateau schedule", message: message) }
        }
        try check(options.factor > 0 && options.factor < 1, "factor \(options.factor) must lie in (0, 1)")
        try check(options.patience >= 0, "patience \(options.patience) is negative")
        try check(options.cooldown >= 0, "cooldown \(options.cooldown) is negative")
        try check(options.threshold >= 0, "threshold \(options.threshold) is negative")
        try check(options.minLearningRate >= 0, "min_lr \(options.minLearningRate) is negative")
        self.options = options
        self.rate = baseLearningRate
        self.best = options.mode == .min ? .infinity : -.infinity
    }

    func isBetter(_ metric: Double) -> Bool {
        switch (options.mode, options.thresholdMode) {
        case (.min, .rel): return metric < best * (1 - options.threshold)
        case (.min, .abs): return metric < best - options.threshold
        case (.max, .rel): return metric > best * (options.threshold + 1)
        case (.max, .abs): return metric > best + options.threshold
        }
    }

    public var learningRate: Float { Float(rate) }
    public func stepBatch() -> Float { learningRate }

    public func stepEpoch(metric: Float?) -> Float {
        guard let metric else { return learningRate }
        let current = Double(metric)
        epoch += 1
        if isBetter(current) {
            best = current
            badEpochs = 0
        } else {
            badEpochs += 1
        }
        if cooldownCounter > 0 {
            cooldownCounter -= 1
            badEpochs = 0
        }
        if badEpochs > options.patience {
            let reduced = max(rate * options.factor, options.minLearningRate)
            if rate - reduced > options.eps { rate = reduced }
            cooldownCounter = options.cooldown
            badEpochs = 0
        }
        return learningRate
    }

    public func override(learningRate: Float) { rate = Double(learningRate) }

    /// `best` is ±infinity until the first metric arrives.
    public var state: [String: Double] {
        ["lr": rate, "best": best, "num_bad_epochs": Double(badEpochs), "cooldown_counter": Double(cooldownCounter),
         "epoch": Double(epoch)]
    }

    public func restore(_ state: [String: Double]) throws {
        let name = "plateau schedule"
        let rate = try value("lr", in: state, schedule: name), best = try value("best", in: state, schedule: name)
        let bad = try counter("num_bad_epochs", in: state, schedule: name)
        let cooldown = try counter("cooldown_counter", in: state, schedule: name), epoch = try counter("epoch", in: state, schedule: name)
        self.rate = rate
        self.best = best
        badEpochs = bad
        cooldownCounter = cooldown
        self.epoch = epoch
    }
}
