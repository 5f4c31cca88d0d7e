/// Elementwise activations: ReLU, SiLU (x * sigmoid(x), the "Swish" of EfficientNet), Sigmoid.
/// Shapes: output = input, any rank.
public final class Activation: Layer {
    public enum Kind: String, Sendable { case relu = "ReLU", silu = "SiLU", sigmoid = "Sigmoid" }
    public var name = ""
    public let kind: Kind
    public var typeName: String { kind.rawValue }

    public init(_ kind: Kind) { self.kind = kind }

    public func outputShape(for input: [Int]) throws -> [Int] { input }

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        fatalError("TODO(engine-ops): Activation.forward")
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        fatalError("TODO(engine-ops): Activation.backward")
    }
}
