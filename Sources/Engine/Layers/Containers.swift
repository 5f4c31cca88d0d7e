/// Containers compose layers into the few block shapes these networks use. Each exposes the children
/// of its inner `Sequential`s directly, so state-dict keys match the seed's module attributes
/// (`layer1.0.conv1.weight`, not `layer1.0.body.conv1.weight`).

/// Layers applied in order, as `nn.Sequential` (children named "0", "1", ... or by attribute name).
public final class Sequential: Layer {
    public var name = ""
    public var typeName: String { "Sequential" }
    public private(set) var layers: [(String, any Layer)]

    public init(_ layers: [(String, any Layer)]) { self.layers = layers }
    /// Children named by index, as `nn.Sequential(a, b, c)`.
    public convenience init(indexed layers: [any Layer]) {
        self.init(layers.enumerated().map { (String($0.offset), $0.element) })
    }

    public var children: [(String, any Layer)] { layers }

    public func outputShape(for input: [Int]) throws -> [Int] {
        try layers.reduce(input) { try $1.1.outputShape(for: $0) }
    }

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        var x = input
        for (_, layer) in layers { x = try layer.forward(x, training: training) }
        return x
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        var g = gradOutput
        for (_, layer) in layers.reversed() { g = layer.backward(g) }
        return g
    }
}

/// y = activation(body(x) + shortcut(x)); identity shortcut when `shortcut` is nil, no activation when nil.
/// ResNet's blocks (downsample shortcut, ReLU after the add), ShuffleNetV1's stride-1 units, MBConv.
public final class Residual: Layer {
    public var name = ""
    public var typeName: String { "Residual" }
    public let body: Sequential
    public let shortcut: (String, any Layer)?
    public let activation: Activation?

    public init(body: Sequential, shortcut: (String, any Layer)? = nil, activation: Activation? = nil) {
        self.body = body
        self.shortcut = shortcut
        self.activation = activation
    }

    public var children: [(String, any Layer)] {
        var c = body.children
        if let shortcut { c.append(shortcut) }
        return c
    }

    public func outputShape(for input: [Int]) throws -> [Int] {
        let main = try body.outputShape(for: input)
        let side = try shortcut?.1.outputShape(for: input) ?? input
        guard main == side else {
            throw EngineError.shapeMismatch(layer: name.isEmpty ? typeName : name,
                                            expected: "shortcut output \(shapeString(main))", got: side)
        }
        return main
    }

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        fatalError("TODO(engine-ops): Residual.forward")
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        fatalError("TODO(engine-ops): Residual.backward")
    }
}

/// y = activation(concat over channels of branch_i(x)); ShuffleNetV2's DownBlock, ShuffleNetV1's stride-2 units.
public final class Concat: Layer {
    public var name = ""
    public var typeName: String { "Concat" }
    public let branches: [Sequential]
    public let activation: Activation?

    public init(branches: [Sequential], activation: Activation? = nil) {
        self.branches = branches
        self.activation = activation
    }

    public var children: [(String, any Layer)] { branches.flatMap(\.children) }

    public func outputShape(for input: [Int]) throws -> [Int] {
        let outs = try branches.map { try $0.outputShape(for: input) }
        guard let first = outs.first, outs.allSatisfy({ $0.count == 4 && $0[0] == first[0] && $0[2...] == first[2...] })
        else {
            throw EngineError.shapeMismatch(layer: name.isEmpty ? typeName : name,
                                            expected: "branches with equal N, H, W", got: input)
        }
        return [first[0], outs.reduce(0) { $0 + $1[1] }, first[2], first[3]]
    }

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        fatalError("TODO(engine-ops): Concat.forward")
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        fatalError("TODO(engine-ops): Concat.backward")
    }
}

/// Splits channels at `splitAt`: y = concat(x[:, :splitAt], body(x[:, splitAt:])). ShuffleNetV2's BasicBlock.
public final class SplitConcat: Layer {
    public var name = ""
    public var typeName: String { "SplitConcat" }
    public let splitAt: Int
    public let body: Sequential

    public init(splitAt: Int, body: Sequential) {
        self.splitAt = splitAt
        self.body = body
    }

    public var children: [(String, any Layer)] { body.children }

    public func outputShape(for input: [Int]) throws -> [Int] {
        try expect(input, [nil, nil, nil, nil], "[N, C, H, W]")
        guard input[1] > splitAt else {
            throw EngineError.shapeMismatch(layer: name.isEmpty ? typeName : name,
                                            expected: "[N, C > \(splitAt), H, W]", got: input)
        }
        let b = try body.outputShape(for: [input[0], input[1] - splitAt, input[2], input[3]])
        return [input[0], splitAt + b[1], b[2], b[3]]
    }

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        fatalError("TODO(engine-ops): SplitConcat.forward")
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        fatalError("TODO(engine-ops): SplitConcat.backward")
    }
}

/// Squeeze-and-excitation: y[n, c, :, :] = x[n, c, :, :] * gate(x)[n, c], per sample.
/// `gate` maps [N, C, H, W] to N*C values ([N, C] or [N, C, 1, 1]), usually ending in a Sigmoid.
public final class SqueezeExcite: Layer {
    public var name = ""
    public var typeName: String { "SqueezeExcite" }
    public let gate: Sequential

    public init(gate: Sequential) { self.gate = gate }

    public var children: [(String, any Layer)] { gate.children }

    public func outputShape(for input: [Int]) throws -> [Int] {
        let g = try gate.outputShape(for: input)
        guard g.count >= 2, g[0] == input[0], g[1] == input[1], g.dropFirst(2).allSatisfy({ $0 == 1 }) else {
            throw EngineError.shapeMismatch(layer: name.isEmpty ? typeName : name,
                                            expected: "gate output [N, \(input.count > 1 ? input[1] : 0)]", got: g)
        }
        return input
    }

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        fatalError("TODO(engine-ops): SqueezeExcite.forward")
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        fatalError("TODO(engine-ops): SqueezeExcite.backward")
    }
}
