/// An optimizer updates trainable parameters from their accumulated gradients with PyTorch's exact rules.
/// Its state (moments, step count) can be checkpointed as named tensors and restored.
public protocol Optimizer: AnyObject {
    /// The learning rate the next `step()` uses; schedules and the UI set it.
    var learningRate: Float { get set }
    /// The trainable parameters it updates, in the order state indices (`exp_avg.<i>`) count them.
    var parameters: [Parameter] { get }
    /// One update of every parameter from its `grad`, in `parameters` order.
    func step()
    /// Moments and counters under stable names (`exp_avg.3`, `step`), for checkpoints.
    func stateEntries() -> [(String, Safetensors.Entry)]
    /// Restores what `stateEntries()` wrote; every name must be present with its parameter's element count.
    func loadState(_ entries: [String: Safetensors.Entry], file: String) throws
}

extension Optimizer {
    /// Zeroes every parameter's gradient (PyTorch `zero_grad`).
    public func zeroGradients() {
        for p in parameters { p.grad?.zero() }
    }
}

/// A learning-rate schedule, stepped like PyTorch's: `stepBatch()` after every optimizer step,
/// `stepEpoch(metric:)` after every epoch (the metric is ReduceLROnPlateau's; others ignore it).
/// Each returns the learning rate to use from then on; `learningRate` is the current one (before any step:
/// the base rate, or the first warm-up rate). Per-epoch schedules return the current rate from `stepBatch()`
/// unchanged and vice versa, so a training loop calls both on every schedule.
///
/// A manual change (the UI's `l` key) calls `override(learningRate:)`. The new value takes effect at once
/// (`learningRate` returns it), and the schedule continues from it as it would have continued from the old
/// value: it rescales its base so the new value is the current point of its curve.
/// - constant: the new value is the base.
/// - StepLR / MultiStepLR: future decays multiply the new value (`step:10:0.5` keeps halving from it).
/// - warm-up + cosine: the whole curve, minimum included, is scaled by new / current, so the shape and the
///   remaining length are kept (at the flat end of a curve whose minimum is 0 the new value becomes the floor).
/// - ReduceLROnPlateau: the rate is replaced; best, bad-epoch and cooldown counters are kept, and later
///   reductions multiply the new value (still floored at `min_lr`, as PyTorch does after `param_group['lr'] = x`).
public protocol LearningRateSchedule: AnyObject {
    var learningRate: Float { get }
    func stepBatch() -> Float
    func stepEpoch(metric: Float?) -> Float
    func override(learningRate: Float)
    /// Counters and (possibly overridden) bases for checkpoints, as plain numbers.
    var state: [String: Double] { get }
    /// Restores what `state` returned, into a schedule made from the same spec; throws naming a missing key.
    func restore(_ state: [String: Double]) throws
}

extension LearningRateSchedule {
    /// Reads one key of a saved state, or throws naming the schedule and the key.
    func value(_ key: String, in state: [String: Double], schedule: String) throws -> Double {
        guard let v = state[key] else {
            throw EngineError.checkpoint(file: "\(schedule) state", message: "missing '\(key)' (saved by another schedule?)")
        }
        return v
    }

    /// Reads a counter of a saved state: a whole number in 0...Int32.max, or throws.
    func counter(_ key: String, in state: [String: Double], schedule: String) throws -> Int {
        let v = try value(key, in: state, schedule: schedule)
        guard v >= 0, v <= Double(Int32.max), v == v.rounded() else {
            throw EngineError.checkpoint(file: "\(schedule) state", message: "'\(key)' is \(v), not a whole number >= 0")
        }
        return Int(v)
    }
}
