/// Softmax cross-entropy with mean reduction and optional label smoothing, as `F.cross_entropy`:
/// loss_n = -sum_c q_nc * log softmax(z_n)_c with q = (1 - s) * onehot + s / C.
/// Shapes: logits [N, C], labels N class indices; `gradient` [N, C] = (softmax - q) / N.
public final class CrossEntropyLoss {
    public let labelSmoothing: Float
    public let gradient = Tensor(shape: [0])

    public init(labelSmoothing: Float = 0) { self.labelSmoothing = labelSmoothing }

    /// Returns the mean loss and fills `gradient`.
    public func forward(logits: Tensor, labels: UnsafeBufferPointer<Int32>) -> Float {
        fatalError("TODO(engine-ops): CrossEntropyLoss.forward")
    }
}

/// Row-wise softmax of logits [N, C] into probabilities [N, C] (max-subtracted for stability).
public func softmax(_ logits: Tensor, into probabilities: Tensor) {
    fatalError("TODO(engine-ops): softmax")
}
