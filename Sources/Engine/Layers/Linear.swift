/// Fully connected layer as `nn.Linear`: y = x W^T + b.
///
/// Shapes: input [N, F] (a 4-D input is read as its flattened [N, C*H*W]), weight [O, F], bias [O], output [N, O].
public final class Linear: Layer {
    public var name = ""
    public var typeName: String { "Linear" }
    public let inFeatures: Int, outFeatures: Int
    public let weight: Parameter
    public let bias: Parameter?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, random: inout RandomSource) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        weight = Parameter(shape: [outFeatures, inFeatures])
        Initializer.pytorchDefault(weight.value, fanIn: inFeatures, random: &random)
        if bias {
            let b = Parameter(shape: [outFeatures])
            Initializer.pytorchDefault(b.value, fanIn: inFeatures, random: &random)
            self.bias = b
        } else {
            self.bias = nil
        }
    }

    public var ownState: [(String, Parameter)] {
        if let bias { return [("weight", weight), ("bias", bias)] }
        return [("weight", weight)]
    }

    public func outputShape(for input: [Int]) throws -> [Int] {
        guard input.count >= 2, input.dropFirst().reduce(1, *) == inFeatures else {
            throw EngineError.shapeMismatch(layer: name.isEmpty ? typeName : name,
                                            expected: "[N, \(inFeatures)]", got: input)
        }
        return [input[0], outFeatures]
    }

    public func macsPerSample(input: [Int]) -> Int { inFeatures * outFeatures }

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        fatalError("TODO(engine-ops): Linear.forward")
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        fatalError("TODO(engine-ops): Linear.backward")
    }
}
