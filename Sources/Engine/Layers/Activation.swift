/// Elementwise activations: ReLU, ReLU6 (MobileNet's ReLU clipped at 6), SiLU (x * sigmoid(x), the "Swish" of EfficientNet), Sigmoid.
/// Shapes: output = input, any rank.
public final class Activation: Layer {
    public enum Kind: String, Sendable { case relu = "ReLU", relu6 = "ReLU6", silu = "SiLU", sigmoid = "Sigmoid" }
    public var name = ""
    public let kind: Kind
    public var typeName: String { kind.rawValue }

    private let output = Tensor(shape: [0])
    /// ReLU, ReLU6 and SiLU differentiate from the input (owned by the layer before, valid until its next forward);
    /// Sigmoid from its own output.
    private var input: Tensor?

    /// The BatchNorm2d before this ReLU that already rectifies its output (set by `Sequential`). Only a
    /// call whose input *is* that layer's output passes through, so a ReLU used anywhere else still works.
    weak var fusedInto: BatchNorm2d?
    /// Whether the last forward passed its input through (then backward passes the gradient through too).
    private var passedThrough = false

    public init(_ kind: Kind) { self.kind = kind }

    public func outputShape(for input: [Int]) throws -> [Int] { input }

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        if let bn = fusedInto, bn.isOutput(input) {
            passedThrough = true
            self.input = nil
            return input
        }
        passedThrough = false
        output.resize(to: input.shape)
        let n = input.count
        switch kind {
        case .relu: reluForward(y: output.data, x: input.data, n: n)
        case .relu6: relu6Forward(y: output.data, x: input.data, n: n)
        case .silu: siluForward(y: output.data, x: input.data, n: n)
        case .sigmoid: sigmoidForward(y: output.data, x: input.data, n: n)
        }
        self.input = input
        return output
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        if passedThrough { return gradOutput }
        guard let input else { preconditionFailure("\(displayName): backward before forward") }
        let gradInput = GradientPool.forCurrentThread().take(input.shape)
        let n = input.count
        switch kind {
        case .relu: reluBackward(dx: gradInput.data, dy: gradOutput.data, x: input.data, n: n)
        case .relu6: relu6Backward(dx: gradInput.data, dy: gradOutput.data, x: input.data, n: n)
        case .silu: siluBackward(dx: gradInput.data, dy: gradOutput.data, x: input.data, n: n)
        case .sigmoid: sigmoidBackward(dx: gradInput.data, dy: gradOutput.data, y: output.data, n: n)
        }
        return gradInput
    }
}
