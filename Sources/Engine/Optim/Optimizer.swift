/// An optimizer updates trainable parameters from their accumulated gradients with PyTorch's exact rules.
/// Its state (moments, step count) can be checkpointed as named tensors and restored.
public protocol Optimizer: AnyObject {
    /// The learning rate the next `step()` uses; schedules and the UI set it.
    var learningRate: Float { get set }
    /// One update of every parameter from its `grad`, in `parameters` order.
    func step()
    /// Zeroes every parameter's gradient (PyTorch `zero_grad`).
    func zeroGradients()
    /// Moments and counters under stable names (`exp_avg.3`, `step`), for checkpoints.
    func stateEntries() -> [(String, Safetensors.Entry)]
    func loadState(_ entries: [String: Safetensors.Entry], file: String) throws
}

/// A learning-rate schedule, stepped like PyTorch's: `stepBatch()` after every optimizer step,
/// `stepEpoch(metric:)` after every epoch (the metric is ReduceLROnPlateau's; others ignore it).
/// Each returns the learning rate to use from then on.
///
/// A manual change (the UI's `l` key) calls `override(learningRate:)`: the schedule continues from the
/// new value as its base, scaling it the way it would have scaled the old one from here on
/// (StepLR keeps halving from the new value; cosine keeps its shape, rescaled so the new value is the
/// current point; plateau keeps its counters).
public protocol LearningRateSchedule: AnyObject {
    var learningRate: Float { get }
    func stepBatch() -> Float
    func stepEpoch(metric: Float?) -> Float
    func override(learningRate: Float)
    /// Counters and bases for checkpoints, as plain numbers.
    var state: [String: Double] { get }
    func restore(_ state: [String: Double])
}
