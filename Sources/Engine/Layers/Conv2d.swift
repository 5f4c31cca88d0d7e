/// 2-D convolution as `nn.Conv2d` (zero padding, dilation 1), with `groups` for grouped and depthwise convs.
///
/// Shapes: input [N, C, H, W], weight [K, C/groups, R, S], bias [K], output [N, K, P, Q],
/// P = (H + 2*padH - R)/strideH + 1, Q likewise.
public final class Conv2d: Layer {
    public var name = ""
    public var typeName: String { "Conv2d" }
    public let inChannels: Int, outChannels: Int
    public let kernel: (h: Int, w: Int), stride: (h: Int, w: Int), padding: (h: Int, w: Int)
    public let groups: Int
    public let weight: Parameter
    public let bias: Parameter?

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                groups: Int = 1, bias: Bool = true, random: inout RandomSource) {
        precondition(inChannels % groups == 0 && outChannels % groups == 0,
                     "Conv2d(\(inChannels), \(outChannels), groups: \(groups)): channels must divide by groups")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = (kernel, kernel)
        self.stride = (stride, stride)
        self.padding = (padding, padding)
        self.groups = groups
        weight = Parameter(shape: [outChannels, inChannels / groups, kernel, kernel])
        let fanIn = inChannels / groups * kernel * kernel
        Initializer.pytorchDefault(weight.value, fanIn: fanIn, random: &random)
        if bias {
            let b = Parameter(shape: [outChannels])
            Initializer.pytorchDefault(b.value, fanIn: fanIn, random: &random)
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
        try expect(input, [nil, inChannels, nil, nil], "[N, \(inChannels), H, W]")
        let p = (input[2] + 2 * padding.h - kernel.h) / stride.h + 1
        let q = (input[3] + 2 * padding.w - kernel.w) / stride.w + 1
        guard input[2] + 2 * padding.h >= kernel.h, input[3] + 2 * padding.w >= kernel.w else {
            throw EngineError.shapeMismatch(
                layer: name.isEmpty ? typeName : name,
                expected: "[N, \(inChannels), H, W] with H, W >= \(kernel.h - 2 * padding.h)", got: input)
        }
        return [input[0], outChannels, p, q]
    }

    public func macsPerSample(input: [Int]) -> Int {
        guard let out = try? outputShape(for: input) else { return 0 }
        return outChannels * out[2] * out[3] * (inChannels / groups) * kernel.h * kernel.w
    }

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        fatalError("TODO(engine-ops): Conv2d.forward")
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        fatalError("TODO(engine-ops): Conv2d.backward")
    }
}
