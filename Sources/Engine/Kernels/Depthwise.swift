/// Depthwise convolution (groups == C == K), computed directly: no GEMM has enough work per channel.
/// Shapes: input [N, C, H, W], weight [C, 1, R, S], bias [C], output [N, C, P, Q].
///
/// The `.depthwisePhased` path (planes over 16 pixels; smaller ones take DepthwiseSmallPlane.swift) splits
/// planes into stride phases so that every tap is one long contiguous loop, except for the commonest 3x3
/// convs, which read the planes themselves: unpadded stride-1 ones in place, and those padded by one at
/// stride 1 ("same") or 2 from a bordered copy. The plain row-by-row kernels here are what all the fast ones
/// are tested against. Forward: output = conv(input, weight) + bias; backward: gradInput overwritten,
/// gradWeight and gradBias accumulated (+=).

/// Forward one output row per tap, each row clipped to the columns that read inside the image:
/// the reference the fast kernels are tested against.
func depthwiseConvForwardAnyStride(
    _ sh: ConvShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    output: UnsafeMutablePointer<Float>
) {
    Parallel.forEachPart(sh.c) { _, channels in
    for i in 0..<sh.n {
        for c in channels {
            let x = input + sh.inputPlane(i, c)
            let y = output + sh.outputPlane(i, c)
            let w = weight + c * sh.r * sh.s
            y.update(repeating: bias?[c] ?? 0, count: sh.outPlane)
            for r in 0..<sh.r {
                let pRange = validOutputRange(inCount: sh.h, outCount: sh.p, stride: sh.strideH, pad: sh.padH, offset: r)
                for s in 0..<sh.s {
                    let qRange = validOutputRange(inCount: sh.w, outCount: sh.q, stride: sh.strideW, pad: sh.padW, offset: s)
                    let tap = w[r * sh.s + s]
                    for p in pRange {
                        let src = x + (p * sh.strideH - sh.padH + r) * sh.w - sh.padW + s
                        let dst = y + p * sh.q
                        if sh.strideW == 1 {
                            for q in qRange { dst[q] = dst[q] + tap * src[q] }
                        } else {
                            for q in qRange { dst[q] = dst[q] + tap * src[q * sh.strideW] }
                        }
                    }
                }
            }
        }
    }
    }
}

/// Backward one output row per tap (the reference, as above).
func depthwiseConvBackwardAnyStride(
    _ sh: ConvShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>, gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?
) {
    Parallel.forEachPart(sh.c) { _, channels in
    for i in 0..<sh.n {
        for c in channels {
            let x = input + sh.inputPlane(i, c)
            let dx = gradInput + sh.inputPlane(i, c)
            dx.update(repeating: 0, count: sh.inPlane)
            let dy = gradOutput + sh.outputPlane(i, c)
            let w = weight + c * sh.r * sh.s
            let dw = gradWeight + c * sh.r * sh.s
            if let gradBias {
                gradBias[c] += sumOf(dy, count: sh.outPlane)
            }
            for r in 0..<sh.r {
                let pRange = validOutputRange(inCount: sh.h, outCount: sh.p, stride: sh.strideH, pad: sh.padH, offset: r)
                for s in 0..<sh.s {
                    let qRange = validOutputRange(inCount: sh.w, outCount: sh.q, stride: sh.strideW, pad: sh.padW, offset: s)
                    let tap = w[r * sh.s + s]
                    var tapGrad: Float = 0
                    for p in pRange {
                        let offset = (p * sh.strideH - sh.padH + r) * sh.w - sh.padW + s
                        let src = x + offset, dst = dx + offset
                        let g = dy + p * sh.q
                        if sh.strideW == 1 {
                            tapGrad += dotProduct(g + qRange.lowerBound, src + qRange.lowerBound, count: qRange.count)
                            for q in qRange { dst[q] = dst[q] + tap * g[q] }
                        } else {
                            for q in qRange {
                                let j = q * sh.strideW
                                tapGrad += g[q] * src[j]
                                dst[j] = dst[j] + tap * g[q]
                            }
                        }
                    }
                    dw[r * sh.s + s] += tapGrad
                }
            }
        }
    }
    }
}

// MARK: - Phase planes

// A tap (r, s) of a stride-(sH, sW) conv reads padded input pixel (p*sH + r, q*sW + s) for output (p, q).
// Split the padded plane into its sH*sW phases, phase (a, b) holding the pixels whose padded row is a mod sH
// and column b mod sW, and the tap reads phase (r mod sH, s mod sW) at (p + r/sH, q + s/sW): stride 1 again.
// Computing the output on the phase planes' row pitch (y'[p*pitch + q], its last pitch - Q columns unused)
// then makes every tap one contiguous loop, y'[i] += w[r, s] * phase[i + offset(r, s)], rather than one
// short loop per output row. At stride 1 the one phase is the zero-bordered plane.
// Small planes stack: the same channel of several images (up to 512 floats of phase plane) lies one below
// the other in each phase, so a tap's loop runs over all of them at once; the output rows that straddle two
// images are computed and dropped. Planes from 16x16 up go one at a time: stacked, MobileNetV1's 18x18
// backward ran 20-30 % slower.

/// The geometry of one conv's phase planes.
private struct DepthwisePhases {
    /// Columns and rows of one image's phase plane: the Q (P) output positions plus the furthest tap's shift.
    let pitch: Int, rows: Int
    /// Images stacked in each phase, and floats from one image's phase plane to the next: rows * pitch.
    let images: Int, plane: Int
    /// Floats per phase: the stacked planes plus the few floats the last tap reads past them (kept zero).
    let phase: Int
    let count: Int
    /// Floats of the stacked output on the pitch: up to the last image's last output row.
    let span: Int

    init(_ sh: ConvShape) {
        pitch = StridePhases.pitch(sh)
        rows = StridePhases.rows(sh)
        plane = rows * pitch
        images = Swift.max(1, Swift.min(sh.n, 512 / plane))
        phase = images * plane + (sh.s - 1) / sh.strideW
        count = sh.strideH * sh.strideW
        span = ((images - 1) * rows + sh.p) * pitch
    }

    /// Floats of all phases.
    var floats: Int { count * phase }

    /// Offset of tap (r, s) into the phases: its phase's start plus its shift within it.
    @inline(__always)
    func offset(_ sh: ConvShape, r: Int, s: Int) -> Int {
        ((r % sh.strideH) * sh.strideW + s % sh.strideW) * phase + (r / sh.strideH) * pitch + s / sh.strideW
    }

    /// Calls body(phase row, image row, columns) for every row of image slot `slot`'s phases that lies on the
    /// image (`forEachPhaseRow`, at this layout's offsets).
    @inline(__always)
    private func forEachImageRow(slot: Int, _ sh: ConvShape,
                                 _ body: (_ phaseRow: Int, _ imageRow: Int, _ columns: Range<Int>) -> Void) {
        forEachPhaseRow(sh) { p, i, planeRow, columns in body(p * phase + slot * plane + i * pitch, planeRow, columns) }
    }

    /// Splits plane x[H, W] into image slot `slot` of the phases. Only pixels of the image are written: the
    /// entries on the padding are the same for every plane and stay as the caller zeroed them. A stride-2
    /// row's vector loads may run on into the plane's next row (`readable`): with rows of 8 to 17 columns,
    /// stopping at the row's end left half of each to the scalar loop (ShuffleNetV2's stride-2 fills).
    @inline(__always)
    func fill(_ phases: UnsafeMutablePointer<Float>, slot: Int, from x: UnsafePointer<Float>, _ sh: ConvShape) {
        forEachImageRow(slot: slot, sh) { phaseRow, imageRow, columns in
            readStrided(x + imageRow, stride: sh.strideW, into: phases + phaseRow, columns, readable: sh.inPlane - imageRow)
        }
    }

    /// The adjoint of `fill`: dx[H, W] = the entries of image slot `slot` that lie on the image. The
    /// stride-2 stores may likewise write the plane's next row back unchanged: the calling thread owns the plane.
    @inline(__always)
    func gather(_ dx: UnsafeMutablePointer<Float>, slot: Int, from phases: UnsafePointer<Float>, _ sh: ConvShape) {
        forEachImageRow(slot: slot, sh) { phaseRow, imageRow, columns in
            writeStrided(phases + phaseRow, into: dx + imageRow, stride: sh.strideW, columns, writable: sh.inPlane - imageRow)
        }
    }

    /// Whether every input pixel lies on some phase plane (else `gather` leaves it to be zeroed first):
    /// true unless the stride skips the image's last rows or columns.
    func coversInput(_ sh: ConvShape) -> Bool {
        (sh.h - 1 + sh.padH) / sh.strideH < rows && (sh.w - 1 + sh.padW) / sh.strideW < pitch
    }
}

func depthwiseConvForwardPhased(
    _ sh: ConvShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    output: UnsafeMutablePointer<Float>, activation: ConvActivation = .none
) {
    if readsPlanesInPlace(sh) {
        depthwiseConv3x3ForwardUnpadded(sh, input: input, weight: weight, bias: bias, output: output, activation: activation)
        return
    }
    if takesSameConv3x3(sh) {
        depthwiseConv3x3ForwardSame(sh, input: input, weight: weight, bias: bias, output: output, activation: activation)
        return
    }
    if takesStride2Conv3x3(sh) {
        depthwiseConv3x3ForwardStride2(sh, input: input, weight: weight, bias: bias, output: output, activation: activation)
        return
    }
    let phases = DepthwisePhases(sh), span = phases.span
    Parallel.forEachPart(sh.c) { _, channels in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: phases.floats + span) { scratch in
            guard let xp = scratch.baseAddress else { return }
            let yp = xp + phases.floats
            xp.initialize(repeating: 0, count: phases.floats + span)
            // Images outside, channels inside: the planes are read in memory order (MobileNetV1's depthwise
            // convs ran 40 % slower channel by channel).
            for n0 in stride(from: 0, to: sh.n, by: phases.images) {
                let images = Swift.min(phases.images, sh.n - n0)
                for c in channels {
                    let w = weight + c * sh.r * sh.s
                    for slot in 0..<images { phases.fill(xp, slot: slot, from: input + sh.inputPlane(n0 + slot, c), sh) }
                    yp.update(repeating: bias?[c] ?? 0, count: span)
                    for r in 0..<sh.r {
                        for s in 0..<sh.s {
                            let tap = w[r * sh.s + s], src = xp + phases.offset(sh, r: r, s: s)
                            for j in 0..<span { yp[j] = yp[j] + tap * src[j] }
                        }
                    }
                    for slot in 0..<images {
                        let y = output + sh.outputPlane(n0 + slot, c), rows = yp + slot * phases.plane
                        for p in 0..<sh.p { copyFloats(y + p * sh.q, rows + p * phases.pitch, count: sh.q) }
                        if activation != .none { activation.addBias(0, to: y, count: sh.outPlane) }
                    }
                }
            }
        }
    }
}

/// Unpadded stride-1 3x3 depthwise convs (MobileNetV1's small layout): every tap of every output kept reads
/// inside the input plane, so forward and backward work on the planes themselves, without stride phases.
private func readsPlanesInPlace(_ sh: ConvShape) -> Bool {
    sh.r == 3 && sh.s == 3 && sh.strideH == 1 && sh.strideW == 1 && sh.padH == 0 && sh.padW == 0
}

/// Forward of unpadded stride-1 3x3 depthwise convs (MobileNetV1's small layout) read straight from each
/// input plane: output pixel (p, q) is computed at j = p*W + q on the plane's own pitch and reads
/// x[j + r*W + s], inside the plane for every output kept, so nothing is copied in (filling the stride
/// phases took 6 % of a MobileNetV1 inference). Each output vector takes its nine taps at once from
/// registers: nine loads per eight outputs, where tap-by-tap passes loaded and stored the outputs nine times.
/// The activation is applied as each vector is stored (a pass over each output plane of its own cost a
/// fifth of the conv). The last columns of each row on the pitch (q >= Q) are computed and dropped when the
/// rows are copied out, and so are the lanes of the last vector past the plane's last output, which read up
/// to seven floats past the plane: the next plane's, but on the input's last plane, whose last outputs are
/// computed one at a time (the same fused multiply-adds in the same order as a lane).
private func depthwiseConv3x3ForwardUnpadded(
    _ sh: ConvShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    output: UnsafeMutablePointer<Float>, activation: ConvActivation
) {
    let w = sh.w, plane = sh.h * w, span = (sh.p - 1) * w + sh.q, pitched = (span + 7) / 8 * 8
    // Vectors whose reads (up to j + 7 + 2W + 2) stay inside the plane.
    let insidePlane = Swift.min(span, plane - 2 * w - 2) / 8 * 8
    Parallel.forEachPart(sh.c) { _, channels in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: pitched) { scratch in
            guard let yp = scratch.baseAddress else { return }
            for n in 0..<sh.n {
                for c in channels {
                    let x = input + sh.inputPlane(n, c), t = weight + c * 9, b = bias?[c] ?? 0
                    let vectorEnd = n == sh.n - 1 && c == sh.c - 1 ? insidePlane : pitched
                    activation.withEightLanes { f in
                        let w0 = SIMD8<Float>(repeating: t[0]), w1 = SIMD8<Float>(repeating: t[1]), w2 = SIMD8<Float>(repeating: t[2])
                        let w3 = SIMD8<Float>(repeating: t[3]), w4 = SIMD8<Float>(repeating: t[4]), w5 = SIMD8<Float>(repeating: t[5])
                        let w6 = SIMD8<Float>(repeating: t[6]), w7 = SIMD8<Float>(repeating: t[7]), w8 = SIMD8<Float>(repeating: t[8])
                        var j = 0
                        while j < vectorEnd {
                            let r0 = x + j, r1 = r0 + w, r2 = r1 + w
                            var a = SIMD8<Float>(repeating: b)
                            a = a.addingProduct(load8(r0), w0); a = a.addingProduct(load8(r0 + 1), w1); a = a.addingProduct(load8(r0 + 2), w2)
                            a = a.addingProduct(load8(r1), w3); a = a.addingProduct(load8(r1 + 1), w4); a = a.addingProduct(load8(r1 + 2), w5)
                            a = a.addingProduct(load8(r2), w6); a = a.addingProduct(load8(r2 + 1), w7); a = a.addingProduct(load8(r2 + 2), w8)
                            store8(yp + j, f(a))
                            j += 8
                        }
                        while j < span {
                            var a = b
                            for r in 0..<3 {
                                for s in 0..<3 { a = a.addingProduct(x[j + r * w + s], t[r * 3 + s]) }
                            }
                            yp[j] = f(SIMD8(repeating: a))[0]
                            j += 1
                        }
                    }
                    let y = output + sh.outputPlane(n, c)
                    for p in 0..<sh.p {
                        copyRowRunningOn(y + p * sh.q, yp + p * w, count: sh.q, readable: pitched - p * w,
                                         writable: sh.outPlane - p * sh.q)
                    }
                }
            }
        }
    }
}

/// Backward on phase planes: dy' is dy on the pitch with zeros in the unused columns and rows, so
/// dW[r, s] += dot(dy', phases at the tap's offset) and dphases[i + offset] += w[r, s] * dy'[i];
/// dx is gathered back from dphases.
func depthwiseConvBackwardPhased(
    _ sh: ConvShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>, gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?
) {
    if readsPlanesInPlace(sh) {
        depthwiseConv3x3BackwardUnpadded(sh, input: input, weight: weight, gradOutput: gradOutput, gradInput: gradInput,
                                         gradWeight: gradWeight, gradBias: gradBias)
        return
    }
    if takesSameConv3x3(sh) {
        depthwiseConv3x3BackwardSame(sh, input: input, weight: weight, gradOutput: gradOutput, gradInput: gradInput,
                                     gradWeight: gradWeight, gradBias: gradBias)
        return
    }
    if takesStride2Conv3x3(sh) {
        depthwiseConv3x3BackwardStride2(sh, input: input, weight: weight, gradOutput: gradOutput, gradInput: gradInput,
                                        gradWeight: gradWeight, gradBias: gradBias)
        return
    }
    let phases = DepthwisePhases(sh), span = phases.span, phaseFloats = phases.floats
    let covered = phases.coversInput(sh)
    Parallel.forEachPart(sh.c) { _, channels in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * phaseFloats + span) { scratch in
            guard let xp = scratch.baseAddress else { return }
            let dxp = xp + phaseFloats, dyp = dxp + phaseFloats
            xp.initialize(repeating: 0, count: 2 * phaseFloats + span)
            for n0 in stride(from: 0, to: sh.n, by: phases.images) {
                let images = Swift.min(phases.images, sh.n - n0)
                if images < phases.images { dyp.update(repeating: 0, count: span) }
                for c in channels {
                    let w = weight + c * sh.r * sh.s, dw = gradWeight + c * sh.r * sh.s
                    for slot in 0..<images {
                        let n = n0 + slot
                        phases.fill(xp, slot: slot, from: input + sh.inputPlane(n, c), sh)
                        let dy = gradOutput + sh.outputPlane(n, c), rows = dyp + slot * phases.plane
                        for p in 0..<sh.p { copyFloats(rows + p * phases.pitch, dy + p * sh.q, count: sh.q) }
                        if let gradBias { gradBias[c] += sumOf(dy, count: sh.outPlane) }
                    }
                    dxp.update(repeating: 0, count: phaseFloats)
                    for r in 0..<sh.r {
                        for s in 0..<sh.s {
                            let offset = phases.offset(sh, r: r, s: s), tap = w[r * sh.s + s]
                            dw[r * sh.s + s] += dotProduct(dyp, xp + offset, count: span)
                            let dst = dxp + offset
                            for j in 0..<span { dst[j] = dst[j] + tap * dyp[j] }
                        }
                    }
                    for slot in 0..<images {
                        let dx = gradInput + sh.inputPlane(n0 + slot, c)
                        if !covered { dx.update(repeating: 0, count: sh.inPlane) }
                        phases.gather(dx, slot: slot, from: dxp, sh)
                    }
                }
            }
        }
    }
}

/// Backward of unpadded stride-1 3x3 depthwise convs on the input planes themselves, as their forward: dy is
/// laid on the plane's pitch W (zeros past column Q) with 2W + 2 zeros before it and the rest of a plane's
/// room after it, then each of the two gradients is one pass from registers, as the forward is:
/// dW[r, s] = sum over j of dy'[j] * x[j + r*W + s], nine sums from one load of dy' per eight pixels, and
/// dx[i] = sum over r, s of w[r, s] * dy'[i - r*W - s], nine taps per eight pixels of dx written once.
/// (Tap by tap, nine dot products and nine passes adding into dx loaded and stored each pixel nine times:
/// 6 % of a MobileNetV1 training step.)
private func depthwiseConv3x3BackwardUnpadded(
    _ sh: ConvShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>, gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?
) {
    let w = sh.w, plane = sh.inPlane, span = (sh.p - 1) * w + sh.q, lead = 2 * w + 2
    // dW's vectors read x up to j + 7 + 2W + 2, inside the plane while j + 8 <= span (span + 2W + 2 is the
    // plane); dx's read dy' from i - 2W - 2 to i + 7, inside the room for every vector of the plane.
    let weightEnd = span / 8 * 8, inputEnd = plane / 8 * 8, room = lead + plane + 8
    Parallel.forEachPart(sh.c) { _, channels in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: room) { scratch in
            guard let start = scratch.baseAddress else { return }
            start.initialize(repeating: 0, count: room)
            let dyp = start + lead
            for n in 0..<sh.n {
                for c in channels {
                    let x = input + sh.inputPlane(n, c), dx = gradInput + sh.inputPlane(n, c), dy = gradOutput + sh.outputPlane(n, c)
                    let t = weight + c * 9, dw = gradWeight + c * 9
                    for p in 0..<sh.p { copyFloats(dyp + p * w, dy + p * sh.q, count: sh.q) }
                    if let gradBias { gradBias[c] += sumOf(dy, count: sh.outPlane) }

                    var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>(), s4 = SIMD8<Float>()
                    var s5 = SIMD8<Float>(), s6 = SIMD8<Float>(), s7 = SIMD8<Float>(), s8 = SIMD8<Float>()
                    var j = 0
                    while j < weightEnd {
                        let g = load8(dyp + j), r0 = x + j, r1 = r0 + w, r2 = r1 + w
                        s0 = s0.addingProduct(g, load8(r0)); s1 = s1.addingProduct(g, load8(r0 + 1)); s2 = s2.addingProduct(g, load8(r0 + 2))
                        s3 = s3.addingProduct(g, load8(r1)); s4 = s4.addingProduct(g, load8(r1 + 1)); s5 = s5.addingProduct(g, load8(r1 + 2))
                        s6 = s6.addingProduct(g, load8(r2)); s7 = s7.addingProduct(g, load8(r2 + 1)); s8 = s8.addingProduct(g, load8(r2 + 2))
                        j += 8
                    }
                    dw[0] += s0.sum(); dw[1] += s1.sum(); dw[2] += s2.sum()
                    dw[3] += s3.sum(); dw[4] += s4.sum(); dw[5] += s5.sum()
                    dw[6] += s6.sum(); dw[7] += s7.sum(); dw[8] += s8.sum()
                    while j < span {
                        for r in 0..<3 {
                            for s in 0..<3 { dw[r * 3 + s] += dyp[j] * x[j + r * w + s] }
                        }
                        j += 1
                    }

                    let w0 = SIMD8<Float>(repeating: t[0]), w1 = SIMD8<Float>(repeating: t[1]), w2 = SIMD8<Float>(repeating: t[2])
                    let w3 = SIMD8<Float>(repeating: t[3]), w4 = SIMD8<Float>(repeating: t[4]), w5 = SIMD8<Float>(repeating: t[5])
                    let w6 = SIMD8<Float>(repeating: t[6]), w7 = SIMD8<Float>(repeating: t[7]), w8 = SIMD8<Float>(repeating: t[8])
                    var i = 0
                    while i < inputEnd {
                        let d0 = dyp + i, d1 = d0 - w, d2 = d1 - w
                        var a = SIMD8<Float>()
                        a = a.addingProduct(load8(d0), w0); a = a.addingProduct(load8(d0 - 1), w1); a = a.addingProduct(load8(d0 - 2), w2)
                        a = a.addingProduct(load8(d1), w3); a = a.addingProduct(load8(d1 - 1), w4); a = a.addingProduct(load8(d1 - 2), w5)
                        a = a.addingProduct(load8(d2), w6); a = a.addingProduct(load8(d2 - 1), w7); a = a.addingProduct(load8(d2 - 2), w8)
                        store8(dx + i, a)
                        i += 8
                    }
                    while i < plane {
                        var a: Float = 0
                        for r in 0..<3 {
                            for s in 0..<3 { a += t[r * 3 + s] * dyp[i - r * w - s] }
                        }
                        dx[i] = a
                        i += 1
                    }
                }
            }
        }
    }
}

// MARK: - "Same" 3x3 convs: stride 1, padding 1

/// Stride-1 3x3 depthwise convs padded by one pixel (ShuffleNet's and EfficientNetV2's), read from a copy
/// of each input plane with one zero row above and below rather than from stride phases: the copy is one
/// memcpy of the whole plane, where the phases are filled row by row at pitch W + 2 (the fills were 11 % of
/// a ShuffleNetV2 inference). The output plane has the input's shape, so output j = p*W + q reads x[j + (r-1)*W
/// + (s-1)] and is stored in place. The zero rows stand for the padding above and below; to the left and right,
/// the left column's taps (s = 0) at q = 0 would read the previous row's last pixel and the right column's
/// (s = 2) at q = W-1 the next row's first, so each column's sum is multiplied by a mask that is 0 there.
/// Backward: dx is the same conv of dy with the filter turned half a turn (and the same masks: the turned
/// filter's left column still reads to the left),
/// and dW[r, s] = sum over j of (dy * mask of column s)[j] * x[j + (r-1)*W + (s-1)], nine sums in one pass.
private func takesSameConv3x3(_ sh: ConvShape) -> Bool {
    sh.r == 3 && sh.s == 3 && sh.strideH == 1 && sh.strideW == 1 && sh.padH == 1 && sh.padW == 1
}

/// Calls body(maskLeft, maskRight), two runs of `count` lanes: 1 where `keepsLeft` (`keepsRight`) holds for the
/// lane, else 0. The left and right columns' sums of the 3x3 kernels below are multiplied by them.
private func withColumnMasks(_ count: Int, keepsLeft: (Int) -> Bool, keepsRight: (Int) -> Bool,
                             _ body: (_ maskLeft: UnsafePointer<Float>, _ maskRight: UnsafePointer<Float>) -> Void) {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * count) { masks in
        guard let left = masks.baseAddress else { return }
        let right = left + count
        for i in 0..<count {
            left[i] = keepsLeft(i) ? 1 : 0
            right[i] = keepsRight(i) ? 1 : 0
        }
        body(left, right)
    }
}

/// A plane's bordered copy and the column masks, for one W x H plane.
private struct SameConvPlane {
    let width: Int, plane: Int
    /// Outputs rounded up to whole vectors: the last vector's extra lanes read zeros and are not stored.
    let vectors: Int
    /// Floats of a bordered copy: W + 1 zeros, the plane, then zeros for the last row's taps and vector.
    var bordered: Int { plane + 2 * width + 10 }
    /// Where the plane starts in its bordered copy.
    var start: Int { width + 1 }

    init(_ sh: ConvShape) {
        width = sh.w
        plane = sh.inPlane
        vectors = (plane + 7) / 8
    }

    /// Calls body(maskLeft, maskRight): maskLeft[j] is 0 where output j lies in column 0, maskRight[j] where
    /// it lies in column W - 1, and both are 1 elsewhere (`vectors * 8` entries each).
    func withMasks(_ body: (_ maskLeft: UnsafePointer<Float>, _ maskRight: UnsafePointer<Float>) -> Void) {
        withColumnMasks(vectors * 8, keepsLeft: { $0 % width != 0 }, keepsRight: { $0 % width != width - 1 }, body)
    }

    /// y[j] = bias + sum over taps t[r*3 + s] * x[j + (r-1)*W + (s-1)], masked as above, for the whole plane;
    /// x is the plane inside its bordered copy.
    @inline(__always)
    func convolve(_ x: UnsafePointer<Float>, taps t: UnsafePointer<Float>, bias: Float,
                  maskLeft: UnsafePointer<Float>, maskRight: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        let w0 = SIMD8<Float>(repeating: t[0]), w1 = SIMD8<Float>(repeating: t[1]), w2 = SIMD8<Float>(repeating: t[2])
        let w3 = SIMD8<Float>(repeating: t[3]), w4 = SIMD8<Float>(repeating: t[4]), w5 = SIMD8<Float>(repeating: t[5])
        let w6 = SIMD8<Float>(repeating: t[6]), w7 = SIMD8<Float>(repeating: t[7]), w8 = SIMD8<Float>(repeating: t[8])
        let b = SIMD8<Float>(repeating: bias), w = width
        for v in 0..<vectors {
            let j = v * 8, up = x + j - w, mid = x + j, down = x + j + w
            var centre = b.addingProduct(load8(up), w1)
            centre = centre.addingProduct(load8(mid), w4)
            centre = centre.addingProduct(load8(down), w7)
            var left = load8(up - 1) * w0
            left = left.addingProduct(load8(mid - 1), w3)
            left = left.addingProduct(load8(down - 1), w6)
            var right = load8(up + 1) * w2
            right = right.addingProduct(load8(mid + 1), w5)
            right = right.addingProduct(load8(down + 1), w8)
            let a = centre.addingProduct(left, load8(maskLeft + j)).addingProduct(right, load8(maskRight + j))
            storeVector(a, at: y + j, count: Swift.min(8, plane - j))
        }
    }
}

private func depthwiseConv3x3ForwardSame(
    _ sh: ConvShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    output: UnsafeMutablePointer<Float>, activation: ConvActivation
) {
    let layout = SameConvPlane(sh)
    layout.withMasks { maskLeft, maskRight in
        Parallel.forEachPart(sh.c) { _, channels in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: layout.bordered) { scratch in
                guard let xs = scratch.baseAddress else { return }
                xs.initialize(repeating: 0, count: layout.bordered)
                // Images outside, channels inside: the planes are read in memory order.
                for n in 0..<sh.n {
                    for c in channels {
                        let y = output + sh.outputPlane(n, c)
                        copyFloats(xs + layout.start, input + sh.inputPlane(n, c), count: layout.plane)
                        layout.convolve(xs + layout.start, taps: weight + c * 9, bias: bias?[c] ?? 0,
                                        maskLeft: maskLeft, maskRight: maskRight, into: y)
                        if activation != .none { activation.addBias(0, to: y, count: sh.outPlane) }
                    }
                }
            }
        }
    }
}

private func depthwiseConv3x3BackwardSame(
    _ sh: ConvShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>, gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?
) {
    let layout = SameConvPlane(sh)
    layout.withMasks { maskLeft, maskRight in
        Parallel.forEachPart(sh.c) { _, channels in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * layout.bordered + 9) { scratch in
                guard let xs = scratch.baseAddress else { return }
                let dys = xs + layout.bordered, flipped = dys + layout.bordered
                xs.initialize(repeating: 0, count: 2 * layout.bordered + 9)
                let x = UnsafePointer(xs + layout.start), dy = UnsafePointer(dys + layout.start), w = layout.width
                for n in 0..<sh.n {
                    for c in channels {
                        let t = weight + c * 9, dw = gradWeight + c * 9, dyPlane = gradOutput + sh.outputPlane(n, c)
                        // The planes' copies, whose borders stay as zeroed above.
                        copyFloats(xs + layout.start, input + sh.inputPlane(n, c), count: layout.plane)
                        copyFloats(dys + layout.start, dyPlane, count: layout.plane)
                        if let gradBias { gradBias[c] += sumOf(dyPlane, count: sh.outPlane) }
                        for i in 0..<9 { flipped[i] = t[8 - i] }
                        layout.convolve(dy, taps: flipped, bias: 0, maskLeft: maskLeft, maskRight: maskRight,
                                        into: gradInput + sh.inputPlane(n, c))
                        // dW: the vector lanes past the plane read dy's zero border, so they add nothing.
                        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
                        var a4 = SIMD8<Float>(), a5 = SIMD8<Float>(), a6 = SIMD8<Float>(), a7 = SIMD8<Float>()
                        var a8 = SIMD8<Float>()
                        for v in 0..<layout.vectors {
                            let j = v * 8, g = load8(dy + j)
                            let gl = g * load8(maskLeft + j), gr = g * load8(maskRight + j)
                            let up = x + j - w, mid = x + j, down = x + j + w
                            a0 = a0.addingProduct(gl, load8(up - 1)); a1 = a1.addingProduct(g, load8(up)); a2 = a2.addingProduct(gr, load8(up + 1))
                            a3 = a3.addingProduct(gl, load8(mid - 1)); a4 = a4.addingProduct(g, load8(mid)); a5 = a5.addingProduct(gr, load8(mid + 1))
                            a6 = a6.addingProduct(gl, load8(down - 1)); a7 = a7.addingProduct(g, load8(down)); a8 = a8.addingProduct(gr, load8(down + 1))
                        }
                        dw[0] += a0.sum(); dw[1] += a1.sum(); dw[2] += a2.sum()
                        dw[3] += a3.sum(); dw[4] += a4.sum(); dw[5] += a5.sum()
                        dw[6] += a6.sum(); dw[7] += a7.sum(); dw[8] += a8.sum()
                    }
                }
            }
        }
    }
}

// MARK: - Stride-2 3x3 convs padded by one

/// Stride-2 3x3 depthwise convs padded by one (ShuffleNet's and EfficientNetV2's downsampling), forward, on a
/// bordered copy of each plane rather than its four stride phases: filling the phases row by row was 8 % of a
/// ShuffleNetV2 inference, more than the conv itself. Output (p, q) reads row 2p - 1 + r at columns 2q - 1,
/// 2q and 2q + 1; eight outputs of a row take sixteen floats from 2q on, whose even lanes are the centre
/// column's pixels and odd lanes the right column's, and the sixteen from 2q - 2 on, whose odd lanes are the
/// left column's. The left column at q = 0 and, on odd widths, the right column at q = Q - 1 fall on the
/// padding and are masked; the padding rows are the copy's zero rows.
private func takesStride2Conv3x3(_ sh: ConvShape) -> Bool {
    sh.r == 3 && sh.s == 3 && sh.strideH == 2 && sh.strideW == 2 && sh.padH == 1 && sh.padW == 1
}

/// A plane's bordered copy and the column masks of the stride-2 convs, for one W x H plane.
private struct Stride2ConvPlane {
    let width: Int, plane: Int
    /// Eight-output vectors per output row, the last one's extra lanes computed and dropped.
    let vectors: Int
    /// Where the plane starts in its bordered copy: after W + 2 zeros (the row above, and the left column's
    /// first read, two floats before a row).
    var start: Int { width + 2 }
    /// Floats of a bordered copy: then the plane, and zeros for the row below and the last vector's reads past
    /// it (up to 2W + 14).
    var bordered: Int { start + plane + 2 * width + 16 }

    init(_ sh: ConvShape) {
        width = sh.w
        plane = sh.inPlane
        vectors = (sh.q + 7) / 8
    }

    /// Calls body(maskLeft, maskRight) over an output row's `vectors * 8` lanes: maskLeft[q] is 0 at q = 0,
    /// where the left column reads the padding; maskRight[q] is 0 where the right column 2q + 1 is past the
    /// image (on odd widths, q = Q - 1; and the dropped lanes); both are 1 elsewhere.
    func withMasks(_ body: (_ maskLeft: UnsafePointer<Float>, _ maskRight: UnsafePointer<Float>) -> Void) {
        withColumnMasks(vectors * 8, keepsLeft: { $0 != 0 }, keepsRight: { 2 * $0 + 1 < width }, body)
    }
}

/// `tapsPerChannel`: floats from one channel's nine taps to the next's (0: every channel has the same nine).
private func depthwiseConv3x3ForwardStride2(
    _ sh: ConvShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, tapsPerChannel: Int = 9,
    bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, activation: ConvActivation
) {
    let layout = Stride2ConvPlane(sh), w = layout.width, plane = layout.plane, vectors = layout.vectors
    let start = layout.start, bordered = layout.bordered
    layout.withMasks { maskLeft, maskRight in
        Parallel.forEachPart(sh.c) { _, channels in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: bordered) { scratch in
                guard let xs = scratch.baseAddress else { return }
                xs.initialize(repeating: 0, count: bordered)
                let x = UnsafePointer(xs + start)
                for n in 0..<sh.n {
                    for c in channels {
                        copyFloats(xs + start, input + sh.inputPlane(n, c), count: plane)
                        let t = weight + c * tapsPerChannel, y = output + sh.outputPlane(n, c)
                        let w0 = SIMD8<Float>(repeating: t[0]), w1 = SIMD8<Float>(repeating: t[1]), w2 = SIMD8<Float>(repeating: t[2])
                        let w3 = SIMD8<Float>(repeating: t[3]), w4 = SIMD8<Float>(repeating: t[4]), w5 = SIMD8<Float>(repeating: t[5])
                        let w6 = SIMD8<Float>(repeating: t[6]), w7 = SIMD8<Float>(repeating: t[7]), w8 = SIMD8<Float>(repeating: t[8])
                        let b = SIMD8<Float>(repeating: bias?[c] ?? 0)
                        for p in 0..<sh.p {
                            let up = x + (2 * p - 1) * w, mid = up + w, down = mid + w
                            for v in 0..<vectors {
                                let q = v * 8
                                let u = loadVector(up + 2 * q, as: SIMD16<Float>.self)
                                let m = loadVector(mid + 2 * q, as: SIMD16<Float>.self)
                                let d = loadVector(down + 2 * q, as: SIMD16<Float>.self)
                                var centre = b.addingProduct(u.evenHalf, w1)
                                centre = centre.addingProduct(m.evenHalf, w4)
                                centre = centre.addingProduct(d.evenHalf, w7)
                                var right = u.oddHalf * w2
                                right = right.addingProduct(m.oddHalf, w5)
                                right = right.addingProduct(d.oddHalf, w8)
                                var left = loadVector(up + 2 * q - 2, as: SIMD16<Float>.self).oddHalf * w0
                                left = left.addingProduct(loadVector(mid + 2 * q - 2, as: SIMD16<Float>.self).oddHalf, w3)
                                left = left.addingProduct(loadVector(down + 2 * q - 2, as: SIMD16<Float>.self).oddHalf, w6)
                                let a = centre.addingProduct(left, load8(maskLeft + q)).addingProduct(right, load8(maskRight + q))
                                storeVector(a, at: y + p * sh.q + q, count: Swift.min(8, sh.q - q))
                            }
                        }
                        if activation != .none { activation.addBias(0, to: y, count: sh.outPlane) }
                    }
                }
            }
        }
    }
}

/// 3x3 stride-2 average pooling padded by one that counts the padding (`AvgPool2d(3, 2, padding=1)`, ShuffleNetV1's
/// shortcut) over planes [planes, H, W]: the stride-2 kernel above with all nine taps 1/9 for every plane. The
/// windowed pooling kernel's per-window bookkeeping took 7.7 % of a ShuffleNetV1 inference.
func averagePool3x3Stride2Forward(planes: Int, h: Int, w: Int, input: UnsafePointer<Float>,
                                  output: UnsafeMutablePointer<Float>) {
    let sh = ConvShape(n: 1, c: planes, h: h, w: w, k: planes, p: (h - 1) / 2 + 1, q: (w - 1) / 2 + 1, r: 3, s: 3,
                       strideH: 2, strideW: 2, padH: 1, padW: 1, groups: planes)
    let taps = [Float](repeating: 1 / 9, count: 9)
    depthwiseConv3x3ForwardStride2(sh, input: input, weight: taps, tapsPerChannel: 0, bias: nil, output: output,
                                   activation: .none)
}

/// Backward of the stride-2 3x3 convs above, on the same bordered copy of x and a copy of dy whose rows are
/// padded with zeros to whole vectors and one more (so dy[p][q + 1] past the row, and the row below the last,
/// read zeros). dW[r, s] sums dy against the pixels the forward read, the left and right columns' terms
/// masked as there. dx row by row pair, gathered rather than scattered: an even input row 2p takes only tap
/// row 1 of output row p, an odd one 2p + 1 tap row 2 of output row p and tap row 0 of row p + 1; within a
/// row, even column 2q takes tap column 1 of output q, odd column 2q + 1 tap column 2 of q and 0 of q + 1.
/// Each pair of rows is built as eight even and eight odd columns at a time and interleaved; what falls past
/// the image (column W or row H of an odd-sized plane, the padding) is not stored.
private func depthwiseConv3x3BackwardStride2(
    _ sh: ConvShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>, gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?
) {
    let layout = Stride2ConvPlane(sh), w = layout.width, plane = layout.plane, vectors = layout.vectors
    let start = layout.start, bordered = layout.bordered
    let dyPitch = vectors * 8 + 8, dyFloats = (sh.p + 1) * dyPitch, rowPitch = 16 * vectors
    layout.withMasks { maskLeft, maskRight in
        Parallel.forEachPart(sh.c) { _, channels in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: bordered + dyFloats + 2 * rowPitch) { scratch in
                guard let xs = scratch.baseAddress else { return }
                let dys = xs + bordered, rows = dys + dyFloats
                xs.initialize(repeating: 0, count: bordered + dyFloats + 2 * rowPitch)
                let x = UnsafePointer(xs + start), dy = UnsafePointer(dys)
                for n in 0..<sh.n {
                    for c in channels {
                        let dyPlane = gradOutput + sh.outputPlane(n, c), dx = gradInput + sh.inputPlane(n, c)
                        copyFloats(xs + start, input + sh.inputPlane(n, c), count: plane)
                        for p in 0..<sh.p { copyFloats(dys + p * dyPitch, dyPlane + p * sh.q, count: sh.q) }
                        if let gradBias { gradBias[c] += sumOf(dyPlane, count: sh.outPlane) }
                        let t = weight + c * 9, dw = gradWeight + c * 9
                        let w0 = SIMD8<Float>(repeating: t[0]), w1 = SIMD8<Float>(repeating: t[1]), w2 = SIMD8<Float>(repeating: t[2])
                        let w3 = SIMD8<Float>(repeating: t[3]), w4 = SIMD8<Float>(repeating: t[4]), w5 = SIMD8<Float>(repeating: t[5])
                        let w6 = SIMD8<Float>(repeating: t[6]), w7 = SIMD8<Float>(repeating: t[7]), w8 = SIMD8<Float>(repeating: t[8])
                        for p in 0..<sh.p {
                            let g0 = dy + p * dyPitch, g1 = g0 + dyPitch
                            for v in 0..<vectors {
                                let q = v * 8
                                let a = load8(g0 + q), aNext = load8(g0 + q + 1), b = load8(g1 + q), bNext = load8(g1 + q + 1)
                                var even = SIMD16<Float>(), odd = SIMD16<Float>()
                                even.evenHalf = a * w4
                                even.oddHalf = (a * w5).addingProduct(aNext, w3)
                                odd.evenHalf = (a * w7).addingProduct(b, w1)
                                odd.oddHalf = (a * w8).addingProduct(aNext, w6).addingProduct(b, w2).addingProduct(bNext, w0)
                                storeVector(even, at: rows + 2 * q)
                                storeVector(odd, at: rows + rowPitch + 2 * q)
                            }
                            copyFloats(dx + 2 * p * w, rows, count: w)
                            if 2 * p + 1 < sh.h { copyFloats(dx + (2 * p + 1) * w, rows + rowPitch, count: w) }
                        }
                        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
                        var a4 = SIMD8<Float>(), a5 = SIMD8<Float>(), a6 = SIMD8<Float>(), a7 = SIMD8<Float>()
                        var a8 = SIMD8<Float>()
                        for p in 0..<sh.p {
                            let up = x + (2 * p - 1) * w, mid = up + w, down = mid + w
                            for v in 0..<vectors {
                                let q = v * 8, g = load8(dy + p * dyPitch + q)
                                let gl = g * load8(maskLeft + q), gr = g * load8(maskRight + q)
                                let u = loadVector(up + 2 * q, as: SIMD16<Float>.self)
                                let m = loadVector(mid + 2 * q, as: SIMD16<Float>.self)
                                let d = loadVector(down + 2 * q, as: SIMD16<Float>.self)
                                a1 = a1.addingProduct(g, u.evenHalf); a2 = a2.addingProduct(gr, u.oddHalf)
                                a4 = a4.addingProduct(g, m.evenHalf); a5 = a5.addingProduct(gr, m.oddHalf)
                                a7 = a7.addingProduct(g, d.evenHalf); a8 = a8.addingProduct(gr, d.oddHalf)
                                a0 = a0.addingProduct(gl, loadVector(up + 2 * q - 2, as: SIMD16<Float>.self).oddHalf)
                                a3 = a3.addingProduct(gl, loadVector(mid + 2 * q - 2, as: SIMD16<Float>.self).oddHalf)
                                a6 = a6.addingProduct(gl, loadVector(down + 2 * q - 2, as: SIMD16<Float>.self).oddHalf)
                            }
                        }
                        dw[0] += a0.sum(); dw[1] += a1.sum(); dw[2] += a2.sum()
                        dw[3] += a3.sum(); dw[4] += a4.sum(); dw[5] += a5.sum()
                        dw[6] += a6.sum(); dw[7] += a7.sum(); dw[8] += a8.sum()
                    }
                }
            }
        }
    }
}
