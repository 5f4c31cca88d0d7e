/// Direct convolution for stride-1 "same" convs with few channels (at 32x32: ResNet's 16- and 32-channel
/// 3x3 convs; the wider ones take Winograd first). `ConvPath` says which convs come here.
///
/// With 16-64 channels an im2col GEMM spends as long writing and packing its column matrix (9 floats per
/// input pixel) as multiplying it (Cout multiply-adds per column float): the GEMM kernel ran near peak
/// but the conv as a whole at half of it. Here nothing is unfolded. Each image's planes are copied once
/// into zero-bordered planes on a row pitch pw = W + padW (the padW zeros after a row are also the ones
/// before the next: a window hanging over the right edge reads the next row's left border), and tap (r, s)
/// of the output pixel at (p, q) reads padded pixel (p + r)*pw + q + s: one unaligned vector load serves
/// eight outputs. When Q is a multiple of 8 the output vectors are whole pieces of output rows, written
/// straight to the output; otherwise the output is computed on the padded pitch (its last padW columns per
/// row discarded) and copied out: a 14x14 plane is 27 vectors on pitch 15, where pitch W + 2*padW made 28
/// (a 28x28 ResNet's 32-channel 3x3 convs ran 10-15 % faster in training for it). A register block holds
/// 4 output channels x 3 vectors (12 accumulators), so each tap costs 3 loads and 4 broadcasts for 12 fused
/// multiply-adds.
///
/// Backward is the same kernel twice over: dInput is the conv of dOutput (padded likewise) with the
/// weights flipped and transposed, and dWeight[k, c, r, s] is a dot product of dOutput's plane k with
/// input plane c shifted by r*pw + s, 4 channels x 3 taps per block. Where that dInput conv has 32 to 64
/// input channels, F(4x4, 3x3) runs it instead (`ConvPath.runsGradInputOnWinograd4x4`).
///
/// Stride-2 3x3 convs run here too, on their input's stride phases (`DirectLayout`); their dInput is a
/// small direct conv per phase (`DirectLayout.phaseTaps`).
///
/// Shapes as in Convolution.swift: input [N, C, H, W], weight [K, C, R, S], output [N, K, P, Q] with
/// P = H and Q = W (stride 1, padding (R-1)/2 and (S-1)/2), or P = ceil(H/2), Q = ceil(W/2) (stride 2).

/// The taps of a direct conv as a grid: tap (r, s) reads `rows[r] + columns[s]` floats after the first pixel an
/// output vector reads (weights in the same order, r major); `offsets` lists them in that order.
struct DirectTaps {
    let rows: [Int], columns: [Int], offsets: [Int]

    init(rows: [Int], columns: [Int]) {
        (self.rows, self.columns) = (rows, columns)
        offsets = rows.flatMap { r in columns.map { r + $0 } }
    }
}

/// What one run of `directConvPlanes` sweeps: `vectors` output vectors of eight floats, `rowVectors` of them
/// per output row, each row `pitch` floats after the last in the planes read; input channels `channelStride` apart.
struct DirectSweep {
    let vectors: Int, rowVectors: Int, pitch: Int, channelStride: Int

    /// Offset in a plane read of the first pixel output vector v reads (tap offset 0).
    @inline(__always)
    func inputOffset(ofVector v: Int) -> Int { (v / rowVectors) * pitch + (v % rowVectors) * 8 }
}

/// The plane layout of one direct conv: zero-bordered planes for stride 1; for stride 2 (3x3, padding 1: a
/// ResNet stage's first conv and its downsample; in inference also the 3-channel stems) each input plane's
/// four stride phases (as `StridePhases`), where tap (r, s) of output pixel (p, q) reads entry (p + r/2, q + s/2)
/// of phase (r mod 2, s mod 2): eight neighbouring outputs again read eight neighbouring floats, and the kernel
/// runs unchanged on another tap grid. Unfolding those convs for a GEMM cost as much as multiplying them.
struct DirectLayout {
    /// Stride 2, on stride phases.
    let strided: Bool
    /// Row pitch of the planes: W + padW, or a stride phase's (Q + 1).
    let pitch: Int
    /// Floats from one image's plane of a channel to the next image's: the padded plane, or (stride 2) one
    /// stride phase, which also holds the image's dOutput padded by a zero row above and below and a zero
    /// column on the left; rounded up to whole vectors.
    let plane: Int
    /// Output vectors are pieces of output rows (Q a multiple of 8), written straight to NCHW.
    let rowMode: Bool
    /// Eight-pixel output vectors per channel, and how many make one output row (row mode; else all of them).
    let vectors: Int, rowVectors: Int
    /// Floats of one channel's output on the pitch (not row mode): vectors * 8.
    let span: Int
    /// Images whose planes lie side by side in one channel's row of scratch, [C][images][plane] (stride 2:
    /// [C][4 phases][images][plane], and dOutput [K][images][plane] on the same channel stride): the weight
    /// gradient sweeps them all before it sums its vector lanes (on an 8x8 plane one image is ten vectors).
    let images: Int
    /// Floats from one channel's planes to the next: images * plane, times 4 phases for stride 2.
    let channelStride: Int
    /// The forward's taps (and stride 1's dInput's): offsets from the first input pixel an output vector reads.
    let taps: DirectTaps
    /// Offset of pixel (0, 0) of dOutput in its padded planes, and for stride 1 of the input in its own.
    let interior: Int
    /// Stride 2: eight-float vectors that cover one phase's entries (dInput's sweep); 0 for stride 1.
    let phaseVectors: Int
    /// Floats past the last plane that the kernels may read (their results are discarded).
    let tail: Int

    init(_ sh: ConvShape) {
        strided = sh.strideH > 1
        if strided {
            let pitch = StridePhases.pitch(sh), rows = StridePhases.rows(sh)
            let plane = ((rows + 1) * pitch + 1 + 7) / 8 * 8
            let images = Swift.max(1, Swift.min(sh.n, 1600 / (4 * plane))), phaseStride = images * plane
            (self.pitch, self.plane, self.images, channelStride) = (pitch, plane, images, 4 * phaseStride)
            taps = DirectTaps(rows: (0..<sh.r).map { r in (r % 2) * 2 * phaseStride + (r / 2) * pitch },
                              columns: (0..<sh.s).map { s in (s % 2) * phaseStride + s / 2 })
            interior = pitch + 1
            phaseVectors = (rows * pitch + 7) / 8
        } else {
            let pitch = sh.w + sh.padW, plane = (sh.h + 2 * sh.padH) * pitch
            let images = Swift.max(1, Swift.min(sh.n, 1600 / plane))
            (self.pitch, self.plane, self.images, channelStride) = (pitch, plane, images, images * plane)
            taps = DirectTaps(rows: (0..<sh.r).map { $0 * pitch }, columns: Array(0..<sh.s))
            interior = sh.padH * pitch + sh.padW
            phaseVectors = 0
        }
        rowMode = sh.q % 8 == 0
        vectors = rowMode ? sh.p * sh.q / 8 : (sh.p * pitch + 7) / 8
        rowVectors = rowMode ? sh.q / 8 : vectors
        span = rowMode ? 0 : vectors * 8
        tail = sh.p * pitch + (taps.rows.max() ?? 0) + (taps.columns.max() ?? 0) + 24
    }

    /// The sweep of the forward, and of stride 1's dInput (the same conv shape turned around).
    var sweep: DirectSweep { DirectSweep(vectors: vectors, rowVectors: rowVectors, pitch: pitch, channelStride: channelStride) }

    /// The sweep of one stride phase of dInput: the whole phase, on the phase pitch.
    var phaseSweep: DirectSweep {
        DirectSweep(vectors: phaseVectors, rowVectors: phaseVectors, pitch: pitch, channelStride: channelStride)
    }

    /// Floats of `channels` rows of planes and the tail.
    func planesFloats(_ channels: Int) -> Int { channels * channelStride + tail }

    /// Stride 2's dInput, phase by phase: phase (a, b)'s entry (i, j) (input pixel (2i + a - 1, 2j + b - 1))
    /// gathers dOutput (i - r/2, j - s/2) through the taps (r, s) with r mod 2 = a and s mod 2 = b. Returns,
    /// per phase, those taps' indices r*S + s (r major) and their offsets in dOutput's padded planes.
    func phaseTaps(_ sh: ConvShape) -> [(indices: [Int], taps: DirectTaps)] {
        (0..<4).map { phase in
            let rows = (0..<sh.r).filter { $0 % 2 == phase / 2 }, columns = (0..<sh.s).filter { $0 % 2 == phase % 2 }
            return (rows.flatMap { r in columns.map { r * sh.s + $0 } },
                    DirectTaps(rows: rows.map { -($0 / 2) * pitch }, columns: columns.map { -($0 / 2) }))
        }
    }

    /// Writes image [channels, H, W] into image slot `slot` of the planes: the interiors of the padded planes
    /// (stride 1), or its stride phases; the borders stay as the caller zeroed them.
    func fill(_ image: UnsafePointer<Float>, channels: Int, _ sh: ConvShape, slot: Int, into planes: UnsafeMutablePointer<Float>) {
        if !strided {
            copyIntoPaddedPlanes(image, channels: channels, h: sh.h, w: sh.w, self, interior: interior + slot * plane, planes)
            return
        }
        let end = channels * sh.inPlane, phaseStride = channelStride / 4
        for c in 0..<channels {
            let phases = planes + c * channelStride + slot * plane, source = c * sh.inPlane
            guard splitsWholeRows(sh) else {
                forEachPhaseRow(sh) { phase, i, planeRow, columns in
                    readStrided(image + source + planeRow, stride: 2, into: phases + phase * phaseStride + i * pitch,
                                columns, readable: end - source - planeRow)
                }
                continue
            }
            for y in 0..<sh.h {
                // Row y is row (y + 1) / 2 of phases (a, 0) and (a, 1), a = (y + 1) mod 2: pixel 2m is entry m
                // of phase (a, 1), pixel 2m + 1 entry m + 1 of phase (a, 0).
                let a = (y + 1) % 2, row = phases + 2 * a * phaseStride + (y + 1) / 2 * pitch, rowStart = source + y * sh.w
                var x = 0
                while x < sh.w {
                    let pixels = load16(image + rowStart + x, first: sh.w - x, readable: end - rowStart - x)
                    store8(row + phaseStride + x / 2, pixels.evenHalf)
                    store8(row + 1 + x / 2, pixels.oddHalf)
                    x += 16
                }
            }
        }
    }

    /// Whether stride 2's `fill` and `merge` take an image row at a time, sixteen pixels to the two phase rows
    /// it lies on (padding 1: pixel x is entry (x + 1) / 2 of phase column (x + 1) mod 2), where the walk phase
    /// row by phase row read the row twice and ended both halves in scalar copies (4 % of a 28x28 ResNet's
    /// training). The last sixteen run past the row: `fill` writes zeros there (lanes past W), which land on
    /// the row's border, on the start of the phase row after it (written later, or a zero border row) or on
    /// the plane's last zero row, which rows of at least eight pixels never overrun; `merge` writes on into
    /// the next image row, written after it.
    func splitsWholeRows(_ sh: ConvShape) -> Bool { sh.w >= 8 }

    /// Zeroes image slots `slots` of `channels` rows of planes (every phase's, for stride 2).
    func clear(_ slots: Range<Int>, channels: Int, in planes: UnsafeMutablePointer<Float>) {
        let parts = strided ? 4 : 1, partStride = channelStride / parts
        for c in 0..<channels {
            for part in 0..<parts {
                (planes + c * channelStride + part * partStride + slots.lowerBound * plane)
                    .update(repeating: 0, count: slots.count * plane)
            }
        }
    }

    /// The adjoint of `fill` for stride 2, from one image's phases: gradImage [channels, H, W] = the entries of
    /// phases [channels][4][plane] that lie on the image.
    func merge(_ phases: UnsafePointer<Float>, channels: Int, _ sh: ConvShape, into gradImage: UnsafeMutablePointer<Float>) {
        let end = channels * sh.inPlane
        guard splitsWholeRows(sh) else {
            gradImage.update(repeating: 0, count: end)
            for c in 0..<channels {
                let source = phases + c * 4 * plane, target = c * sh.inPlane
                forEachPhaseRow(sh) { phase, i, planeRow, columns in
                    writeStrided(source + phase * plane + i * pitch, into: gradImage + target + planeRow, stride: 2,
                                 columns, writable: end - target - planeRow)
                }
            }
            return
        }
        for c in 0..<channels {
            for y in 0..<sh.h {
                // As `fill` reads it: pixel 2m from entry m of phase (a, 1), pixel 2m + 1 from entry m + 1 of (a, 0).
                let a = (y + 1) % 2, row = phases + (c * 4 + 2 * a) * plane + (y + 1) / 2 * pitch
                let rowStart = c * sh.inPlane + y * sh.w
                var x = 0
                while x < sh.w {
                    var pixels = SIMD16<Float>()
                    pixels.evenHalf = load8(row + plane + x / 2)
                    pixels.oddHalf = load8(row + 1 + x / 2)
                    storeVector(pixels, at: gradImage + rowStart + x, count: Swift.min(16, end - rowStart - x))
                    x += 16
                }
            }
        }
    }
}

/// Per-part scratch of the direct path: input planes and padded dOutput planes (columns), and one output on
/// the pitch when not in row mode, or stride 2's dInput phases (gathered); plus the packed weights, shared by the parts.
func directScratchCounts(_ sh: ConvShape) -> (columns: Int, gathered: Int, packed: Int) {
    let layout = DirectLayout(sh), phases = layout.strided ? sh.c * 4 * layout.plane : 0
    return (layout.planesFloats(sh.c) + layout.planesFloats(sh.k), Swift.max(Swift.max(sh.c, sh.k) * layout.span, phases),
            sh.k * sh.c * sh.r * sh.s)
}

// MARK: - Weight packing

/// packed[K/4][C][R][S][4] = weight[k][c][r][s]: the four output channels of a block side by side, in the
/// order the kernel reads them. weight: [K, C, R, S].
func packDirectWeights(_ weight: UnsafePointer<Float>, _ sh: ConvShape, into packed: UnsafeMutablePointer<Float>) {
    let taps = sh.r * sh.s
    for k in 0..<sh.k {
        for c in 0..<sh.c {
            for t in 0..<taps {
                packed[(((k / 4) * sh.c + c) * taps + t) * 4 + k % 4] = weight[(k * sh.c + c) * taps + t]
            }
        }
    }
}

/// The weights of dInput's conv, packed likewise with input and output channels swapped: stride 1's
/// packed[C/4][K][R][S][4] = weight[k][c][R-1-r][S-1-s] (the kernel turned by 180 degrees); stride 2's
/// phase by phase, each phase's taps in `phaseTaps` order.
func packDirectWeightsTransposed(_ weight: UnsafePointer<Float>, _ sh: ConvShape, into packed: UnsafeMutablePointer<Float>) {
    let layout = DirectLayout(sh)
    guard layout.strided else {
        packDirectWeightsTransposed(weight, sh, taps: Array((0..<sh.r * sh.s).reversed()), into: packed)
        return
    }
    var offset = 0
    for phase in layout.phaseTaps(sh) {
        packDirectWeightsTransposed(weight, sh, taps: phase.indices, into: packed + offset)
        offset += sh.c * sh.k * phase.indices.count
    }
}

/// packed[C/4][K][taps.count][4] = weight[k][c][taps[t]].
private func packDirectWeightsTransposed(_ weight: UnsafePointer<Float>, _ sh: ConvShape, taps: [Int],
                                         into packed: UnsafeMutablePointer<Float>) {
    let patch = sh.r * sh.s, count = taps.count
    for c in 0..<sh.c {
        for k in 0..<sh.k {
            for (t, tap) in taps.enumerated() {
                packed[(((c / 4) * sh.k + k) * count + t) * 4 + c % 4] = weight[(k * sh.c + c) * patch + tap]
            }
        }
    }
}

// MARK: - Kernels

/// out[o][8v ..< 8v+8] = bias[o] + sum over c, r and s of weight[o, c, r, s] * planes[c][inputOffset(v) + offset(r, s) ...],
/// for every output vector v of the sweep and every output channel o.
/// planes: one image's planes, `channelStride` apart, within scratch that ends in the layout's tail (taps may
/// be negative: `planes` then points into them); packed: [outChannels/4][inChannels][taps][4];
/// out: [outChannels][outStride] (NCHW planes in row mode, else the pitch). outChannels is a multiple of 4.
///
/// A sweep's last one or two vectors take blocks of one vector (a 7x7 plane on its pitch is seven vectors, a
/// Winograd product's four: a block of three repeating the last vector did a third more work there; a 28x28
/// ResNet's F(4x4, 3x3) convs ran 12-16 % faster without it). The taps are one loop over their offsets, compiled
/// for nine taps (unrolled: a 28x28 ResNet's direct convs 3-5 % faster than the loop) and for any count; a copy
/// per tap grid, as before the narrow blocks, grew past what the compiler inlines.
func directConvPlanes(
    _ planes: UnsafePointer<Float>, inChannels: Int, outChannels: Int, _ taps: DirectTaps, _ sweep: DirectSweep,
    packed: UnsafePointer<Float>, bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, outStride: Int
) {
    taps.offsets.withUnsafeBufferPointer { offsets in
        // 3x3 taps (nearly every conv here) with their count known when compiled, so that the tap loop unrolls.
        if offsets.count == 9 {
            directConvBlocks(planes, inChannels: inChannels, outChannels: outChannels, offsets, tapCount: 9, sweep,
                             packed: packed, bias: bias, out: out, outStride: outStride)
        } else {
            directConvBlocks(planes, inChannels: inChannels, outChannels: outChannels, offsets, tapCount: offsets.count,
                             sweep, packed: packed, bias: bias, out: out, outStride: outStride)
        }
    }
}

@inline(__always)
private func directConvBlocks(
    _ planes: UnsafePointer<Float>, inChannels: Int, outChannels: Int, _ offsets: UnsafeBufferPointer<Int>, tapCount: Int,
    _ sweep: DirectSweep, packed: UnsafePointer<Float>, bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>,
    outStride: Int
) {
    let plane = sweep.channelStride, whole = sweep.vectors / 3 * 3
    for kb in 0..<outChannels / 4 {
        let weights = packed + kb * inChannels * tapCount * 4
        let y0 = out + kb * 4 * outStride, y1 = y0 + outStride, y2 = y1 + outStride, y3 = y2 + outStride
        let b0 = SIMD8<Float>(repeating: bias?[kb * 4] ?? 0), b1 = SIMD8<Float>(repeating: bias?[kb * 4 + 1] ?? 0)
        let b2 = SIMD8<Float>(repeating: bias?[kb * 4 + 2] ?? 0), b3 = SIMD8<Float>(repeating: bias?[kb * 4 + 3] ?? 0)
        var v = 0
        while v < whole {
            let o0 = sweep.inputOffset(ofVector: v), o1 = sweep.inputOffset(ofVector: v + 1)
            let o2 = sweep.inputOffset(ofVector: v + 2)
            var a00 = b0, a01 = b0, a02 = b0, a10 = b1, a11 = b1, a12 = b1
            var a20 = b2, a21 = b2, a22 = b2, a30 = b3, a31 = b3, a32 = b3
            var w = weights, base = planes
            for _ in 0..<inChannels {
                for t in 0..<tapCount {
                    let src = base + offsets[t]
                    let x0 = load8(src + o0), x1 = load8(src + o1), x2 = load8(src + o2)
                    let w0 = SIMD8<Float>(repeating: w[0])
                    a00 = a00.addingProduct(x0, w0); a01 = a01.addingProduct(x1, w0); a02 = a02.addingProduct(x2, w0)
                    let w1 = SIMD8<Float>(repeating: w[1])
                    a10 = a10.addingProduct(x0, w1); a11 = a11.addingProduct(x1, w1); a12 = a12.addingProduct(x2, w1)
                    let w2 = SIMD8<Float>(repeating: w[2])
                    a20 = a20.addingProduct(x0, w2); a21 = a21.addingProduct(x1, w2); a22 = a22.addingProduct(x2, w2)
                    let w3 = SIMD8<Float>(repeating: w[3])
                    a30 = a30.addingProduct(x0, w3); a31 = a31.addingProduct(x1, w3); a32 = a32.addingProduct(x2, w3)
                    w += 4
                }
                base += plane
            }
            let j = v * 8
            store8(y0 + j, a00); store8(y0 + j + 8, a01); store8(y0 + j + 16, a02)
            store8(y1 + j, a10); store8(y1 + j + 8, a11); store8(y1 + j + 16, a12)
            store8(y2 + j, a20); store8(y2 + j + 8, a21); store8(y2 + j + 16, a22)
            store8(y3 + j, a30); store8(y3 + j + 8, a31); store8(y3 + j + 16, a32)
            v += 3
        }
        while v < sweep.vectors {
            let o = sweep.inputOffset(ofVector: v)
            var a0 = b0, a1 = b1, a2 = b2, a3 = b3
            var w = weights, base = planes
            for _ in 0..<inChannels {
                for t in 0..<tapCount {
                    let x = load8(base + offsets[t] + o)
                    a0 = a0.addingProduct(x, SIMD8<Float>(repeating: w[0])); a1 = a1.addingProduct(x, SIMD8<Float>(repeating: w[1]))
                    a2 = a2.addingProduct(x, SIMD8<Float>(repeating: w[2])); a3 = a3.addingProduct(x, SIMD8<Float>(repeating: w[3]))
                    w += 4
                }
                base += plane
            }
            let j = v * 8
            store8(y0 + j, a0); store8(y1 + j, a1); store8(y2 + j, a2); store8(y3 + j, a3)
            v += 1
        }
    }
}

/// gradWeight[K, C, R, S] += sum over j of dOut[k][j] * planes[c][j + offset(r, s)], for j in 0..<count
/// (offset(r, s) = taps.rows[r] + taps.columns[s], as the forward reads).
/// dOut: K rows `channelStride` floats apart, zero wherever j is not an output pixel (the pitch's extra
/// columns, the borders between images, and count rounded up to 8); planes: [C][images][plane] padded
/// input planes (stride 2: their phases) and tail.
func directConvWeightGrad(
    _ planes: UnsafePointer<Float>, dOut: UnsafePointer<Float>, _ sh: ConvShape, _ layout: DirectLayout,
    count: Int, gradWeight: UnsafeMutablePointer<Float>
) {
    // Stride 1's column offsets 0, 1, ... as constants in the loads, as in the forward.
    if !layout.strided {
        directConvWeightGrad(planes, dOut: dOut, sh, layout, count: count, unitColumns: true, gradWeight: gradWeight)
    } else {
        directConvWeightGrad(planes, dOut: dOut, sh, layout, count: count, unitColumns: false, gradWeight: gradWeight)
    }
}

@inline(__always)
private func directConvWeightGrad(
    _ planes: UnsafePointer<Float>, dOut: UnsafePointer<Float>, _ sh: ConvShape, _ layout: DirectLayout,
    count: Int, unitColumns: Bool, gradWeight: UnsafeMutablePointer<Float>
) {
    let plane = layout.channelStride, taps = sh.r * sh.s, rows = layout.taps.rows, columns = layout.taps.columns
    for kb in 0..<sh.k / 4 {
        let d0 = dOut + kb * 4 * plane, d1 = d0 + plane, d2 = d1 + plane, d3 = d2 + plane
        for c in 0..<sh.c {
            for r in 0..<sh.r {
                // Three taps (r, s0 ..< s0+3) at a time; a fourth or fifth column past S is computed and dropped
                // (on the tap grid, the last column is read again).
                var s0 = 0
                while s0 < sh.s {
                    let x = planes + c * plane + rows[r]
                    let p0 = x + (unitColumns ? s0 : columns[s0])
                    let p1 = unitColumns ? p0 + 1 : x + columns[Swift.min(s0 + 1, sh.s - 1)]
                    let p2 = unitColumns ? p0 + 2 : x + columns[Swift.min(s0 + 2, sh.s - 1)]
                    var a00 = SIMD8<Float>(), a01 = SIMD8<Float>(), a02 = SIMD8<Float>()
                    var a10 = SIMD8<Float>(), a11 = SIMD8<Float>(), a12 = SIMD8<Float>()
                    var a20 = SIMD8<Float>(), a21 = SIMD8<Float>(), a22 = SIMD8<Float>()
                    var a30 = SIMD8<Float>(), a31 = SIMD8<Float>(), a32 = SIMD8<Float>()
                    var j = 0
                    while j < count {
                        let x0 = load8(p0 + j), x1 = load8(p1 + j), x2 = load8(p2 + j)
                        let g0 = load8(d0 + j)
                        a00 = a00.addingProduct(g0, x0); a01 = a01.addingProduct(g0, x1); a02 = a02.addingProduct(g0, x2)
                        let g1 = load8(d1 + j)
                        a10 = a10.addingProduct(g1, x0); a11 = a11.addingProduct(g1, x1); a12 = a12.addingProduct(g1, x2)
                        let g2 = load8(d2 + j)
                        a20 = a20.addingProduct(g2, x0); a21 = a21.addingProduct(g2, x1); a22 = a22.addingProduct(g2, x2)
                        let g3 = load8(d3 + j)
                        a30 = a30.addingProduct(g3, x0); a31 = a31.addingProduct(g3, x1); a32 = a32.addingProduct(g3, x2)
                        j += 8
                    }
                    let first = gradWeight + ((kb * 4) * sh.c + c) * taps + r * sh.s + s0
                    let kStride = sh.c * taps, valid = Swift.min(3, sh.s - s0)
                    addTapSums(first, valid, a00, a01, a02)
                    addTapSums(first + kStride, valid, a10, a11, a12)
                    addTapSums(first + 2 * kStride, valid, a20, a21, a22)
                    addTapSums(first + 3 * kStride, valid, a30, a31, a32)
                    s0 += 3
                }
            }
        }
    }
}

/// dst[t] += sum of the lanes of the t-th accumulator, for the first `valid` of three taps.
@inline(__always)
private func addTapSums(_ dst: UnsafeMutablePointer<Float>, _ valid: Int,
                        _ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>) {
    dst[0] += a.sum()
    if valid > 1 { dst[1] += b.sum() }
    if valid > 2 { dst[2] += c.sum() }
}

/// Copies planes [channels, H, W] into the interiors of zero-bordered padded planes `channelStride` apart
/// (whose borders and tail the caller zeroed once). A row's last vector writes zeros past its end, on its
/// border and the next row's (a padded row of at least four pixels has two border columns and a border row
/// of five or more floats between planes), or on a row written after it.
@inline(__always)
private func copyIntoPaddedPlanes(_ x: UnsafePointer<Float>, channels: Int, h: Int, w: Int,
                                  _ layout: DirectLayout, interior: Int, _ padded: UnsafeMutablePointer<Float>) {
    let end = channels * h * w
    for c in 0..<channels {
        let dst = padded + c * layout.channelStride + interior
        for row in 0..<h {
            let rowStart = (c * h + row) * w
            copyRowZeroFilled(dst + row * layout.pitch, x + rowStart, count: w, readable: end - rowStart)
        }
    }
}

/// Copies outputs on the pitch [channels][span] into NCHW planes [channels, P, Q], each row's last vector
/// running on into the next row (written after it) up to the end of the image's output.
@inline(__always)
private func copyFromPitch(_ pitched: UnsafePointer<Float>, channels: Int, p: Int, q: Int, _ layout: DirectLayout,
                           _ out: UnsafeMutablePointer<Float>) {
    let readEnd = channels * layout.span, writeEnd = channels * p * q
    for c in 0..<channels {
        for row in 0..<p {
            let from = c * layout.span + row * layout.pitch, to = (c * p + row) * q
            copyRowRunningOn(out + to, pitched + from, count: q, readable: readEnd - from, writable: writeEnd - to)
        }
    }
}

/// One image's conv from its planes, into NCHW `out` [outChannels, P, Q]: straight in row mode, else through
/// `pitched` [outChannels][span]. The forward, and stride 1's dInput (planes of dOutput, weights transposed).
@inline(__always)
private func directConvImage(
    _ planes: UnsafePointer<Float>, inChannels: Int, outChannels: Int, _ sh: ConvShape, _ layout: DirectLayout,
    packed: UnsafePointer<Float>, bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>,
    pitched: UnsafeMutablePointer<Float>, activation: ConvActivation = .none, residual: UnsafePointer<Float>? = nil
) {
    // The activation (and a residual sum) runs over the image's output once written (in cache), outside the
    // register block: applied to the 12 accumulators before their stores, conv + ReLU measured twice as slow as
    // the conv alone (the block has no vector register to spare).
    if layout.rowMode {
        directConvPlanes(planes, inChannels: inChannels, outChannels: outChannels, layout.taps, layout.sweep,
                         packed: packed, bias: bias, out: out, outStride: sh.outPlane)
    } else {
        directConvPlanes(planes, inChannels: inChannels, outChannels: outChannels, layout.taps, layout.sweep,
                         packed: packed, bias: bias, out: pitched, outStride: layout.span)
        copyFromPitch(pitched, channels: outChannels, p: sh.p, q: sh.q, layout, out)
    }
    if activation != .none || residual != nil {
        activation.addBias(0, to: out, adding: residual, count: outChannels * sh.outPlane)
    }
}

/// Stride 2's dInput of one image: each stride phase of it a conv of the padded dOutput planes with that
/// phase's taps, into `gradPhases` [C][4][plane], then merged into NCHW `gradImage` [C, H, W].
@inline(__always)
private func directStridedGradInput(
    _ gradPlanes: UnsafePointer<Float>, _ sh: ConvShape, _ layout: DirectLayout, phaseTaps: [(indices: [Int], taps: DirectTaps)],
    packedTransposed: UnsafePointer<Float>, gradPhases: UnsafeMutablePointer<Float>, gradImage: UnsafeMutablePointer<Float>
) {
    var packed = packedTransposed
    for (phase, taps) in phaseTaps.enumerated() {
        directConvPlanes(gradPlanes + layout.interior, inChannels: sh.k, outChannels: sh.c, taps.taps, layout.phaseSweep,
                         packed: packed, bias: nil, out: gradPhases + phase * layout.plane, outStride: 4 * layout.plane)
        packed += sh.c * sh.k * taps.indices.count
    }
    layout.merge(gradPhases, channels: sh.c, sh, into: gradImage)
}

// MARK: - Forward and backward

/// Forward of the images in `images` on one thread. packed: `packDirectWeights`; planes: `layout.planesFloats(C)`
/// floats; pitched: K * span floats (unused in row mode).
func convForwardDirect(
    _ sh: ConvShape, images: Range<Int>, input: UnsafePointer<Float>, packed: UnsafePointer<Float>,
    bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
    planes: UnsafeMutablePointer<Float>, pitched: UnsafeMutablePointer<Float>, activation: ConvActivation = .none,
    residual: UnsafePointer<Float>? = nil
) {
    let layout = DirectLayout(sh)
    planes.update(repeating: 0, count: layout.planesFloats(sh.c))
    for n in images {
        layout.fill(input + n * sh.c * sh.inPlane, channels: sh.c, sh, slot: 0, into: planes)
        directConvImage(planes, inChannels: sh.c, outChannels: sh.k, sh, layout, packed: packed, bias: bias,
                        out: output + n * sh.k * sh.outPlane, pitched: pitched, activation: activation,
                        residual: residual.map { $0 + n * sh.k * sh.outPlane })
    }
}

/// Backward of the images in `images` on one thread: gradInput overwritten (nil: the weight gradient alone),
/// gradWeight accumulated into.
/// packedTransposed: `packDirectWeightsTransposed`; planes: C planes then K planes (`directScratchCounts`);
/// pitched: C * span floats (unused in row mode), or stride 2's C * 4 * plane of dInput phases.
func convBackwardDirect(
    _ sh: ConvShape, images: Range<Int>, input: UnsafePointer<Float>, packedTransposed: UnsafePointer<Float>,
    gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>?, gradWeight: UnsafeMutablePointer<Float>,
    planes: UnsafeMutablePointer<Float>, pitched: UnsafeMutablePointer<Float>
) {
    let layout = DirectLayout(sh), phaseTaps = layout.strided ? layout.phaseTaps(sh) : []
    let inputPlanes = planes, gradPlanes = planes + layout.planesFloats(sh.c)
    planes.update(repeating: 0, count: layout.planesFloats(sh.c) + layout.planesFloats(sh.k))
    // dOut on the pitch starts at the interior of its padded planes; rows end in zeros (the border),
    // and so does the last plane past P*pitch (bottom border and tail).
    var first = images.lowerBound
    while first < images.upperBound {
        let count = Swift.min(layout.images, images.upperBound - first)
        for b in 0..<count {
            let n = first + b
            layout.fill(input + n * sh.c * sh.inPlane, channels: sh.c, sh, slot: b, into: inputPlanes)
            copyIntoPaddedPlanes(gradOutput + n * sh.k * sh.outPlane, channels: sh.k, h: sh.p, w: sh.q, layout,
                                 interior: layout.interior + b * layout.plane, gradPlanes)
        }
        if count < layout.images {  // the last group's unused planes must read as zeros
            layout.clear(count..<layout.images, channels: sh.c, in: inputPlanes)
            layout.clear(count..<layout.images, channels: sh.k, in: gradPlanes)
        }
        let weightGradCount = ((count - 1) * layout.plane + sh.p * layout.pitch + 7) / 8 * 8
        directConvWeightGrad(inputPlanes, dOut: gradPlanes + layout.interior, sh, layout, count: weightGradCount,
                             gradWeight: gradWeight)
        for b in 0..<count {
            guard let gradImage = gradInput.map({ $0 + (first + b) * sh.c * sh.inPlane }) else { break }
            if layout.strided {
                directStridedGradInput(gradPlanes + b * layout.plane, sh, layout, phaseTaps: phaseTaps,
                                       packedTransposed: packedTransposed, gradPhases: pitched, gradImage: gradImage)
            } else {
                directConvImage(gradPlanes + b * layout.plane, inChannels: sh.k, outChannels: sh.c, sh, layout,
                                packed: packedTransposed, bias: nil, out: gradImage, pitched: pitched)
            }
        }
        first += count
    }
}
