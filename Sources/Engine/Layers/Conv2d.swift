import Foundation

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
        (weight, self.bias) = Initializer.pytorchWeightAndBias(
            shape: [outChannels, inChannels / groups, kernel, kernel], biasCount: outChannels, bias: bias,
            fanIn: inChannels / groups * kernel * kernel, random: &random)
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
                layer: displayName,
                expected: "[N, \(inChannels), H, W] with H, W >= \(kernel.h - 2 * padding.h)", got: input)
        }
        return [input[0], outChannels, p, q]
    }

    public func macsPerSample(input: [Int]) -> Int {
        guard let out = try? outputShape(for: input) else { return 0 }
        return outChannels * out[2] * out[3] * (inChannels / groups) * kernel.h * kernel.w
    }

    // Buffers reused across steps; `resize(to:)` only reallocates when a larger batch arrives.
    private let output = Tensor(shape: [0])
    /// The calling thread's im2col matrix (shared by every conv on that thread).
    var columns: Tensor { ConvScratch.forCurrentThread().columns }
    /// The forward input, read again by backward (valid until then by the Layer contract).
    private var savedInput: Tensor?
    private var geometry: ConvShape?

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        let out = try outputShape(for: input.shape)
        let sh = ConvShape(n: input.shape[0], c: inChannels, h: input.shape[2], w: input.shape[3],
                           k: outChannels, p: out[2], q: out[3], r: kernel.h, s: kernel.w,
                           strideH: stride.h, strideW: stride.w, padH: padding.h, padW: padding.w, groups: groups)
        output.resize(to: out)
        let biasData = bias.map { UnsafePointer($0.value.data) }
        let scratch = ConvScratch.forCurrentThread(), sizes = ConvScratchSizes(sh)
        scratch.columns.resize(to: [sizes.columns])
        scratch.gathered.resize(to: [sizes.gathered])
        convForward(sh, input: input.data, weight: weight.value.data, bias: biasData, output: output.data,
                    columns: scratch.columns.data, gathered: scratch.gathered.data)
        savedInput = input
        geometry = sh
        return output
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        guard let input = savedInput, let sh = geometry else { preconditionFailure("\(name): backward before forward") }
        expectGradient(gradOutput, like: output)
        let gradInput = GradientPool.forCurrentThread().take(input.shape)
        guard let gradWeight = weight.grad else { preconditionFailure("\(name): weight has no gradient") }
        let gradBias = bias?.grad?.data
        let scratch = ConvScratch.forCurrentThread(), sizes = ConvScratchSizes(sh)
        scratch.columns.resize(to: [sizes.columns])
        scratch.gathered.resize(to: [sizes.gathered])
        scratch.weightPartials.resize(to: [sizes.weightPartials])
        convBackward(sh, input: input.data, weight: weight.value.data, gradOutput: gradOutput.data,
                     gradInput: gradInput.data, gradWeight: gradWeight.data, gradBias: gradBias,
                     columns: scratch.columns.data, gathered: scratch.gathered.data,
                     weightPartials: scratch.weightPartials.data)
        return gradInput
    }
}

/// Scratch of the convolution kernels (`ConvScratchSizes`): im2col columns or padded planes, the batched
/// GEMM result, and the other threads' weight-gradient partials. Only one conv call uses it at a time, so every conv layer run from the same
/// thread shares one set (a network's scratch is its largest layer's, not the sum over layers); each
/// thread has its own, so networks trained on different threads (tests) never share.
final class ConvScratch {
    let columns = Tensor(shape: [0])
    let gathered = Tensor(shape: [0])
    let weightPartials = Tensor(shape: [0])

    private static let key = "cnntui.Engine.ConvScratch"

    static func forCurrentThread() -> ConvScratch {
        let dictionary = Thread.current.threadDictionary
        if let scratch = dictionary[key] as? ConvScratch { return scratch }
        let scratch = ConvScratch()
        dictionary[key] = scratch
        return scratch
    }
}
