/// Convolution kernels: im2col/col2im around BLAS GEMMs for general (and grouped) convs, and a direct
/// kernel for depthwise convs. Forward and backward sit side by side. `convForward`/`convBackward` pick
/// the path: Winograd (Winograd.swift) for wide 3x3 convs, direct (DirectConv.swift) for narrower "same"
/// convs, row tiles (ConvTiles.swift) for other spatial convs on big planes, whole-image GEMMs otherwise.
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

    /// A 1x1, stride-1, unpadded conv: the input image [C, H*W] already is the column matrix.
    var isPointwise: Bool { r == 1 && s == 1 && strideH == 1 && strideW == 1 && padH == 0 && padW == 0 }
    /// One filter per input channel (groups == C == K): handled by the direct depthwise kernel.
    var isDepthwise: Bool { groups == c && groups == k && groups > 1 }
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

/// Unfolds `images` consecutive images into columns.
/// image: [images, C, H, W] (consecutive images), columns: [C*R*S, images*P*Q] (row (c, r, s), column (b, p, q)).
func im2col(_ image: UnsafePointer<Float>, images: Int, _ sh: ConvShape, _ columns: UnsafeMutablePointer<Float>) {
    let pq = sh.outPlane, width = images * pq
    if sh.isPointwise {
        // Each column row is one channel's planes side by side: whole-plane copies (ShuffleNetV1's
        // grouped 1x1 convs spent 8 % of a step here going row by row).
        for c in 0..<sh.c {
            for b in 0..<images { copyFloats(columns + c * width + b * pq, image + (b * sh.c + c) * pq, count: pq) }
        }
        return
    }
    for c in 0..<sh.c {
        for r in 0..<sh.r {
            let pRange = validOutputRange(inCount: sh.h, outCount: sh.p, stride: sh.strideH, pad: sh.padH, offset: r)
            for s in 0..<sh.s {
                let qRange = validOutputRange(inCount: sh.w, outCount: sh.q, stride: sh.strideW, pad: sh.padW, offset: s)
                let row = columns + ((c * sh.r + r) * sh.s + s) * width
                for b in 0..<images {
                    let plane = image + (b * sh.c + c) * sh.inPlane
                    let dst = row + b * pq
                    for p in 0..<sh.p {
                        let out = dst + p * sh.q
                        guard pRange.contains(p) else {
                            out.update(repeating: 0, count: sh.q)
                            continue
                        }
                        let src = plane + (p * sh.strideH - sh.padH + r) * sh.w - sh.padW + s
                        unfoldRow(src, into: out, valid: qRange, rowEnd: sh.w + sh.padW - s, sh)
                    }
                }
            }
        }
    }
}

/// The adjoint of `im2col`: adds every column entry back onto the input pixel it was read from.
/// columns: [C*R*S, images*P*Q], gradImage: [images, C, H, W], *overwritten*.
func col2im(_ columns: UnsafePointer<Float>, images: Int, _ sh: ConvShape, _ gradImage: UnsafeMutablePointer<Float>) {
    let pq = sh.outPlane, width = images * pq
    if sh.isPointwise {
        // Every pixel has exactly one column entry: copies, nothing to add.
        for c in 0..<sh.c {
            for b in 0..<images { copyFloats(gradImage + (b * sh.c + c) * pq, columns + c * width + b * pq, count: pq) }
        }
        return
    }
    gradImage.update(repeating: 0, count: images * sh.c * sh.inPlane)
    for c in 0..<sh.c {
        for r in 0..<sh.r {
            let pRange = validOutputRange(inCount: sh.h, outCount: sh.p, stride: sh.strideH, pad: sh.padH, offset: r)
            for s in 0..<sh.s {
                let qRange = validOutputRange(inCount: sh.w, outCount: sh.q, stride: sh.strideW, pad: sh.padW, offset: s)
                let row = columns + ((c * sh.r + r) * sh.s + s) * width
                for b in 0..<images {
                    let plane = gradImage + (b * sh.c + c) * sh.inPlane
                    let src = row + b * pq
                    for p in pRange {
                        let dst = plane + (p * sh.strideH - sh.padH + r) * sh.w - sh.padW + s
                        let col = src + p * sh.q
                        foldRow(col, onto: dst, valid: qRange, rowEnd: sh.w + sh.padW - s, sh)
                    }
                }
            }
        }
    }
}

// MARK: - General convolution (GEMM)

/// How many images share one GEMM: one when the output plane is big enough for an efficient GEMM on its own,
/// else several (their columns side by side, ~1024 wide), capped so the column matrix stays under 16 MB.
func convImagesPerGemm(_ sh: ConvShape) -> Int {
    let wantWidth = 1024
    if sh.outPlane >= wantWidth / 4 { return 1 }
    let maxColumnFloats = 4 << 20
    let byWidth = Swift.max(1, wantWidth / Swift.max(1, sh.outPlane))
    let byMemory = Swift.max(1, maxColumnFloats / Swift.max(1, sh.c * sh.r * sh.s * sh.outPlane))
    return Swift.max(1, Swift.min(sh.n, byWidth, byMemory))
}

/// A pointwise conv one image at a time reads the image itself as its column matrix: no im2col at all.
func convReadsImageAsColumns(_ sh: ConvShape) -> Bool { sh.isPointwise && convImagesPerGemm(sh) == 1 }

/// Floats of scratch the GEMM path needs: columns [C*R*S, B*P*Q] and, when B > 1, an output-shaped
/// matrix [K, B*P*Q] (the GEMM result, before it is scattered to NCHW).
func convScratchCounts(_ sh: ConvShape) -> (columns: Int, gathered: Int) {
    if convUsesDirect(sh) {
        let direct = directScratchCounts(sh)
        return (direct.columns, direct.gathered)
    }
    if convUsesTiles(sh) { return (convTileFloats(sh), convTileFloats(sh)) }  // the tile and its gradient
    let b = convImagesPerGemm(sh)
    let columns = convReadsImageAsColumns(sh) ? 0 : sh.c * sh.r * sh.s * b * sh.outPlane
    let gathered = b > 1 ? sh.k * b * sh.outPlane : 0
    return (columns, gathered)
}

/// Floats of scratch each thread's part needs (see `convScratchCounts`), times the parts of a batch of sh.n;
/// the direct path's packed weights follow the parts' columns.
func convScratchTotals(_ sh: ConvShape) -> (columns: Int, gathered: Int, weightPartials: Int) {
    if convUsesWinograd(sh) {
        let winograd = winogradScratchCounts(sh)
        return (winograd.columns, winograd.gathered, 0)
    }
    let one = convScratchCounts(sh), parts = Parallel.parts(sh.n)
    let packed = convUsesDirect(sh) ? directScratchCounts(sh).packed : 0
    return (one.columns * parts + packed, one.gathered * parts, (parts - 1) * sh.k * sh.patch)
}

/// output[N, K, P, Q] = conv(input[N, C, H, W], weight[K, Cg, R, S]) + bias[K].
/// The batch splits into one run of images per thread; columns and gathered hold `convScratchTotals(sh)` floats.
func convForward(
    _ sh: ConvShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    output: UnsafeMutablePointer<Float>, columns: UnsafeMutablePointer<Float>, gathered: UnsafeMutablePointer<Float>
) {
    if convUsesWinograd(sh) {
        convForwardWinograd(sh, input: input, weight: weight, bias: bias, output: output, columns: columns, gathered: gathered)
        return
    }
    let scratch = convScratchCounts(sh)
    if convUsesDirect(sh) {
        let packed = columns + Parallel.parts(sh.n) * scratch.columns
        packDirectWeights(weight, sh, into: packed)
        Parallel.forEachPart(sh.n) { part, images in
            convForwardDirect(sh, images: images, input: input, packed: packed, bias: bias, output: output,
                              planes: columns + part * scratch.columns, pitched: gathered + part * scratch.gathered)
        }
        return
    }
    Parallel.forEachPart(sh.n) { part, images in
        if convUsesTiles(sh) {
            convForwardTiles(sh, images: images, input: input, weight: weight, bias: bias, output: output,
                             tile: columns + part * scratch.columns)
            return
        }
        convForwardImages(sh, images: images, input: input, weight: weight, bias: bias, output: output,
                          columns: columns + part * scratch.columns, gathered: gathered + part * scratch.gathered)
    }
}

/// convForward for the images in `images`, on one thread.
func convForwardImages(
    _ sh: ConvShape, images: Range<Int>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
    columns: UnsafeMutablePointer<Float>, gathered: UnsafeMutablePointer<Float>
) {
    let imagesPerGemm = convImagesPerGemm(sh), imageIsColumns = convReadsImageAsColumns(sh)
    let pq = sh.outPlane
    var n0 = images.lowerBound
    while n0 < images.upperBound {
        let b = Swift.min(imagesPerGemm, images.upperBound - n0)
        let width = b * pq
        let image = input + n0 * sh.c * sh.inPlane
        // The column matrix: the image [C, H*W] itself for a pointwise conv taken one image at a time.
        let cols: UnsafePointer<Float>
        if imageIsColumns { cols = image } else {
            im2col(image, images: b, sh, columns)
            cols = UnsafePointer(columns)
        }
        // One GEMM per group: result[Kg, width] = W_g[Kg, Cg*R*S] * cols_g[Cg*R*S, width].
        let result = b == 1 ? output + n0 * sh.k * pq : gathered
        for g in 0..<sh.groups {
            BLAS.sgemm(transA: false, transB: false, m: sh.kg, n: width, k: sh.patch,
                       a: weight + g * sh.kg * sh.patch, lda: sh.patch,
                       b: cols + g * sh.patch * width, ldb: width,
                       beta: 0, c: result + g * sh.kg * width, ldc: width)
        }
        // Scatter [K, b, PQ] -> [b, K, PQ] (when batched) and add the bias.
        for i in 0..<b {
            for k in 0..<sh.k {
                let dst = output + ((n0 + i) * sh.k + k) * pq
                let biasValue = bias?[k] ?? 0
                if b == 1 {
                    if bias != nil { for j in 0..<pq { dst[j] = dst[j] + biasValue } }
                } else {
                    let src = gathered + k * width + i * pq
                    for j in 0..<pq { dst[j] = src[j] + biasValue }
                }
            }
        }
        n0 += b
    }
}

/// Backward of `convForward`: gradInput[N, C, H, W] is overwritten; gradWeight[K, Cg, R, S] and gradBias[K]
/// are *accumulated* into (+=). Each thread's images add their weight gradient into a partial of their own
/// (the first thread straight into gradWeight); the partials are summed at the end.
/// weightPartials holds `convScratchTotals(sh).weightPartials` floats.
func convBackward(
    _ sh: ConvShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>, gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?,
    columns: UnsafeMutablePointer<Float>, gathered: UnsafeMutablePointer<Float>, weightPartials: UnsafeMutablePointer<Float>
) {
    let pq = sh.outPlane
    if let gradBias {
        Parallel.forEachPart(sh.k, minimum: 8) { _, channels in
            for k in channels {
                var sum: Float = 0
                for i in 0..<sh.n { sum += sumOf(gradOutput + (i * sh.k + k) * pq, count: pq) }
                gradBias[k] += sum
            }
        }
    }
    if convUsesWinograd(sh) {
        convBackwardWinograd(sh, input: input, weight: weight, gradOutput: gradOutput, gradInput: gradInput,
                             gradWeight: gradWeight, columns: columns, gathered: gathered)
        return
    }
    let scratch = convScratchCounts(sh), weightCount = sh.k * sh.patch
    let parts = Parallel.parts(sh.n)
    let packed = columns + parts * scratch.columns
    if convUsesDirect(sh) { packDirectWeightsTransposed(weight, sh, into: packed) }
    Parallel.forEachPart(sh.n) { part, images in
        let partial = part == 0 ? gradWeight : weightPartials + (part - 1) * weightCount
        if part > 0 { partial.update(repeating: 0, count: weightCount) }
        if convUsesDirect(sh) {
            convBackwardDirect(sh, images: images, input: input, packedTransposed: packed, gradOutput: gradOutput,
                               gradInput: gradInput, gradWeight: partial,
                               planes: columns + part * scratch.columns, pitched: gathered + part * scratch.gathered)
            return
        }
        if convUsesTiles(sh) {
            convBackwardTiles(sh, images: images, input: input, weight: weight, gradOutput: gradOutput,
                              gradInput: gradInput, gradWeight: partial,
                              tile: columns + part * scratch.columns, gradTile: gathered + part * scratch.gathered)
            return
        }
        convBackwardImages(sh, images: images, input: input, weight: weight, gradOutput: gradOutput,
                           gradInput: gradInput, gradWeight: partial,
                           columns: columns + part * scratch.columns, gathered: gathered + part * scratch.gathered)
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

/// convBackward's GEMMs for the images in `images`, on one thread; gradWeight is accumulated into.
func convBackwardImages(
    _ sh: ConvShape, images: Range<Int>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>, gradWeight: UnsafeMutablePointer<Float>,
    columns: UnsafeMutablePointer<Float>, gathered: UnsafeMutablePointer<Float>
) {
    let imagesPerGemm = convImagesPerGemm(sh), imageIsColumns = convReadsImageAsColumns(sh)
    let pq = sh.outPlane
    var n0 = images.lowerBound
    while n0 < images.upperBound {
        let b = Swift.min(imagesPerGemm, images.upperBound - n0)
        let width = b * pq
        let image = input + n0 * sh.c * sh.inPlane
        let gradImage = gradInput + n0 * sh.c * sh.inPlane
        // dOut as [K, width]: the image's own gradient when b is 1, else gathered from [b, K, PQ].
        let dOut: UnsafePointer<Float>
        if b == 1 { dOut = gradOutput + n0 * sh.k * pq } else {
            for i in 0..<b {
                for k in 0..<sh.k {
                    copyFloats(gathered + k * width + i * pq, gradOutput + ((n0 + i) * sh.k + k) * pq, count: pq)
                }
            }
            dOut = UnsafePointer(gathered)
        }
        let cols: UnsafePointer<Float>
        if imageIsColumns { cols = image } else {
            im2col(image, images: b, sh, columns)
            cols = UnsafePointer(columns)
        }
        for g in 0..<sh.groups {
            // dW_g[Kg, Cg*R*S] += dOut_g[Kg, width] * cols_g[Cg*R*S, width]^T
            BLAS.sgemm(transA: false, transB: true, m: sh.kg, n: sh.patch, k: width,
                       a: dOut + g * sh.kg * width, lda: width,
                       b: cols + g * sh.patch * width, ldb: width,
                       beta: 1, c: gradWeight + g * sh.kg * sh.patch, ldc: sh.patch)
        }
        // dCols_g[Cg*R*S, width] = W_g[Kg, Cg*R*S]^T * dOut_g[Kg, width]; a pointwise conv on
        // one image writes dInput directly.
        let dCols = imageIsColumns ? gradImage : columns
        for g in 0..<sh.groups {
            BLAS.sgemm(transA: true, transB: false, m: sh.patch, n: width, k: sh.kg,
                       a: weight + g * sh.kg * sh.patch, lda: sh.patch,
                       b: dOut + g * sh.kg * width, ldb: width,
                       beta: 0, c: dCols + g * sh.patch * width, ldc: width)
        }
        if !imageIsColumns { col2im(columns, images: b, sh, gradImage) }
        n0 += b
    }
}

/// sum(a[i]) over count floats, with eight partial sums.
@inline(__always)
func sumOf(_ a: UnsafePointer<Float>, count: Int) -> Float {
    var acc = SIMD8<Float>()
    var i = 0
    while i + 8 <= count {
        acc = acc + UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
        i += 8
    }
    var sum = acc.sum()
    while i < count {
        sum += a[i]
        i += 1
    }
    return sum
}

/// sum(a[i] * b[i]) over count floats, with four eight-wide partial sums so that the fused multiply-adds
/// do not wait on each other (the compiler may not reorder float additions by itself).
@inline(__always)
func dotProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    @inline(__always) func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
    var i = 0
    while i + 32 <= count {
        acc0 = acc0.addingProduct(load(a + i), load(b + i))
        acc1 = acc1.addingProduct(load(a + i + 8), load(b + i + 8))
        acc2 = acc2.addingProduct(load(a + i + 16), load(b + i + 16))
        acc3 = acc3.addingProduct(load(a + i + 24), load(b + i + 24))
        i += 32
    }
    while i + 8 <= count {
        acc0 = acc0.addingProduct(load(a + i), load(b + i))
        i += 8
    }
    var sum = ((acc0 + acc1) + (acc2 + acc3)).sum()
    while i < count {
        sum += a[i] * b[i]
        i += 1
    }
    return sum
}
