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
            throw EngineError.shapeMismatch(layer: displayName,
                                            expected: "[N, C, H, W] with H, W >= \(kernel - 2 * padding)", got: input)
        }
        return [input[0], input[1], (input[2] + 2 * padding - kernel) / stride + 1,
                (input[3] + 2 * padding - kernel) / stride + 1]
    }

    private let output = Tensor(shape: [0])
    /// Max pooling: the plane index of each output's chosen input (see `maxPoolForward`).
    private let argmax = Tensor(shape: [0])
    private var inputShape: [Int] = []

    private func geometry(input: [Int], output: [Int]) -> PoolShape {
        PoolShape(planes: input[0] * input[1], h: input[2], w: input[3], p: output[2], q: output[3],
                  kernel: kernel, stride: stride, pad: padding)
    }

    /// An average pool whose one window is the whole unpadded plane (the seeds' AvgPool2d(4) on 4x4 planes):
    /// the global pool's plain sums, not the windowed kernel's per-window bookkeeping, which took 2.5 % of a
    /// ShuffleNetV2 inference for 16 floats a window.
    private func isWholePlaneAverage(_ sh: PoolShape) -> Bool {
        if case .average = kind { return sh.p == 1 && sh.q == 1 && sh.pad == 0 && sh.kernel == sh.h && sh.kernel == sh.w }
        return false
    }

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        let out = try outputShape(for: input.shape)
        output.resize(to: out)
        inputShape = input.shape
        let sh = geometry(input: input.shape, output: out)
        switch kind {
        case .max:
            argmax.resize(to: out)
            maxPoolForward(sh, input: input.data, output: output.data, argmax: argmax.data)
        case .average where isWholePlaneAverage(sh):
            globalAveragePoolForward(planes: sh.planes, size: sh.h * sh.w, input: input.data, output: output.data)
        case .average(countIncludePad: true) where sh.kernel == 3 && sh.stride == 2 && sh.pad == 1:
            averagePool3x3Stride2Forward(planes: sh.planes, h: sh.h, w: sh.w, input: input.data, output: output.data)
        case let .average(countIncludePad):
            averagePoolForward(sh, countIncludePad: countIncludePad, input: input.data, output: output.data)
        }
        return output
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        expectGradient(gradOutput, like: output)
        let gradInput = GradientPool.forCurrentThread().take(inputShape)
        let sh = geometry(input: inputShape, output: output.shape)
        switch kind {
        case .max:
            maxPoolBackward(sh, gradOutput: gradOutput.data, argmax: argmax.data, gradInput: gradInput.data)
        case .average where isWholePlaneAverage(sh):
            globalAveragePoolBackward(planes: sh.planes, size: sh.h * sh.w, gradOutput: gradOutput.data, gradInput: gradInput.data)
        case let .average(countIncludePad):
            averagePoolBackward(sh, countIncludePad: countIncludePad, gradOutput: gradOutput.data, gradInput: gradInput.data)
        }
        return gradInput
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

    private let output = Tensor(shape: [0])
    private var inputShape: [Int] = []

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        output.resize(to: try outputShape(for: input.shape))
        inputShape = input.shape
        globalAveragePoolForward(planes: input.shape[0] * input.shape[1], size: input.shape[2] * input.shape[3],
                                 input: input.data, output: output.data)
        return output
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        expectGradient(gradOutput, like: output, countOnly: true)
        let gradInput = GradientPool.forCurrentThread().take(inputShape)
        globalAveragePoolBackward(planes: inputShape[0] * inputShape[1], size: inputShape[2] * inputShape[3],
                                  gradOutput: gradOutput.data, gradInput: gradInput.data)
        return gradInput
    }
}
