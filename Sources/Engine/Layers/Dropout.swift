/// Dropout (`nn.Dropout(p)`): in training, zero each element with probability p and scale the rest by
/// 1/(1-p); identity in eval. Draws from the network's shared `RandomStream`, so runs are seeded.
public final class Dropout: Layer {
    public var name = ""
    public var typeName: String { "Dropout" }
    public let p: Float
    public let random: RandomStream

    public init(p: Float, random: RandomStream) {
        self.p = p
        self.random = random
    }

    public func outputShape(for input: [Int]) throws -> [Int] { input }

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        fatalError("TODO(engine-ops): Dropout.forward")
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        fatalError("TODO(engine-ops): Dropout.backward")
    }
}

/// Drop-path / stochastic depth on a residual branch (timm's `drop_path`): in training, zero a whole
/// sample with probability p and scale kept samples by 1/(1-p); identity in eval. Shapes: [N, ...] -> same.
public final class DropPath: Layer {
    public var name = ""
    public var typeName: String { "DropPath" }
    public let p: Float
    public let random: RandomStream

    public init(p: Float, random: RandomStream) {
        self.p = p
        self.random = random
    }

    public func outputShape(for input: [Int]) throws -> [Int] { input }

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        fatalError("TODO(engine-ops): DropPath.forward")
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        fatalError("TODO(engine-ops): DropPath.backward")
    }
}
