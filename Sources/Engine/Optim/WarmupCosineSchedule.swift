import Foundation

/// Per-batch linear warm-up then cosine annealing, as PyTorch's
/// `SequentialLR([LinearLR(start_factor, 1, W), CosineAnnealingLR(T - W, eta_min)], milestones: [W])`,
/// in closed form. After `t` calls of `stepBatch()`:
///
///     t < W:       base * (start + (1 - start) * t / W)
///     W <= t <= T: min + (base - min) * (1 + cos(pi * (t - W) / (T - W))) / 2
///     t > T:       min   (PyTorch's cosine would rise again; a run never steps past T)
///
/// `override` scales base and min by new / current, keeping the curve's shape and remaining length.
public final class WarmupCosineSchedule: LearningRateSchedule {
    public let warmupSteps: Int
    public let totalSteps: Int
    public let startFactor: Double
    public private(set) var baseRate: Double
    public private(set) var minRate: Double
    public private(set) var batch = 0
    private var rate: Double

    /// - Parameters:
    ///   - warmupSteps: W batches of linear warm-up (0 for none), less than `totalSteps`.
    ///   - totalSteps: T, the batches of the whole run (epochs * batches per epoch).
    ///   - startFactor: the first rate is `startFactor * base`; in (0, 1] like PyTorch's LinearLR.
    public init(baseLearningRate: Double, minLearningRate: Double, warmupSteps: Int, totalSteps: Int, startFactor: Double) throws {
        func check(_ ok: Bool, _ message: String) throws {
            if !ok { throw EngineError.invalidArgument(layer: "cosine schedule", message: message) }
        }
        try check(totalSteps >= 1, "the run has \(totalSteps) batches; it needs at least 1")
        try check(warmupSteps >= 0 && warmupSteps < totalSteps,
                  "warm-up of \(warmupSteps) batches must be shorter than the run (\(totalSteps) batches)")
        try check(startFactor > 0 && startFactor <= 1, "start factor \(startFactor) must lie in (0, 1]")
        try check(minLearningRate >= 0 && minLearningRate <= baseLearningRate,
                  "minimum rate \(minLearningRate) must lie in [0, base rate \(baseLearningRate)]")
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.startFactor = startFactor
        self.baseRate = baseLearningRate
        self.minRate = minLearningRate
        self.rate = 0
        rate = rate(at: 0)
    }

    func rate(at t: Int) -> Double {
        if t < warmupSteps { return baseRate * (startFactor + (1 - startFactor) * Double(t) / Double(warmupSteps)) }
        if t > totalSteps { return minRate }
        let progress = Double(t - warmupSteps) / Double(totalSteps - warmupSteps)
        return minRate + (baseRate - minRate) * (1 + cos(Double.pi * progress)) / 2
    }

    public var learningRate: Float { Float(rate) }

    public func stepBatch() -> Float {
        batch += 1
        rate = rate(at: batch)
        return learningRate
    }

    public func stepEpoch(metric: Float?) -> Float { learningRate }

    public func override(learningRate: Float) {
        let target = Double(learningRate)
        if rate > 0 {
            baseRate *= target / rate
            minRate *= target / rate
        } else {
            baseRate = target  // the flat end of a curve whose minimum is 0: the new value becomes the floor
            minRate = target
        }
        rate = target
    }

    public var state: [String: Double] { ["batch": Double(batch), "base_lr": baseRate, "min_lr": minRate, "lr": rate] }

    public func restore(_ state: [String: Double]) throws {
        let name = "cosine schedule"
        let batch = try counter("batch", in: state, schedule: name), base = try value("base_lr", in: state, schedule: name)
        let minimum = try value("min_lr", in: state, schedule: name), rate = try value("lr", in: state, schedule: name)
        self.batch = batch
        baseRate = base
        minRate = minimum
        self.rate = rate
    }
}
