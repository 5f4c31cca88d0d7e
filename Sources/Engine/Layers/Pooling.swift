/// Max and average pooling with PyTorch's semantics (floor mode; average pooling's `count_include_pad`),
/// and global average pooling (`AdaptiveAvgPool2d(1)`).
/// Shapes: input [N, C, H, W], output [N, C, P, Q], P = (H + 2*pad - k)/stride + 1.
public final class Pool2d: Layer {
    public enum Kind: Sendable { case max, average(countIncludePad: Bool) }
    public var name = ""
    public let kind: Kind
    public let kernel: Int, stride: Int, padding: Int
    public var typeName: String {
        if case .max = kind { return "MaxPool2d" }
        return "AvgPool2d"
    }

    /// `stride` defaults to the kernel size, as in PyTorch.
    public init(_ kind: Kind, kernel: Int, stride: Int? = nil, padding: Int = 0) {
        self.kind = kind
        self.kernel = kernel
        self.stride = stride ?? kernel
        self.padding = padding
    }

    public func outputShape(for input: [Int]) throws -> [Int] {
        try expect(input, [nil, nil, nil, nil], "[N, C, H, W]")
        guard input[2] + 2 * padding >= kernel, input[3] + 2 * padding >= kernel, padding * 2 <= kernel else {
            throw EngineError.shapeMismatch(layer: name.isEmpty ? typeName : name,
                                            expected: "[N, C, H, W] with H, W >= \(kernel - 2 * padding)", got: input)
        }
        return [input[0], input[1], (input[2] + 2 * padding - kernel) / stride + 1,
                (input[3] + 2 * padding - kernel) / stride + 1]
    }

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        fatalError("TODO(engine-ops): Pool2d.forward")
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        fatalError("TODO(engine-ops): Pool2d.backward")
    }
}

/// Global average pooling: [N, C, H, W] -> [N, C, 1, 1], as `nn.AdaptiveAvgPool2d(1)`.
public final class GlobalAvgPool: Layer {
    public var name = ""
    public var typeName: String { "AdaptiveAvgPool2d" }
    public init() {}

    public func outputShape(for input: [Int]) throws -> [Int] {
        try expect(input, [nil, nil, nil, nil], "[N, C, H, W]")
        return [input[0], input[1], 1, 1]
    }

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        fatalError("TODO(engine-ops): GlobalAvgPool.forward")
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        fatalError("TODO(engine-ops): GlobalAvgPool.backward")
    }
}
