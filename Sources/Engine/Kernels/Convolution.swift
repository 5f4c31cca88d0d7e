/// Convolution: which kernel each conv runs on (`ConvPath`, decided here and nowhere else), the scratch it
/// needs, and `convForward`/`convBackward`, each one switch over the path. Also the general kernel: im2col
/// and col2im around one BLAS GEMM per group, for whole images (several small ones side by side) or, for
/// ConvTiles.swift, a few output rows at a time. The other kernels live in Depthwise.swift,
/// DepthwiseSmallPlane.swift, Winograd.swift, Winograd4x4.swift, DirectConv.swift and ConvTiles.swift.
///
/// Legend: N batch, C in channels, K out channels, G groups (Cg = C/G, Kg = K/G), H×W input,
/// P×Q output, R×S kernel. Everything is row-major NCHW; weights are [K, Cg, R, S].

/// The geometry of one convolution call.
struct ConvShape {
    var n: Int, c: Int, h: Int, w: Int
    var k: Int, p: Int, q: Int
    var r: Int, s: Int
    var strideH: Int, strideW: Int, padH: Int, padW: Int
    var groups: Int

    var cg: Int { c / groups }
    var kg: Int { k / groups }
    /// Rows of one group's column matrix: Cg*R*S.
    var patch: Int { cg * r * s }
    var inPlane: Int { h * w }
    var outPlane: Int { p * q }

    /// Offset of input plane (image, channel) in [N, C, H, W].
    @inline(__always)
    func inputPlane(_ image: Int, _ channel: Int) -> Int { planeOffset(image, channel, channels: c, plane: inPlane) }
    /// Offset of output plane (image, channel) in [N, K, P, Q].
    @inline(__always)
    func outputPlane(_ image: Int, _ channel: Int) -> Int { planeOffset(image, channel, channels: k, plane: outPlane) }

    /// A 1x1, stride-1, unpadded conv: the input image [C, H*W] already is the column matrix.
    var isPointwise: Bool { r == 1 && s == 1 && strideH == 1 && strideW == 1 && padH == 0 && padW == 0 }
    /// One filter per input channel (groups == C == K).
    var isDepthwise: Bool { groups == c && groups == k && groups > 1 }

    /// The conv that gives a stride-1 "same" conv's dInput: dOutput [N, K, P, Q] convolved, padded alike, with
    /// the weights turned by 180 degrees and transposed ([C, K, R, S], `turnWeights`).
    var gradInputConv: ConvShape {
        ConvShape(n: n, c: k, h: p, w: q, k: c, p: h, q: w, r: r, s: s,
                  strideH: 1, strideW: 1, padH: padH, padW: padW, groups: 1)
    }
}

/// turned[c][k][r][s] = weight[k][c][R-1-r][S-1-s]: the weights of `ConvShape.gradInputConv`. weight: [K, C, R, S].
func turnWeights(_ weight: UnsafePointer<Float>, _ sh: ConvShape, into turned: UnsafeMutablePointer<Float>) {
    let taps = sh.r * sh.s
    for k in 0..<sh.k {
        for c in 0..<sh.c {
            let src = weight + (k * sh.c + c) * taps, dst = turned + (c * sh.k + k) * taps
            for t in 0..<taps { dst[t] = src[taps - 1 - t] }
        }
    }
}

// MARK: - The output pass

/// What a conv applies to each output value after its bias, in the same pass that writes it. Training runs
/// every conv with `.none`; inference (`Conv2d.infer`) folds a following BatchNorm into the weights and bias
/// and hands the ReLU, ReLU6 or SiLU after it here, so conv + BN + activation is one pass over the output.
enum ConvActivation: Equatable, Sendable {
    case none, relu, relu6, silu

    /// The activation of one value: the definition `addBias` vectorizes, and what the tests check it against.
    func apply(_ x: Float) -> Float {
        switch self {
        case .none: return x
        case .relu: return x > 0 ? x : 0
        case .relu6: return Swift.min(Swift.max(x, 0), 6)
        case .silu: return x * sigmoid(x)
        }
    }

    /// y[i] = apply(y[i] + bias) over count floats, on output the kernel has just written (still in cache);
    /// with a residual, apply((y[i] + bias) + residual[i]), a residual block's sum and activation as the conv
    /// before it writes its output (the same float operations, in the same order, as the sum apart).
    /// One plain loop per kind, out of line: the kernels' register blocks stay as they were without it.
    @inline(never)
    func addBias(_ bias: Float, to y: UnsafeMutablePointer<Float>, adding residual: UnsafePointer<Float>? = nil,
                 count: Int) {
        withEightLanes { mapEight(y, count, bias, residual, $0) }
    }

    /// Runs body with this activation on eight lanes (`apply`'s vector form), each kind compiled into a copy of
    /// body of its own: for kernels that apply it to a vector as they store it.
    @inline(__always)
    func withEightLanes(_ body: (_ f: (SIMD8<Float>) -> SIMD8<Float>) -> Void) {
        let zero = SIMD8<Float>(), six = SIMD8<Float>(repeating: 6)
        switch self {
        case .none: body { $0 }
        case .relu: body { $0.replacing(with: zero, where: .!($0 .> zero)) }
        case .relu6: body { $0.replacing(with: zero, where: .!($0 .> zero)).replacing(with: six, where: $0 .> six) }
        case .silu: body(silu8)
        }
    }
}

/// y[i] = f((y[i] + bias) + residual[i]) (no residual: f(y[i] + bias)), eight lanes at a time; the last one to
/// seven values go through one vector as well, so that SiLU's short planes (7x7 has one left over) never fall
/// back to a scalar exp.
@inline(__always)
private func mapEight(_ y: UnsafeMutablePointer<Float>, _ count: Int, _ bias: Float, _ residual: UnsafePointer<Float>?,
                      _ f: (SIMD8<Float>) -> SIMD8<Float>) {
    let b = SIMD8<Float>(repeating: bias)
    var i = 0
    if let residual {
        while i + 8 <= count {
            store8(y + i, f(load8(y + i) + b + load8(residual + i)))
            i += 8
        }
    } else {
        while i + 8 <= count {
            store8(y + i, f(load8(y + i) + b))
            i += 8
        }
    }
    guard i < count else { return }
    var rest = SIMD8<Float>(), added = SIMD8<Float>()
    for j in i..<count { rest[j - i] = y[j] }
    if let residual { for j in i..<count { added[j - i] = residual[j] } }
    let done = f(rest + b + added)
    for j in i..<count { y[j] = done[j - i] }
}

/// `activation` over count floats of finished output (after adding `residual`, when given), split over the
/// threads: for the kernels whose planes (1 to 16 pixels) are too short to pay for a call of the output pass
/// each, and for a residual sum on the paths that do not take it as they write (`ConvPath.addsResidual`).
func applyActivation(_ activation: ConvActivation, to y: UnsafeMutablePointer<Float>,
                     adding residual: UnsafePointer<Float>? = nil, count: Int) {
    guard activation != .none || residual != nil else { return }
    Parallel.forEachPart(count, minimum: elementwiseGrain) { _, range in
        activation.addBias(0, to: y + range.lowerBound, adding: residual.map { $0 + range.lowerBound }, count: range.count)
    }
}

// MARK: - The path

/// The kernel one conv runs on. The kernels' conditions overlap (a 16-channel 3x3 conv on 32x32 fits both
/// the direct and the tile kernel), so the order of the tests in `init` is the decision: the first kernel
/// that fits takes the conv.
enum ConvPath: Equatable {
    /// Depthwise, at most 16 pixels in and out: one small matrix per channel (DepthwiseSmallPlane.swift).
    case depthwiseSmallPlane
    /// Depthwise on larger planes: stride phases, one long loop per tap (Depthwise.swift).
    case depthwisePhased
    /// Ungrouped 1x1 convs on one-pixel planes (squeeze-excite gates, a 32x32 image's last stage): the batch
    /// is a matrix [N, C] and the conv a linear layer, one GEMM per thread with nothing unfolded (below).
    case onePixel
    /// 3x3 "same" convs of 32 to 64 channels: Winograd F(4x4, 3x3), eight images at a time (Winograd4x4.swift).
    /// Forward only: their backward takes F(2x2, 3x3) or the direct kernel.
    case winograd4x4
    /// Wide 3x3 "same" convs: Winograd F(2x2, 3x3), 16 GEMMs over the whole batch (Winograd.swift).
    case winograd
    /// Narrower stride-1 "same" convs, on zero-bordered planes, and stride-2 3x3 convs of up to 64 channels, on
    /// their input's stride phases: direct, nothing unfolded (DirectConv.swift).
    case direct
    /// Other spatial convs on big planes: im2col a few output rows at a time (ConvTiles.swift).
    case tiles
    /// The rest (1x1 convs, small planes, wide patches): im2col of whole images and GEMMs (below).
    case gemm

    /// `forwardOnly`: the path of a forward, which may take kernels whose backward does not fit the shape.
    /// Every backward unfolds or transforms its input again on its own path (this init without the flag),
    /// whatever path the forward took, so a training forward takes it too: a 28x28 ResNet's 32- and 64-channel
    /// convs ran their training forward in 0.57-0.69 of the time on F(4x4, 3x3), its training step in 0.96.
    init(_ sh: ConvShape, forwardOnly: Bool = false) {
        if sh.isDepthwise {
            self = sh.inPlane <= 16 && sh.outPlane <= 16 ? .depthwiseSmallPlane : .depthwisePhased
        } else if sh.isPointwise && sh.outPlane == 1 && sh.groups == 1 {
            self = .onePixel
        } else if forwardOnly && ConvPath.fitsWinograd4x4(sh) {
            self = .winograd4x4
        } else if ConvPath.fitsWinograd(sh) {
            self = .winograd
        } else if ConvPath.fitsDirect(sh, forwardOnly: forwardOnly) {
            self = .direct
        } else if ConvPath.fitsTiles(sh) && !(forwardOnly && sh.strideH > 1) {
            self = .tiles
        } else {
            self = .gemm
        }
    }

    /// Paths whose output pass adds a residual (`convForward`'s `residual`) to each image's output while it is in
    /// cache: a ResNet block's last conv (the direct kernel at 16 channels, F(4x4, 3x3) at 32 and 64). The others
    /// run their forward, then the sum and activation as one pass over the batch, as a separate sum would.
    var addsResidual: Bool { self == .direct || self == .winograd4x4 }

    /// The depthwise kernels sum the bias gradient as they go; the other paths leave it to `convBackward`.
    var isDepthwise: Bool { self == .depthwiseSmallPlane || self == .depthwisePhased }

    /// Paths whose backward runs without dInput (`convBackward`'s gradInput nil): those a network's 1- or
    /// 3-channel stem takes. The others need input channels in fours or more channels than a stem has.
    var canLeaveOutInputGradient: Bool { self == .tiles || self == .gemm }

    /// Whether the direct path's backward leaves a stride-1 conv's dInput to F(4x4, 3x3), as a forward of
    /// `gradInputConv`, where that conv fits it (this conv's 32 to 64 output channels are its input channels): a
    /// 28x28 ResNet's 32-channel convs' dInput in the time their forward takes there (backward 3.2 -> 2.7-2.8 ms
    /// a batch). The direct kernel keeps the weight gradient.
    static func runsGradInputOnWinograd4x4(_ sh: ConvShape) -> Bool {
        sh.strideH == 1 && sh.strideW == 1 && ConvPath(sh.gradInputConv, forwardOnly: true) == .winograd4x4
    }

    /// 3x3, stride 1, padding 1, ungrouped, with enough channels that the 16 GEMMs, not the transforms, are
    /// the work. Per tile the multiplies saved grow as C*K and the transforms as C + K; measured: ResNet's
    /// 32->32 convs lose (C*K/(C+K) = 16), its 64->64 ones (32) and EfficientNetV2's 48->192 expand convs
    /// (38) win. The transformed batch must also fit `winogradScratchLimit`: it is four times the input and
    /// output, which is 50 MB for VGG11's widest conv at 32x32 but would be gigabytes for EfficientNetV2 on
    /// 224x224 images (those take the other paths, whose scratch is bounded per GEMM).
    private static func fitsWinograd(_ sh: ConvShape) -> Bool {
        guard sh.groups == 1, sh.r == 3, sh.s == 3, sh.strideH == 1, sh.strideW == 1, sh.padH == 1, sh.padW == 1,
              sh.c * sh.k >= 24 * (sh.c + sh.k), fillsImageLanes(sh) else { return false }
        let scratch = WinogradLayout(sh).scratch
        return scratch.columns + scratch.gathered <= winogradScratchLimit
    }

    /// 3x3, stride 1, padding 1, ungrouped, 32 to 64 input channels and at most 64 output channels, a multiple
    /// of 4 (the direct kernel's register block). Measured on a 28x28 ResNet's inference, per batch of 64: its
    /// 32->32 convs on 14x14 went from 2.7 ms (direct) to 1.9, its 64->64 ones on 7x7 from 3.1 (F(2x2, 3x3))
    /// to 2.0; its 16-channel convs ran no faster on 28x28 and 8 % slower on 32x32 planes, where interleaving
    /// the images' planes and taking them apart again cost as much per channel as the products saved (and, with
    /// those copies as register transposes, the same at 28x28 and 6 % slower at 32x32).
    /// Wider convs keep F(2x2, 3x3): U alone would be 36*K*C floats.
    private static func fitsWinograd4x4(_ sh: ConvShape) -> Bool {
        sh.groups == 1 && sh.r == 3 && sh.s == 3 && sh.strideH == 1 && sh.strideW == 1 && sh.padH == 1 && sh.padW == 1
            && sh.k % 4 == 0 && (32...64).contains(sh.c) && sh.k <= 64 && fillsImageLanes(sh)
    }

    /// Both Winograd paths run their transforms on groups of eight images, one per vector lane: a batch whose
    /// empty lanes would be more than a fifth of its images (fewer than 7, 9 to 13, 17 to 19; a single image
    /// for `predict` or Grad-CAM would be multiplied eight times over) takes the other paths.
    static func fillsImageLanes(_ sh: ConvShape) -> Bool { 5 * 8 * ((sh.n + 7) / 8) <= 6 * sh.n }

    /// Ungrouped, stride 1, odd kernels larger than 1x1 with "same" padding, channel counts that are
    /// multiples of 4, and either at most 64 channels on planes at least 4 wide or up to 512 on planes at
    /// least 16 wide. Measured on VGG11 and ResNet: wider convs on small planes ran faster as GEMMs (im2col
    /// is cheap beside a GEMM with hundreds of rows, and the weight gradient's lane sums add up); the 4-wide
    /// floor keeps the zero border after each plane longer than the weight gradient's last vector.
    /// Input channels must be a multiple of 4 only for backward (its transposed weights are packed by four
    /// input channels): a forward alone (`forwardOnly`) takes the 1- and 3-channel stems too, which on the
    /// tile path spent longer unfolding 9 rows than multiplying them (a 28x28 ResNet's 1->16 stem took 7 %
    /// of an inference step).
    /// Stride-2 3x3 convs with padding 1 and at most 64 channels come here too, on their input's stride phases
    /// (a ResNet stage's first conv and its downsample, in inference paired; and the 3-channel stems' forwards): a 28x28
    /// ResNet's inference ran 5-6 % faster than on the paired GEMM, and its training 10 % faster than on the
    /// tiles (3 % at 32x32).
    private static func fitsDirect(_ sh: ConvShape, forwardOnly: Bool = false) -> Bool {
        guard sh.groups == 1, sh.k % 4 == 0, sh.c % 4 == 0 || forwardOnly else { return false }
        if sh.strideH == 2 && sh.strideW == 2 {
            return sh.r == 3 && sh.s == 3 && sh.padH == 1 && sh.padW == 1 && sh.c <= 64 && sh.k <= 64
        }
        let fewChannels = sh.c <= 64 && sh.k <= 64 && sh.w >= 4
        let widePlane = sh.c <= 512 && sh.k <= 512 && sh.w >= 16
        return sh.strideH == 1 && sh.strideW == 1 && (sh.r > 1 || sh.s > 1)
            && 2 * sh.padH == sh.r - 1 && 2 * sh.padW == sh.s - 1 && (fewChannels || widePlane)
    }

    /// Spatial (not 1x1) convs with at most 64x3x3 patch rows on output planes of at least half a tile.
    /// Measured: the tiles win on ResNet's 16-64 channel convs; wider patches (EfficientNetV2's expand
    /// convs) ran 30% slower, and small planes batch several images into one wider GEMM instead (see
    /// `convImagesPerGemm`). The forwards of strided convs that the direct kernel does not take go to the GEMM
    /// path: without the backward's second GEMM to keep a tile's columns warm for, one GEMM over several images'
    /// columns beat GEMMs of 126 columns (ResNet's 16->32 stride-2 convs on 28x28 in inference: 3.6 ms -> 3.0 ms
    /// a batch).
    private static func fitsTiles(_ sh: ConvShape) -> Bool {
        (sh.r > 1 || sh.s > 1) && sh.outPlane >= convTileColumns / 2 && sh.patch <= 576
    }
}

// MARK: - Scratch

/// Floats of scratch one conv call uses, in the calling thread's `columns`, `gathered` and `weightPartials`.
/// The direct, tile and GEMM paths split the batch into one run of images per thread (`parts` of them):
/// part i owns `partColumns` floats of columns at i * partColumns and `partGathered` of gathered likewise,
/// and every part but the first adds its weight gradient into a partial of its own in weightPartials.
/// Scratch the whole call shares follows the parts: the direct path's packed weights, all of Winograd's.
/// The depthwise kernels keep theirs on the stack.
struct ConvScratchSizes {
    var parts = 1
    var partColumns = 0, partGathered = 0
    var sharedColumns = 0, sharedGathered = 0
    var weightPartials = 0

    var columns: Int { parts * partColumns + sharedColumns }
    var gathered: Int { parts * partGathered + sharedGathered }
    /// Offset of the shared scratch in columns.
    var sharedColumnsStart: Int { parts * partColumns }

    init(_ sh: ConvShape, _ path: ConvPath) {
        switch path {
        case .depthwiseSmallPlane, .depthwisePhased:
            break
        case .onePixel:
            splitByImages(sh, columns: 0, gathered: 0)
        case .winograd4x4:
            let layout = Winograd4x4Layout(sh), scratch = layout.scratch
            parts = Parallel.parts(layout.items)
            (partColumns, partGathered, sharedColumns) = (scratch.columns, scratch.gathered, scratch.weights)
        case .winograd:
            (sharedColumns, sharedGathered) = WinogradLayout(sh).scratch
        case .direct:
            let direct = directScratchCounts(sh)
            splitByImages(sh, columns: direct.columns, gathered: direct.gathered)
            sharedColumns = direct.packed
            if ConvPath.runsGradInputOnWinograd4x4(sh) {
                // After the weight gradient, the same scratch holds the turned weights and F(4x4, 3x3)'s own.
                let winograd = ConvScratchSizes(sh.gradInputConv, .winograd4x4)
                let columnsAfter = sh.k * sh.patch + winograd.columns
                sharedColumns = Swift.max(sharedColumns, columnsAfter - sharedColumnsStart)
                sharedGathered = Swift.max(0, winograd.gathered - parts * partGathered)
            }
        case .tiles:
            // The tile and its gradient, each followed by the image's stride phases (strided convs).
            splitByImages(sh, columns: convTileScratchFloats(sh), gathered: convTileScratchFloats(sh))
        case .gemm:
            // Columns [C*R*S, B*P*Q] and, when B > 1, an output-shaped matrix [K, B*P*Q] (the GEMM result,
            // before it is scattered to NCHW).
            // Strided convs add one image's stride phases after the columns.
            let b = convImagesPerGemm(sh)
            splitByImages(sh, columns: convReadsImageAsColumns(sh) ? 0 : gemmColumnFloats(sh) + StridePhases.floats(sh),
                          gathered: b > 1 ? sh.k * b * sh.outPlane : 0)
        }
    }

    init(_ sh: ConvShape) { self.init(sh, ConvPath(sh)) }

    private mutating func splitByImages(_ sh: ConvShape, columns: Int, gathered: Int) {
        parts = Parallel.parts(sh.n)
        partColumns = columns
        partGathered = gathered
        weightPartials = (parts - 1) * sh.k * sh.patch
    }
}

// MARK: - Forward and backward

/// output[N, K, P, Q] = activation(conv(input[N, C, H, W], weight[K, Cg, R, S]) + bias[K]), on the conv's path.
/// columns and gathered hold `ConvScratchSizes(sh)` floats. `transformedWeights`: the Winograd paths' U, as
/// `transformConvWeights` wrote it from these weights (kept by a caller whose weights do not change between
/// calls); without it they transform the weights here.
func convForward(
    _ sh: ConvShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    output: UnsafeMutablePointer<Float>, columns: UnsafeMutablePointer<Float>, gathered: UnsafeMutablePointer<Float>,
    activation: ConvActivation = .none, residual: UnsafePointer<Float>? = nil, path: ConvPath? = nil,
    transformedWeights: UnsafePointer<Float>? = nil
) {
    let path = path ?? ConvPath(sh), scratch = ConvScratchSizes(sh, path)
    if let residual, !path.addsResidual {
        convForward(sh, input: input, weight: weight, bias: bias, output: output, columns: columns, gathered: gathered,
                    path: path, transformedWeights: transformedWeights)
        applyActivation(activation, to: output, adding: residual, count: sh.n * sh.k * sh.outPlane)
        return
    }
    switch path {
    case .depthwiseSmallPlane:
        depthwiseSmallPlaneForward(sh, input: input, weight: weight, bias: bias, output: output, activation: activation)
    case .depthwisePhased:
        depthwiseConvForwardPhased(sh, input: input, weight: weight, bias: bias, output: output, activation: activation)
    case .onePixel:
        Parallel.forEachPart(sh.n) { _, images in
            onePixelForward(sh, images: images, input: input, weight: weight, bias: bias, output: output,
                            activation: activation)
        }
    case .winograd4x4:
        let u = transformedWeights ?? {
            let u = columns + scratch.sharedColumnsStart
            transformWinograd4x4Weights(weight, sh, into: u)
            return UnsafePointer(u)
        }()
        Parallel.forEachPart(Winograd4x4Layout(sh).items) { part, items in
            convForwardWinograd4x4(sh, items: items, input: input, transformedWeights: u, bias: bias, output: output,
                                   columns: columns + part * scratch.partColumns, gathered: gathered + part * scratch.partGathered,
                                   activation: activation, residual: residual)
        }
    case .winograd:
        convForwardWinograd(sh, input: input, weight: weight, bias: bias, output: output, columns: columns, gathered: gathered,
                            activation: activation, transformedWeights: transformedWeights)
    case .direct:
        let packed = columns + scratch.sharedColumnsStart
        packDirectWeights(weight, sh, into: packed)
        Parallel.forEachPart(sh.n) { part, images in
            convForwardDirect(sh, images: images, input: input, packed: packed, bias: bias, output: output,
                              planes: columns + part * scratch.partColumns, pitched: gathered + part * scratch.partGathered,
                              activation: activation, residual: residual)
        }
    case .tiles:
        Parallel.forEachPart(sh.n) { part, images in
            convForwardTiles(sh, images: images, input: input, weight: weight, bias: bias, output: output,
                             tile: columns + part * scratch.partColumns, activation: activation)
        }
    case .gemm:
        Parallel.forEachPart(sh.n) { part, images in
            convForwardImages(sh, images: images, input: input, weight: weight, bias: bias, output: output,
                              columns: columns + part * scratch.partColumns, gathered: gathered + part * scratch.partGathered,
                              activation: activation)
        }
    }
}

/// The Winograd paths' weights in the form their products read (U), for `convForward`'s `transformedWeights`:
/// `transformedWeightFloats(sh, path)` floats, nil for the other paths.
func transformedWeightFloats(_ sh: ConvShape, _ path: ConvPath) -> Int? {
    switch path {
    case .winograd: return WinogradLayout(sh).weightFloats
    case .winograd4x4: return Winograd4x4Layout(sh).scratch.weights
    default: return nil
    }
}

/// Writes `transformedWeightFloats(sh, path)` floats of U for a Winograd path.
func transformConvWeights(_ weight: UnsafePointer<Float>, _ sh: ConvShape, _ path: ConvPath, into u: UnsafeMutablePointer<Float>) {
    switch path {
    case .winograd: transformWinogradWeights(weight, sh, into: u)
    case .winograd4x4: transformWinograd4x4Weights(weight, sh, into: u)
    default: preconditionFailure("only the Winograd paths transform their weights")
    }
}

/// Backward of `convForward`: gradInput[N, C, H, W] is overwritten (nil: not wanted, on the paths that
/// `canLeaveOutInputGradient`); gradWeight[K, Cg, R, S] and gradBias[K] are *accumulated* into (+=).
/// columns, gathered and weightPartials hold `ConvScratchSizes(sh)` floats.
func convBackward(
    _ sh: ConvShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>?, gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?,
    columns: UnsafeMutablePointer<Float>, gathered: UnsafeMutablePointer<Float>, weightPartials: UnsafeMutablePointer<Float>
) {
    let path = ConvPath(sh), scratch = ConvScratchSizes(sh, path)
    precondition(gradInput != nil || path.canLeaveOutInputGradient, "conv on the \(path) path: backward writes dInput")
    if let gradBias, !path.isDepthwise { addBiasGradient(sh, gradOutput: gradOutput, gradBias: gradBias) }
    switch path {
    case .depthwiseSmallPlane:
        depthwiseSmallPlaneBackward(sh, input: input, weight: weight, gradOutput: gradOutput, gradInput: gradInput!,
                                    gradWeight: gradWeight, gradBias: gradBias)
    case .depthwisePhased:
        depthwiseConvBackwardPhased(sh, input: input, weight: weight, gradOutput: gradOutput, gradInput: gradInput!,
                                    gradWeight: gradWeight, gradBias: gradBias)
    case .onePixel:
        forEachImagePart(sh, scratch, gradWeight: gradWeight, weightPartials: weightPartials) { _, images, partGradWeight in
            onePixelBackward(sh, images: images, input: input, weight: weight, gradOutput: gradOutput,
                             gradInput: gradInput!, gradWeight: partGradWeight)
        }
    case .winograd4x4:
        preconditionFailure("Winograd F(4x4, 3x3) is a forward-only path: the backward's is ConvPath(sh)")
    case .winograd:
        convBackwardWinograd(sh, input: input, weight: weight, gradOutput: gradOutput, gradInput: gradInput!,
                             gradWeight: gradWeight, columns: columns, gathered: gathered)
    case .direct:
        let onWinograd = ConvPath.runsGradInputOnWinograd4x4(sh), packed = columns + scratch.sharedColumnsStart
        if !onWinograd { packDirectWeightsTransposed(weight, sh, into: packed) }
        forEachImagePart(sh, scratch, gradWeight: gradWeight, weightPartials: weightPartials) { part, images, partGradWeight in
            convBackwardDirect(sh, images: images, input: input, packedTransposed: packed, gradOutput: gradOutput,
                               gradInput: onWinograd ? nil : gradInput!, gradWeight: partGradWeight,
                               planes: columns + part * scratch.partColumns, pitched: gathered + part * scratch.partGathered)
        }
        if onWinograd {
            turnWeights(weight, sh, into: columns)
            convForward(sh.gradInputConv, input: gradOutput, weight: columns, bias: nil, output: gradInput!,
                        columns: columns + sh.k * sh.patch, gathered: gathered, path: .winograd4x4)
        }
    case .tiles:
        forEachImagePart(sh, scratch, gradWeight: gradWeight, weightPartials: weightPartials) { part, images, partGradWeight in
            convBackwardTiles(sh, images: images, input: input, weight: weight, gradOutput: gradOutput,
                              gradInput: gradInput, gradWeight: partGradWeight,
                              tile: columns + part * scratch.partColumns, gradTile: gathered + part * scratch.partGathered)
        }
    case .gemm:
        forEachImagePart(sh, scratch, gradWeight: gradWeight, weightPartials: weightPartials) { part, images, partGradWeight in
            convBackwardImages(sh, images: images, input: input, weight: weight, gradOutput: gradOutput,
                               gradInput: gradInput, gradWeight: partGradWeight,
                               columns: columns + part * scratch.partColumns, gathered: gathered + part * scratch.partGathered)
        }
    }
}

/// gradBias[k] += the sum of gradOutput's planes of channel k over the batch.
private func addBiasGradient(_ sh: ConvShape, gradOutput: UnsafePointer<Float>, gradBias: UnsafeMutablePointer<Float>) {
    Parallel.forEachPart(sh.k, minimum: 8) { _, channels in
        for k in channels {
            var sum: Float = 0
            for i in 0..<sh.n { sum += sumOf(gradOutput + sh.outputPlane(i, k), count: sh.outPlane) }
            gradBias[k] += sum
        }
    }
}

/// Runs body(part, images, gradWeight of the part) for each thread's run of images. The first part adds its
/// weight gradient straight into gradWeight, each other one into a zeroed partial of its own in
/// weightPartials; the partials are added onto gradWeight at the end, in part order.
@inline(__always)
private func forEachImagePart(
    _ sh: ConvShape, _ scratch: ConvScratchSizes, gradWeight: UnsafeMutablePointer<Float>,
    weightPartials: UnsafeMutablePointer<Float>,
    _ body: (_ part: Int, _ images: Range<Int>, _ partGradWeight: UnsafeMutablePointer<Float>) -> Void
) {
    let weightCount = sh.k * sh.patch, parts = scratch.parts
    Parallel.forEachPart(sh.n) { part, images in
        let partial = part == 0 ? gradWeight : weightPartials + (part - 1) * weightCount
        if part > 0 { partial.update(repeating: 0, count: weightCount) }
        body(part, images, partial)
    }
    if parts > 1 {
        Parallel.forEachPart(weightCount, minimum: 4096) { _, range in
            for p in 1..<parts {
                let src = weightPartials + (p - 1) * weightCount
                for j in range { gradWeight[j] = gradWeight[j] + src[j] }
            }
        }
    }
}

/// The output indices o in 0..<outCount whose input coordinate o*stride - pad + offset lies in 0..<inCount.
@inline(__always)
func validOutputRange(inCount: Int, outCount: Int, stride: Int, pad: Int, offset: Int) -> Range<Int> {
    // o*stride >= pad - offset  and  o*stride <= inCount - 1 + pad - offset
    let low = pad - offset
    let start = low > 0 ? (low + stride - 1) / stride : 0
    let high = inCount - 1 + pad - offset
    let end = high < 0 ? 0 : Swift.min(outCount, high / stride + 1)
    return start..<Swift.max(start, end)
}

// MARK: - im2col / col2im

/// One row of an unfold: out[q] = input pixel under output column q for one (c, r, s) and output row p,
/// zero where the window hangs over the padding. out: [Q]; src points at input column -padW + s of the
/// input row p*strideH - padH + r; qRange: the columns whose pixel lies inside the image; rowEnd: the
/// floats from src to the end of that input row (W + padW - s), which bounds the stride-2 vector loads.
@inline(__always)
func unfoldRow(_ src: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, valid qRange: Range<Int>, rowEnd: Int,
               _ sh: ConvShape) {
    for q in 0..<qRange.lowerBound { out[q] = 0 }
    readStrided(src, stride: sh.strideW, into: out, qRange, readable: rowEnd)
    for q in qRange.upperBound..<sh.q { out[q] = 0 }
}

/// The adjoint of `unfoldRow`: adds col[q] onto the input pixel it was read from, for q in qRange.
@inline(__always)
func foldRow(_ col: UnsafePointer<Float>, onto dst: UnsafeMutablePointer<Float>, valid qRange: Range<Int>, rowEnd: Int,
             _ sh: ConvShape) {
    writeStrided(col, into: dst, stride: sh.strideW, qRange, accumulate: true, writable: rowEnd)
}

/// Calls body(column row, input row, qRange, rowEnd) for every row of the unfold of output rows `rows` of
/// `images` consecutive images into columns [C*R*S, images * rows.count * Q] (row (c, r, s), column
/// (b, p - rows.lowerBound, q)): `column row` is the offset in columns of the Q entries of tap (c, r, s),
/// image b and output row p; `input row` the offset in the images of the pixel they start from (see
/// `unfoldRow`), nil where that input row lies in the padding; qRange and rowEnd as `unfoldRow` takes them.
@inline(__always)
private func forEachUnfoldRow(
    _ sh: ConvShape, images: Int, rows: Range<Int>,
    _ body: (_ columnRow: Int, _ inputRow: Int?, _ qRange: Range<Int>, _ rowEnd: Int) -> Void
) {
    let width = images * rows.count * sh.q
    for c in 0..<sh.c {
        for r in 0..<sh.r {
            let pRange = validOutputRange(inCount: sh.h, outCount: sh.p, stride: sh.strideH, pad: sh.padH, offset: r)
            for s in 0..<sh.s {
                let qRange = validOutputRange(inCount: sh.w, outCount: sh.q, stride: sh.strideW, pad: sh.padW, offset: s)
                let row = ((c * sh.r + r) * sh.s + s) * width
                for b in 0..<images {
                    let plane = sh.inputPlane(b, c)
                    for p in rows {
                        let columnRow = row + (b * rows.count + p - rows.lowerBound) * sh.q
                        let inputRow = pRange.contains(p) ? plane + (p * sh.strideH - sh.padH + r) * sh.w - sh.padW + s : nil
                        body(columnRow, inputRow, qRange, sh.w + sh.padW - s)
                    }
                }
            }
        }
    }
}

/// Unfolds output rows `rows` of `images` consecutive images [images, C, H, W] into
/// columns [C*R*S, images * rows.count * Q]; each (row, p) is one run of in-image pixels between zeros.
func im2col(_ image: UnsafePointer<Float>, images: Int, rows: Range<Int>, _ sh: ConvShape,
            _ columns: UnsafeMutablePointer<Float>) {
    forEachUnfoldRow(sh, images: images, rows: rows) { columnRow, inputRow, qRange, rowEnd in
        if let inputRow {
            unfoldRow(image + inputRow, into: columns + columnRow, valid: qRange, rowEnd: rowEnd, sh)
        } else {
            (columns + columnRow).update(repeating: 0, count: sh.q)
        }
    }
}

/// The adjoint of `im2col(rows:)`: adds every column entry onto the pixel of gradImage [images, C, H, W]
/// it was read from.
func col2im(_ columns: UnsafePointer<Float>, images: Int, rows: Range<Int>, _ sh: ConvShape,
            _ gradImage: UnsafeMutablePointer<Float>) {
    forEachUnfoldRow(sh, images: images, rows: rows) { columnRow, inputRow, qRange, rowEnd in
        if let inputRow { foldRow(columns + columnRow, onto: gradImage + inputRow, valid: qRange, rowEnd: rowEnd, sh) }
    }
}

/// Unfolds `images` whole images: image [images, C, H, W], columns [C*R*S, images*P*Q].
func im2col(_ image: UnsafePointer<Float>, images: Int, _ sh: ConvShape, _ columns: UnsafeMutablePointer<Float>) {
    if sh.isPointwise {
        // Each column row is one channel's planes side by side: whole-plane copies (ShuffleNetV1's
        // grouped 1x1 convs spent 8 % of a step here going row by row).
        let width = images * sh.outPlane
        for c in 0..<sh.c {
            for b in 0..<images { copyFloats(columns + c * width + b * sh.outPlane, image + sh.inputPlane(b, c), count: sh.outPlane) }
        }
        return
    }
    im2col(image, images: images, rows: 0..<sh.p, sh, columns)
}

/// The adjoint of `im2col`: columns [C*R*S, images*P*Q], gradImage [images, C, H, W], *overwritten*.
func col2im(_ columns: UnsafePointer<Float>, images: Int, _ sh: ConvShape, _ gradImage: UnsafeMutablePointer<Float>) {
    if sh.isPointwise {
        // Every pixel has exactly one column entry: copies, nothing to add.
        let width = images * sh.outPlane
        for c in 0..<sh.c {
            for b in 0..<images { copyFloats(gradImage + sh.inputPlane(b, c), columns + c * width + b * sh.outPlane, count: sh.outPlane) }
        }
        return
    }
    gradImage.update(repeating: 0, count: images * sh.c * sh.inPlane)
    col2im(columns, images: images, rows: 0..<sh.p, sh, gradImage)
}

// MARK: - Stride phases

/// A strided conv's unfold through its input's stride phases (as Depthwise.swift's phase planes): tap (r, s)
/// of output pixel (p, q) reads padded pixel (p*sH + r, q*sW + s), which is entry (p + r/sH, q + s/sW) of
/// phase (r mod sH, s mod sW). Split once per image into zero-bordered phases [C][sH*sW][rows][pitch],
/// every unfold row is then one contiguous copy of Q floats. Unfolding straight from the image, each of
/// the R*S taps deinterleaved its rows again: ResNet's stride-2 convs, 15 % of its multiply-adds, took
/// 27 % of an inference step, most of it in those shuffles.
/// Calls body(phase, i, plane row, columns) for every row i of every stride phase (a, b) (phase = a*sW + b)
/// that lies on one input plane [H, W]: entry j of that phase row is pixel j*sW of the plane row starting at
/// offset `plane row`, for j in columns. The walk that both phase layouts (`StridePhases`, Depthwise.swift's
/// stacked planes) fill and empty their phases by.
@inline(__always)
func forEachPhaseRow(_ sh: ConvShape, _ body: (_ phase: Int, _ i: Int, _ planeRow: Int, _ columns: Range<Int>) -> Void) {
    let rows = StridePhases.rows(sh), pitch = StridePhases.pitch(sh)
    for a in 0..<sh.strideH {
        let iRange = validOutputRange(inCount: sh.h, outCount: rows, stride: sh.strideH, pad: sh.padH, offset: a)
        for b in 0..<sh.strideW {
            let jRange = validOutputRange(inCount: sh.w, outCount: pitch, stride: sh.strideW, pad: sh.padW, offset: b)
            for i in iRange { body(a * sh.strideW + b, i, (i * sh.strideH + a - sh.padH) * sh.w + b - sh.padW, jRange) }
        }
    }
}

enum StridePhases {
    /// Strided convs with more than one tap (a 1x1 strided conv reads one phase of four: it unfolds as is).
    static func apply(_ sh: ConvShape) -> Bool { (sh.strideH > 1 || sh.strideW > 1) && sh.r * sh.s > 1 }

    /// Rows and row pitch of one phase plane: the P (Q) output positions plus the furthest tap's shift.
    static func rows(_ sh: ConvShape) -> Int { sh.p + (sh.r - 1) / sh.strideH }
    static func pitch(_ sh: ConvShape) -> Int { sh.q + (sh.s - 1) / sh.strideW }

    /// Floats of one image's phases; 0 when the conv does not use them.
    static func floats(_ sh: ConvShape) -> Int {
        apply(sh) ? sh.c * sh.strideH * sh.strideW * rows(sh) * pitch(sh) : 0
    }

    /// Offset in the phases of the Q floats that tap (r, s) of output row p reads in channel c.
    @inline(__always)
    static func tapRow(_ sh: ConvShape, c: Int, r: Int, s: Int, p: Int) -> Int {
        let phase = c * sh.strideH * sh.strideW + (r % sh.strideH) * sh.strideW + s % sh.strideW
        return (phase * rows(sh) + p + r / sh.strideH) * pitch(sh) + s / sh.strideW
    }

    /// Calls body(phase row, image row, columns) for every phase row that lies on the image: entry j of the
    /// phase row is pixel j*sW of the image row (offsets into the phases and the image [C, H, W]) for j in
    /// columns.
    @inline(__always)
    private static func forEachImageRow(_ sh: ConvShape,
                                        _ body: (_ phaseRow: Int, _ imageRow: Int, _ columns: Range<Int>) -> Void) {
        let rows = rows(sh), pitch = pitch(sh), phases = sh.strideH * sh.strideW
        for c in 0..<sh.c {
            forEachPhaseRow(sh) { phase, i, planeRow, columns in
                body(((c * phases + phase) * rows + i) * pitch, c * sh.inPlane + planeRow, columns)
            }
        }
    }

    /// phases = image [C, H, W] split into its stride phases, zero on the padding. The vector loads of a
    /// stride-2 row may run on into the image's next row (`readable`).
    static func split(_ image: UnsafePointer<Float>, _ sh: ConvShape, into phases: UnsafeMutablePointer<Float>) {
        phases.update(repeating: 0, count: floats(sh))
        let end = sh.c * sh.inPlane
        forEachImageRow(sh) { phaseRow, imageRow, columns in
            readStrided(image + imageRow, stride: sh.strideW, into: phases + phaseRow, columns, readable: end - imageRow)
        }
    }

    /// The adjoint of `split`: gradImage [C, H, W] = the phase entries that lie on the image; pixels no tap
    /// reads (a stride that skips the last rows or columns) are 0.
    static func merge(_ phases: UnsafePointer<Float>, _ sh: ConvShape, into gradImage: UnsafeMutablePointer<Float>) {
        gradImage.update(repeating: 0, count: sh.c * sh.inPlane)
        let end = sh.c * sh.inPlane
        forEachImageRow(sh) { phaseRow, imageRow, columns in
            writeStrided(phases + phaseRow, into: gradImage + imageRow, stride: sh.strideW, columns, writable: end - imageRow)
        }
    }

    /// Calls body(column row, phase row) for each of the Q-float runs of image slot `slot`'s columns
    /// [C*R*S, images*rows.count*Q] (the layout of `im2col(images:rows:)`) and the phase row it is read from.
    @inline(__always)
    private static func forEachTapRow(_ sh: ConvShape, slot: Int, images: Int, rows: Range<Int>,
                                      _ body: (_ columnRow: Int, _ phaseRow: Int) -> Void) {
        let width = images * rows.count * sh.q
        for c in 0..<sh.c {
            for r in 0..<sh.r {
                for s in 0..<sh.s {
                    let row = ((c * sh.r + r) * sh.s + s) * width + slot * rows.count * sh.q
                    for p in rows { body(row + (p - rows.lowerBound) * sh.q, tapRow(sh, c: c, r: r, s: s, p: p)) }
                }
            }
        }
    }

    /// Unfolds output rows `rows` of the image whose phases these are into image slot `slot` of columns
    /// [C*R*S, images*rows.count*Q].
    static func unfold(_ phases: UnsafePointer<Float>, _ sh: ConvShape, slot: Int, images: Int, rows: Range<Int>,
                       into columns: UnsafeMutablePointer<Float>) {
        forEachTapRow(sh, slot: slot, images: images, rows: rows) { columnRow, phaseRow in
            copyFloats(columns + columnRow, phases + phaseRow, count: sh.q)
        }
    }

    /// The adjoint of `unfold`: adds image slot `slot`'s column entries onto the phase entries they were read from.
    static func fold(_ columns: UnsafePointer<Float>, _ sh: ConvShape, slot: Int, images: Int, rows: Range<Int>,
                     into gradPhases: UnsafeMutablePointer<Float>) {
        forEachTapRow(sh, slot: slot, images: images, rows: rows) { columnRow, phaseRow in
            addFloats(columns + columnRow, onto: gradPhases + phaseRow, count: sh.q)
        }
    }
}

// MARK: - General convolution (GEMM)

/// Floats of GEMM result that several images' batched GEMM may leave for the scatter: 512 KB, half of an
/// L2. Measured on ShuffleNetV2-0.5x's last 1x1 conv (192 -> 1024 on 4x4 planes), whose 32-image result
/// was 2 MB and was scattered from L3: inference 1,000-1,270 -> 1,260-1,400 img/s; training unchanged.
let gatheredCacheFloats = 128 << 10

/// How many images share one GEMM: one when the output plane is big enough for an efficient GEMM on its own,
/// else several (their columns side by side, ~1024 wide), capped so the column matrix stays under 16 MB and
/// the GEMM's result [K, B*P*Q] under `gatheredCacheFloats`, so that the scatter to NCHW reads it from L2.
func convImagesPerGemm(_ sh: ConvShape) -> Int {
    let wantWidth = 1024
    if sh.outPlane >= wantWidth / 4 { return 1 }
    let maxColumnFloats = 4 << 20
    let byWidth = Swift.max(1, wantWidth / Swift.max(1, sh.outPlane))
    let byMemory = Swift.max(1, maxColumnFloats / Swift.max(1, sh.c * sh.r * sh.s * sh.outPlane))
    let byResult = Swift.max(1, gatheredCacheFloats / Swift.max(1, sh.k * sh.outPlane))
    return Swift.max(1, Swift.min(sh.n, byWidth, byMemory, byResult))
}

/// Floats of the GEMM path's column matrix [C*R*S, B*P*Q].
func gemmColumnFloats(_ sh: ConvShape) -> Int { sh.c * sh.r * sh.s * convImagesPerGemm(sh) * sh.outPlane }

/// A pointwise conv one image at a time reads the image itself as its column matrix: no im2col at all.
func convReadsImageAsColumns(_ sh: ConvShape) -> Bool { sh.isPointwise && convImagesPerGemm(sh) == 1 }

/// Calls body(n0, b, cols) for each run of b images n0 ..< n0+b of `images` that share one GEMM
/// (`convImagesPerGemm`), cols their column matrix [C*R*S, b*P*Q]: the image [C, H*W] itself for a
/// pointwise conv taken one image at a time, else unfolded into columns.
@inline(__always)
private func forEachGemmRun(
    _ sh: ConvShape, images: Range<Int>, input: UnsafePointer<Float>, columns: UnsafeMutablePointer<Float>,
    _ body: (_ n0: Int, _ b: Int, _ cols: UnsafePointer<Float>) -> Void
) {
    let imagesPerGemm = convImagesPerGemm(sh), imageIsColumns = convReadsImageAsColumns(sh)
    var n0 = images.lowerBound
    while n0 < images.upperBound {
        let b = Swift.min(imagesPerGemm, images.upperBound - n0)
        let image = input + sh.inputPlane(n0, 0)
        if imageIsColumns {
            body(n0, b, image)
        } else if StridePhases.apply(sh) {
            let phases = columns + gemmColumnFloats(sh)
            for slot in 0..<b {
                StridePhases.split(image + slot * sh.c * sh.inPlane, sh, into: phases)
                StridePhases.unfold(phases, sh, slot: slot, images: b, rows: 0..<sh.p, into: columns)
            }
            body(n0, b, columns)
        } else {
            im2col(image, images: b, sh, columns)
            body(n0, b, columns)
        }
        n0 += b
    }
}

/// convForward for the images in `images`, on one thread.
func convForwardImages(
    _ sh: ConvShape, images: Range<Int>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
    columns: UnsafeMutablePointer<Float>, gathered: UnsafeMutablePointer<Float>, activation: ConvActivation = .none
) {
    let pq = sh.outPlane
    forEachGemmRun(sh, images: images, input: input, columns: columns) { n0, b, cols in
        let width = b * pq
        // One GEMM per group: result[Kg, width] = W_g[Kg, Cg*R*S] * cols_g[Cg*R*S, width].
        let result = b == 1 ? output + sh.outputPlane(n0, 0) : gathered
        for g in 0..<sh.groups {
            BLAS.sgemm(transA: false, transB: false, m: sh.kg, n: width, k: sh.patch,
                       a: weight + g * sh.kg * sh.patch, lda: sh.patch,
                       b: cols + g * sh.patch * width, ldb: width,
                       beta: 0, c: result + g * sh.kg * width, ldc: width)
        }
        if b == 1 {
            if bias != nil || activation != .none {
                for k in 0..<sh.k { activation.addBias(bias?[k] ?? 0, to: output + sh.outputPlane(n0, k), count: pq) }
            }
            return
        }
        // Scatter [K, b, PQ] -> [b, K, PQ] adding the bias, then the activation over the b images at once
        // (on planes of 1 to 4 pixels, one call per plane cost more than the activation itself).
        for i in 0..<b {
            for k in 0..<sh.k {
                let dst = output + sh.outputPlane(n0 + i, k), src = gathered + k * width + i * pq
                let biasValue = bias?[k] ?? 0
                for j in 0..<pq { dst[j] = src[j] + biasValue }
            }
        }
        if activation != .none { activation.addBias(0, to: output + sh.outputPlane(n0, 0), count: b * sh.k * pq) }
    }
}

/// convBackward's GEMMs for the images in `images`, on one thread: gradInput overwritten (nil: the weight
/// gradient alone), gradWeight accumulated into.
func convBackwardImages(
    _ sh: ConvShape, images: Range<Int>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>?, gradWeight: UnsafeMutablePointer<Float>,
    columns: UnsafeMutablePointer<Float>, gathered: UnsafeMutablePointer<Float>
) {
    let pq = sh.outPlane, imageIsColumns = convReadsImageAsColumns(sh)
    forEachGemmRun(sh, images: images, input: input, columns: columns) { n0, b, cols in
        let width = b * pq
        // dOut as [K, width]: the image's own gradient when b is 1, else gathered from [b, K, PQ].
        let dOut: UnsafePointer<Float>
        if b == 1 { dOut = gradOutput + sh.outputPlane(n0, 0) } else {
            for i in 0..<b {
                for k in 0..<sh.k {
                    copyFloats(gathered + k * width + i * pq, gradOutput + sh.outputPlane(n0 + i, k), count: pq)
                }
            }
            dOut = UnsafePointer(gathered)
        }
        for g in 0..<sh.groups {
            // dW_g[Kg, Cg*R*S] += dOut_g[Kg, width] * cols_g[Cg*R*S, width]^T
            BLAS.sgemm(transA: false, transB: true, m: sh.kg, n: sh.patch, k: width,
                       a: dOut + g * sh.kg * width, lda: width,
                       b: cols + g * sh.patch * width, ldb: width,
                       beta: 1, c: gradWeight + g * sh.kg * sh.patch, ldc: sh.patch)
        }
        guard let gradImage = gradInput.map({ $0 + sh.inputPlane(n0, 0) }) else { return }
        // dCols_g[Cg*R*S, width] = W_g[Kg, Cg*R*S]^T * dOut_g[Kg, width], over the columns once read; a
        // pointwise conv on one image writes dInput directly.
        let dCols = imageIsColumns ? gradImage : columns
        for g in 0..<sh.groups {
            BLAS.sgemm(transA: true, transB: false, m: sh.patch, n: width, k: sh.kg,
                       a: weight + g * sh.kg * sh.patch, lda: sh.patch,
                       b: dOut + g * sh.kg * width, ldb: width,
                       beta: 0, c: dCols + g * sh.patch * width, ldc: width)
        }
        if StridePhases.apply(sh) {
            // The input's phases (after the columns) are spent: their room takes the gradient's.
            let gradPhases = columns + gemmColumnFloats(sh)
            for slot in 0..<b {
                gradPhases.update(repeating: 0, count: StridePhases.floats(sh))
                StridePhases.fold(columns, sh, slot: slot, images: b, rows: 0..<sh.p, into: gradPhases)
                StridePhases.merge(gradPhases, sh, into: gradImage + slot * sh.c * sh.inPlane)
            }
        } else if !imageIsColumns {
            col2im(columns, images: b, sh, gradImage)
        }
    }
}

// MARK: - One-pixel planes

/// The `.onePixel` path for the images in `images`, on one thread: with one pixel per plane, input
/// [N, C, 1, 1] is the matrix X[N, C] and output Y[N, K]; Y = activation(X W^T + bias), W as [K, C].
func onePixelForward(
    _ sh: ConvShape, images: Range<Int>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, activation: ConvActivation
) {
    let b = images.count, x = input + images.lowerBound * sh.c, y = output + images.lowerBound * sh.k
    BLAS.sgemm(transA: false, transB: true, m: b, n: sh.k, k: sh.c, a: x, lda: sh.c, b: weight, ldb: sh.c,
               beta: 0, c: y, ldc: sh.k)
    if let bias {
        for i in 0..<b {
            let row = y + i * sh.k
            for k in 0..<sh.k { row[k] += bias[k] }
        }
    }
    if activation != .none { activation.addBias(0, to: y, count: b * sh.k) }
}

/// Backward of `onePixelForward` for the images in `images`: dW[K, C] += dY^T X and dX[N, C] = dY W.
func onePixelBackward(
    _ sh: ConvShape, images: Range<Int>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>, gradWeight: UnsafeMutablePointer<Float>
) {
    let b = images.count, x = input + images.lowerBound * sh.c, dy = gradOutput + images.lowerBound * sh.k
    BLAS.sgemm(transA: true, transB: false, m: sh.k, n: sh.c, k: b, a: dy, lda: sh.k, b: x, ldb: sh.c,
               beta: 1, c: gradWeight, ldc: sh.c)
    BLAS.sgemm(transA: false, transB: false, m: b, n: sh.c, k: sh.k, a: dy, lda: sh.k, b: weight, ldb: sh.c,
               beta: 0, c: gradInput + images.lowerBound * sh.c, ldc: sh.c)
}
