/// What a named state tensor is, which decides who updates it and how it is saved.
public enum StateKind: Sendable {
    /// Learned by the optimizer; has a gradient.
    case weight
    /// Updated by the layer itself (BatchNorm running statistics); saved, never optimised.
    case buffer
    /// An integer counter kept as a one-element float tensor and saved as int64 (`num_batches_tracked`).
    case counter
}

/// A parameter or buffer of a layer: its value, and for weights a gradient that backward accumulates into.
public final class Parameter {
    public let kind: StateKind
    public let value: Tensor
    /// Same shape as `value`; present for `.weight` only. Backward passes *add* into it; the optimizer zeroes it.
    public let grad: Tensor?

    public init(shape: [Int], kind: StateKind = .weight) {
        self.kind = kind
        self.value = Tensor(shape: shape)
        self.grad = kind == .weight ? Tensor(shape: shape) : nil
    }

    public var shape: [Int] { value.shape }
    public var count: Int { value.count }
    public var isTrainable: Bool { kind == .weight }
}
