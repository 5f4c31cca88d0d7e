/// Softmax cross-entropy with mean reduction and optional label smoothing, as `F.cross_entropy`:
/// loss_n = -sum_c q_nc * log softmax(z_n)_c with q = (1 - s) * onehot + s / C.
/// Shapes: logits [N, C], labels N class indices; `gradient` [N, C] = (softmax - q) / N.
public final class CrossEntropyLoss {
    public let labelSmoothing: Float
    public let gradient = Tensor(shape: [0])
    /// Softmax of the last logits, [N, C].
    public let probabilities = Tensor(shape: [0])

    public init(labelSmoothing: Float = 0) { self.labelSmoothing = labelSmoothing }

    /// Returns the mean loss and fills `gradient` (and `probabilities`).
    /// Throws `EngineError` for logits that are not [N, C] with N = labels.count, or a label outside 0..<C.
    public func forward(logits: Tensor, labels: UnsafeBufferPointer<Int32>) throws -> Float {
        let layer = "CrossEntropyLoss"
        guard logits.shape.count == 2, logits.shape[0] == labels.count, logits.shape[0] > 0, logits.shape[1] > 0 else {
            throw EngineError.shapeMismatch(layer: layer, expected: "logits [\(labels.count), C] for \(labels.count) labels",
                                            got: logits.shape)
        }
        let (N, C) = (logits.shape[0], logits.shape[1])
        for (n, label) in labels.enumerated() where label < 0 || Int(label) >= C {
            throw EngineError.invalidArgument(layer: layer, message: "label \(label) of sample \(n) is outside 0..<\(C)")
        }
        guard let labelData = labels.baseAddress else { return 0 }  // unreachable: N > 0
        gradient.resize(to: logits.shape)
        probabilities.resize(to: logits.shape)
        return crossEntropyForwardBackward(
            dLogits: gradient.data, probs: probabilities.data, logits: logits.data, labels: labelData,
            N: N, C: C, smoothing: labelSmoothing)
    }
}

/// Row-wise softmax of logits [N, C] into probabilities [N, C] (max-subtracted for stability).
public func softmax(_ logits: Tensor, into probabilities: Tensor) {
    precondition(logits.shape.count == 2, "softmax expects logits [N, C], got \(shapeString(logits.shape))")
    probabilities.resize(to: logits.shape)
    guard logits.shape[1] > 0 else { return }
    softmaxForward(probs: probabilities.data, logits: logits.data, N: logits.shape[0], C: logits.shape[1])
}
