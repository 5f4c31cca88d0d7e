/// Dropout at two granularities, one layer: in training, zero each unit with probability p and scale the kept
/// ones by 1/(1-p); identity in eval. Draws from the network's shared `RandomStream`, so runs are seeded.
/// - `.element`: `nn.Dropout(p)`, one draw per element.
/// - `.sample`: drop-path / stochastic depth on a residual branch (timm's `drop_path`), one draw per sample
///   of [N, ...], which zeroes or scales the whole sample.
public final class Dropout: Layer {
    public enum Unit: Sendable { case element, sample }

    public var name = ""
    public var typeName: String { unit == .element ? "Dropout" : "DropPath" }
    public let p: Float
    public let unit: Unit
    public let random: RandomStream

    private let output = Tensor(shape: [0])
    /// One factor per unit, 0 or 1/(1-p), drawn in forward and reused by backward.
    private let factors = Tensor(shape: [0])
    /// False when the last forward passed its input through (eval, or p = 0).
    private var masked = false

    public init(p: Float, random: RandomStream, unit: Unit = .element) {
        self.p = p
        self.random = random
        self.unit = unit
    }

    public func outputShape(for input: [Int]) throws -> [Int] { input }

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        guard p >= 0, p <= 1 else {
            throw EngineError.invalidArgument(layer: displayName, message: "drop probability must be in [0, 1], got \(p)")
        }
        if unit == .sample, input.shape.isEmpty {
            throw EngineError.shapeMismatch(layer: displayName, expected: "[N, ...]", got: input.shape)
        }
        masked = training && p > 0
        guard masked else { return input }
        factors.resize(to: [unit == .element ? input.count : input.shape[0]])
        output.resize(to: input.shape)
        fillDropoutMask(factors.data, n: factors.count, p: p, random: &random.source)
        apply(to: input, into: output)
        return output
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        guard masked else { return gradOutput }
        let gradInput = GradientPool.forCurrentThread().take(gradOutput.shape)
        apply(to: gradOutput, into: gradInput)
        return gradInput
    }

    /// y = x * factor of x's unit: the forward and its own adjoint.
    private func apply(to x: Tensor, into y: Tensor) {
        switch unit {
        case .element:
            multiply(y: y.data, x: x.data, mask: factors.data, n: x.count)
        case .sample:
            let N = factors.count
            scaleRows(y: y.data, x: x.data, scale: factors.data, N: N, D: N == 0 ? 0 : x.count / N)
        }
    }
}
