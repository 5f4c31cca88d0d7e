import Foundation

/// A layer that computes as one `Conv2d`, so that inference folds the BatchNorm and activation after it in as
/// it does for a plain conv (`inferenceSteps`), and an evaluation's `Network.withFrozenWeights` reaches its
/// folded copy: Conv2d itself, and the MindSpore seed's GroupConv (its g slices as one grouped conv), whose
/// BatchNorms ran as layers of their own in inference, a tenth of a ShuffleNetV1 inference.
public protocol ConvolutionLayer: Layer {
    var outChannels: Int { get }
    /// See `Conv2d.reusesFoldedWeights`.
    var reusesFoldedWeights: Bool { get set }
    /// See `Conv2d.infer(_:batchNorm:activation:)`.
    func infer(_ input: Tensor, batchNorm: BatchNorm2d?, activation: Activation.Kind?) throws -> Tensor
}

/// 2-D convolution as `nn.Conv2d` (zero padding, dilation 1), with `groups` for grouped and depthwise convs.
///
/// Shapes: input [N, C, H, W], weight [K, C/groups, R, S], bias [K], output [N, K, P, Q],
/// P = (H + 2*padH - R)/strideH + 1, Q likewise.
public final class Conv2d: ConvolutionLayer {
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
        let sh = shape(of: input.shape, out)
        output.resize(to: out)
        let biasData = bias.map { UnsafePointer($0.value.data) }
        let path = ConvPath(sh, forwardOnly: true)
        let scratch = ConvScratch.forCurrentThread(), sizes = ConvScratchSizes(sh, path)
        scratch.columns.resize(to: [sizes.columns])
        scratch.gathered.resize(to: [sizes.gathered])
        convForward(sh, input: input.data, weight: weight.value.data, bias: biasData, output: output.data,
                    columns: scratch.columns.data, gathered: scratch.gathered.data, path: path)
        savedInput = input
        geometry = sh
        return output
    }

    /// The weights and bias `infer` ran with: this conv's with the BatchNorm after it folded in (and, paired,
    /// the other conv's stacked after them).
    private let foldedWeight = Tensor(shape: [0]), foldedBias = Tensor(shape: [0])
    /// A paired inference's output, both convs' channels per image, before they are copied apart.
    private let pairedOutput = Tensor(shape: [0])

    /// What `foldedWeight` and `foldedBias` hold: this conv with that BatchNorm folded in, or stacked with that
    /// paired conv.
    private enum Folded: Equatable { case alone(ObjectIdentifier), paired(ObjectIdentifier) }
    private var folded: Folded?
    /// Set by `Network.withFrozenWeights`: while true, `infer` keeps its folded weights from one call to the
    /// next instead of folding again. Folding reads and writes every weight, which for EfficientNetV2-S's
    /// 20 M was a sixth of an inference batch.
    public var reusesFoldedWeights = false { didSet { (folded, transformedPath) = (nil, nil) } }

    /// A Winograd path's transformed weights (U) of the weights `infer` ran with, kept inside
    /// `Network.withFrozenWeights` as the folds are: transforming them for every batch was 1.6 % of a 28x28
    /// ResNet's inference cycles and 5 % of VGG11's. `transformedPath`: the path they were transformed for.
    private let transformedWeight = Tensor(shape: [0])
    private var transformedPath: ConvPath?

    /// Whether the folded buffers already hold `wanted` (and may be used as they are); else records that the
    /// caller is about to fill them with it, to be reused only inside a `Network.withFrozenWeights` scope.
    private func holdsFolded(_ wanted: Folded) -> Bool {
        if reusesFoldedWeights && folded == wanted { return true }
        folded = reusesFoldedWeights ? wanted : nil
        return false
    }

    /// Inference of activation(bn(conv(x))) in one pass over the output: `bn` (eval mode, running statistics)
    /// is folded into the weights and bias, and the activation is applied as each output value is written.
    /// With scale[k] = bn.weight[k] / sqrt(running_var[k] + eps):
    ///   weight'[k, ...] = weight[k, ...] * scale[k],   bias'[k] = (bias[k] - running_mean[k]) * scale[k] + bn.bias[k].
    /// The folded weights are recomputed on every call from the current weights and statistics, so nothing can
    /// go stale after an optimizer step, a checkpoint load or a BatchNorm update, except inside
    /// `Network.withFrozenWeights`, which promises that none happens. Keeps nothing for backward (see `Layer.infer`).
    /// Without a BatchNorm the conv's own weights are used, and the activation still fuses.
    public func infer(_ input: Tensor, batchNorm bn: BatchNorm2d?, activation: Activation.Kind?) throws -> Tensor {
        try infer(input, batchNorm: bn, activation: activation, adding: nil)
    }

    /// `infer` with a residual block's sum: activation(bn(conv(x)) + residual) as the output is written, where the
    /// path takes it (`ConvPath.addsResidual`), else in one pass after it. residual: the output's shape.
    func infer(_ input: Tensor, batchNorm bn: BatchNorm2d?, activation: Activation.Kind?, adding residual: Tensor?) throws -> Tensor {
        let out = try outputShape(for: input.shape)
        if let bn { _ = try bn.outputShape(for: out) }
        if let residual, residual.shape != out {
            throw EngineError.shapeMismatch(layer: displayName, expected: "residual \(shapeString(out))", got: residual.shape)
        }
        let sh = shape(of: input.shape, out)
        output.resize(to: out)
        var weightData = UnsafePointer(weight.value.data)
        var biasData = bias.map { UnsafePointer($0.value.data) }
        var refolded = false
        if let bn {
            if !holdsFolded(.alone(ObjectIdentifier(bn))) {
                foldedWeight.resize(to: weight.shape)
                foldedBias.resize(to: [outChannels])
                fold(bn, weight: foldedWeight.data, bias: foldedBias.data)
                refolded = true
            }
            weightData = UnsafePointer(foldedWeight.data)
            biasData = UnsafePointer(foldedBias.data)
        }
        let path = ConvPath(sh, forwardOnly: true)
        let scratch = ConvScratch.forCurrentThread(), sizes = ConvScratchSizes(sh, path)
        scratch.columns.resize(to: [sizes.columns])
        scratch.gathered.resize(to: [sizes.gathered])
        convForward(sh, input: input.data, weight: weightData, bias: biasData, output: output.data,
                    columns: scratch.columns.data, gathered: scratch.gathered.data,
                    activation: convActivation(activation), residual: residual.map { UnsafePointer($0.data) }, path: path,
                    transformedWeights: keptTransform(of: weightData, sh, path, refolded: refolded))
        savedInput = nil
        geometry = nil
        return output
    }

    /// Inside `Network.withFrozenWeights`, the Winograd path's U of `weights`: transformed on the scope's first
    /// call (or when they were just folded again), then kept. Nil outside the scope and on the other paths.
    private func keptTransform(of weights: UnsafePointer<Float>, _ sh: ConvShape, _ path: ConvPath,
                               refolded: Bool) -> UnsafePointer<Float>? {
        guard reusesFoldedWeights, let floats = transformedWeightFloats(sh, path) else { return nil }
        if refolded || transformedPath != path {
            transformedWeight.resize(to: [floats])
            transformConvWeights(weights, sh, path, into: transformedWeight.data)
            transformedPath = path
        }
        return UnsafePointer(transformedWeight.data)
    }

    /// Whether `infer(_:pairedWith:)` can run this conv and `other` as one: both read the same input with the
    /// same geometry (ungrouped, same kernel, stride and padding) and their stacked filters take the GEMM
    /// path, where the unfold they share is the cost, or the strided direct path, where the stride phases
    /// they share are (a ResNet block's stride-2 conv1 and its downsample).
    func pairs(with other: Conv2d, input: [Int]) -> Bool {
        guard other !== self, groups == 1, other.groups == 1, other.inChannels == inChannels,
              other.kernel == kernel, other.stride == stride, other.padding == padding,
              let out = try? outputShape(for: input) else { return false }
        var stacked = shape(of: input, out)
        stacked.k += other.outChannels
        let path = ConvPath(stacked, forwardOnly: true)
        return path == .gemm || (path == .direct && stride.h > 1)
    }

    /// `infer` of this conv and `other` (see `pairs(with:input:)`) at once: both folded filter banks stacked
    /// [K1 + K2, C*R*S], one conv into [N, K1 + K2, P, Q] (one unfold or one split into stride phases), then
    /// each conv's channels copied to its own output with its own activation. Returns (this conv's output, other's).
    func infer(_ input: Tensor, batchNorm bn: BatchNorm2d?, activation: Activation.Kind?,
               pairedWith other: Conv2d, batchNorm otherBN: BatchNorm2d?,
               activation otherActivation: Activation.Kind?) throws -> (Tensor, Tensor) {
        let out = try outputShape(for: input.shape), otherOut = try other.outputShape(for: input.shape)
        if let bn { _ = try bn.outputShape(for: out) }
        if let otherBN { _ = try otherBN.outputShape(for: otherOut) }
        let (k1, k2) = (outChannels, other.outChannels), patch = weight.count / k1
        var sh = shape(of: input.shape, out)
        sh.k = k1 + k2
        if !holdsFolded(.paired(ObjectIdentifier(other))) {
            foldedWeight.resize(to: [(k1 + k2) * patch])
            foldedBias.resize(to: [k1 + k2])
            for (conv, norm, offset) in [(self, bn, 0), (other, otherBN, k1)] {
                let w = foldedWeight.data + offset * patch, b = foldedBias.data + offset
                if let norm {
                    conv.fold(norm, weight: w, bias: b)
                } else {
                    w.update(from: conv.weight.value.data, count: conv.weight.count)
                    for k in 0..<conv.outChannels { b[k] = conv.bias?.value[k] ?? 0 }
                }
            }
        }
        let path = ConvPath(sh, forwardOnly: true)
        let scratch = ConvScratch.forCurrentThread(), sizes = ConvScratchSizes(sh, path)
        scratch.columns.resize(to: [sizes.columns])
        scratch.gathered.resize(to: [sizes.gathered])
        pairedOutput.resize(to: [sh.n, k1 + k2, sh.p, sh.q])
        convForward(sh, input: input.data, weight: foldedWeight.data, bias: foldedBias.data, output: pairedOutput.data,
                    columns: scratch.columns.data, gathered: scratch.gathered.data, path: path)
        output.resize(to: out)
        other.output.resize(to: otherOut)
        let first = convActivation(activation), second = other.convActivation(otherActivation)
        let stacked = UnsafePointer(pairedOutput.data), mine = output.data, theirs = other.output.data
        Parallel.forEachPart(sh.n) { _, images in
            for n in images {
                let y1 = mine + n * k1 * sh.outPlane, y2 = theirs + n * k2 * sh.outPlane
                copyFloats(y1, stacked + n * (k1 + k2) * sh.outPlane, count: k1 * sh.outPlane)
                copyFloats(y2, stacked + (n * (k1 + k2) + k1) * sh.outPlane, count: k2 * sh.outPlane)
                if first != .none { first.addBias(0, to: y1, count: k1 * sh.outPlane) }
                if second != .none { second.addBias(0, to: y2, count: k2 * sh.outPlane) }
            }
        }
        savedInput = nil
        geometry = nil
        other.savedInput = nil
        other.geometry = nil
        return (output, other.output)
    }

    /// The geometry of this conv on an input of shape `input`, whose output shape is `out`.
    private func shape(of input: [Int], _ out: [Int]) -> ConvShape {
        ConvShape(n: input[0], c: inChannels, h: input[2], w: input[3],
                  k: outChannels, p: out[2], q: out[3], r: kernel.h, s: kernel.w,
                  strideH: stride.h, strideW: stride.w, padH: padding.h, padW: padding.w, groups: groups)
    }

    /// This conv's weights and bias with `bn` folded in (see `infer`), written to weight [K, Cg, R, S] and bias [K].
    private func fold(_ bn: BatchNorm2d, weight fw: UnsafeMutablePointer<Float>, bias fb: UnsafeMutablePointer<Float>) {
        let perFilter = weight.count / outChannels
        let w = weight.value.data
        let gamma = bn.weight.value.data, beta = bn.bias.value.data
        let mean = bn.runningMean.value.data, variance = bn.runningVar.value.data
        for k in 0..<outChannels {
            // As BatchNorm2d's eval pass: rstd = 1/sqrt(var + eps), scale = rstd * weight.
            let scale = (1 / (variance[k] + bn.eps).squareRoot()) * gamma[k]
            for i in 0..<perFilter { fw[k * perFilter + i] = w[k * perFilter + i] * scale }
            fb[k] = ((bias?.value[k] ?? 0) - mean[k]) * scale + beta[k]
        }
    }

    /// The output pass that applies `activation`: ReLU, ReLU6 and SiLU fuse into a conv.
    private func convActivation(_ activation: Activation.Kind?) -> ConvActivation {
        switch activation {
        case nil: return .none
        case .relu: return .relu
        case .relu6: return .relu6
        case .silu: return .silu
        default: preconditionFailure("\(displayName): only ReLU, ReLU6 and SiLU fuse into a conv")
        }
    }

    /// False for the conv that reads a network's images (set by `Network.init`): nothing reads their gradient,
    /// so, as PyTorch for an input without `requires_grad`, backward leaves it out where the path can (the tile
    /// and GEMM paths, which 1- and 3-channel stems take: half their backward's multiplies and all of col2im)
    /// and returns zeros.
    public var computesInputGradient = true

    public func backward(_ gradOutput: Tensor) -> Tensor {
        guard let input = savedInput, let sh = geometry else { preconditionFailure("\(name): backward before forward") }
        expectGradient(gradOutput, like: output)
        let gradInput = GradientPool.forCurrentThread().take(input.shape)
        let leavesOutInput = !computesInputGradient && ConvPath(sh).canLeaveOutInputGradient
        if leavesOutInput { gradInput.zero() }
        guard let gradWeight = weight.grad else { preconditionFailure("\(name): weight has no gradient") }
        let gradBias = bias?.grad?.data
        let scratch = ConvScratch.forCurrentThread(), sizes = ConvScratchSizes(sh)
        scratch.columns.resize(to: [sizes.columns])
        scratch.gathered.resize(to: [sizes.gathered])
        scratch.weightPartials.resize(to: [sizes.weightPartials])
        convBackward(sh, input: input.data, weight: weight.value.data, gradOutput: gradOutput.data,
                     gradInput: leavesOutInput ? nil : gradInput.data, gradWeight: gradWeight.data, gradBias: gradBias,
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
