/// Dropout (`nn.Dropout(p)`): in training, zero each element with probability p and scale the rest by
/// 1/(1-p); identity in eval. Draws from the network's shared `RandomStream`, so runs are seeded.
public final class Dropout: Layer {
    public var name = ""
    public var typeName: String { "Dropout" }
    public let p: Float
    public let random: RandomStream

    private let output = Tensor(shape: [0])
    /// 0 or 1/(1-p) per element, drawn in forward and reused by backward.
    private let mask = Tensor(shape: [0])
    /// False when the last forward passed its input through (eval, or p = 0).
    private var masked = false

    public init(p: Float, random: RandomStream) {
        self.p = p
        self.random = random
    }

    public func outputShape(for input: [Int]) throws -> [Int] { input }

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        try checkProbability(p, layer: displayName)
        masked = training && p > 0
        guard masked else { return input }
        mask.resize(to: input.shape)
        output.resize(to: input.shape)
        fillDropoutMask(mask.data, n: mask.count, p: p, random: &random.source)
        multiply(y: output.data, x: input.data, mask: mask.data, n: input.count)
        return output
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        guard masked else { return gradOutput }
        let gradInput = GradientPool.forCurrentThread().take(gradOutput.shape)
        multiply(y: gradInput.data, x: gradOutput.data, mask: mask.data, n: gradOutput.count)
        return gradInput
    }
}

/// Drop-path / stochastic depth on a residual branch (timm's `drop_path`): in training, zero a whole
/// sample with probability p and scale kept samples by 1/(1-p); identity in eval. Shapes: [N, ...] -> same.
public final class DropPath: Layer {
    public var name = ""
    public var typeName: String { "DropPath" }
    public let p: Float
    public let random: RandomStream

    private let output = Tensor(shape: [0])
    /// One factor per sample, 0 or 1/(1-p), drawn in forward and reused by backward.
    private let sampleScale = Tensor(shape: [0])
    private var masked = false

    public init(p: Float, random: RandomStream) {
        self.p = p
        self.random = random
    }

    public func outputShape(for input: [Int]) throws -> [Int] { input }

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        try checkProbability(p, layer: displayName)
        guard !input.shape.isEmpty else {
            throw EngineError.shapeMismatch(layer: displayName, expected: "[N, ...]", got: input.shape)
        }
        masked = training && p > 0
        guard masked else { return input }
        let N = input.shape[0]
        sampleScale.resize(to: [N])
        output.resize(to: input.shape)
        fillDropoutMask(sampleScale.data, n: N, p: p, random: &random.source)
        scaleRows(y: output.data, x: input.data, scale: sampleScale.data, N: N, D: N == 0 ? 0 : input.count / N)
        return output
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        guard masked else { return gradOutput }
        let N = gradOutput.shape[0]
        let gradInput = GradientPool.forCurrentThread().take(gradOutput.shape)
        scaleRows(y: gradInput.data, x: gradOutput.data, scale: sampleScale.data, N: N, D: N == 0 ? 0 : gradOutput.count / N)
        return gradInput
    }
}

private func checkProbability(_ p: Float, layer: String) throws {
    guard p >= 0, p <= 1 else {
        throw EngineError.invalidArgument(layer: layer, message: "drop probability must be in [0, 1], got \(p)")
    }
}
