/// Winograd F(2x2, 3x3) convolution (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks",
/// 2015) for 3x3, stride-1, padding-1 convs with many channels (VGG's, ResNet's 64-channel stage; `ConvPath`
/// says which). Each 2x2 output tile costs 16 multiplies per (input, output) channel pair instead of 36,
/// and the multiplies are 16 independent GEMMs over the whole batch, so the 2.25x saving lands on OpenBLAS
/// at full speed.
///
/// Shapes: input [N, C, H, W], weight [K, C, 3, 3], output [N, K, H, W].
/// Tiles: the output is cut into tilesH = ceil(H/2) x tilesW = ceil(W/2) tiles of 2x2 per image,
/// T = N * tilesH * tilesW in all; tile t = (n, th, tw) reads the 4x4 input patch at rows 2th-1 ..< 2th+3,
/// columns 2tw-1 ..< 2tw+3 (zero outside the image).
/// Forward:  V[16][C][T] = Bᵀ d B (per c, t)    U[16][K][C] = G g Gᵀ (per k, c)
///           M[e] = U[e] · V[e] (16 GEMMs [K,C]x[C,T])    y = Aᵀ m A (per k, t)
/// Backward, the adjoint of each step in reverse:
///           dM = A dy Aᵀ    dU[e] = dM[e] · V[e]ᵀ    dV[e] = U[e]ᵀ · dM[e]
///           dx += B dv Bᵀ (tiles overlap by two pixels)    dW += Gᵀ du G
/// with Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1], Aᵀ = [1 1 1 0; 0 1 -1 -1].
/// The transforms only add and halve, so results stay within a few float ulps of the direct sum.

/// Floats of scratch the Winograd path may use: 128 MB.
let winogradScratchLimit = 32 << 20

/// Where one call's tiles and transforms live.
struct WinogradLayout {
    let tilesH: Int, tilesW: Int
    /// Tiles in the batch: N * tilesH * tilesW, the columns of every GEMM.
    let tiles: Int
    /// A zero-bordered copy of one plane: (2*tilesH + 2) rows of pitch 2*tilesW + 2, interior at (1, 1).
    let pitch: Int, plane: Int
    /// Floats from one transform element e to the next in V (or dV) [16][C][T], U (or dU) [16][K][C] and
    /// M (or dM) [16][K][T]: the matrix size plus 64, so that the 16 streams a transform reads or writes at
    /// once do not all fall on the same cache sets (a power-of-two size would put them 4 KB apart).
    let inputStride: Int, weightStride: Int, outputStride: Int
    var inputFloats: Int { 16 * inputStride }
    var weightFloats: Int { 16 * weightStride }
    var outputFloats: Int { 16 * outputStride }
    /// Threads the per-input-channel transforms split over, each with a padded plane of its own.
    let planeParts: Int

    init(_ sh: ConvShape) {
        tilesH = (sh.p + 1) / 2
        tilesW = (sh.q + 1) / 2
        tiles = sh.n * tilesH * tilesW
        pitch = 2 * tilesW + 2
        plane = (2 * tilesH + 2) * pitch
        inputStride = sh.c * tiles + 64
        weightStride = sh.k * sh.c + 64
        outputStride = sh.k * tiles + 64
        planeParts = Parallel.parts(sh.c)
    }

    /// Scratch `columns`: V, U, dU and the padded planes; `gathered`: M (forward) or dM (backward).
    var scratch: (columns: Int, gathered: Int) { (inputFloats + 2 * weightFloats + planeParts * plane, outputFloats) }
}

// MARK: - Forward

/// output = conv3x3(input, weight) + bias, through the transforms above.
/// columns and gathered hold `WinogradLayout(sh).scratch` floats.
func convForwardWinograd(
    _ sh: ConvShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    output: UnsafeMutablePointer<Float>, columns: UnsafeMutablePointer<Float>, gathered: UnsafeMutablePointer<Float>,
    activation: ConvActivation = .none
) {
    let layout = WinogradLayout(sh)
    let v = columns, u = columns + layout.inputFloats, planes = u + 2 * layout.weightFloats
    let m = gathered
    transformWeights(weight, sh, layout, into: u)
    transformInput(input, sh, layout, planes: planes, into: v)
    let t = layout.tiles
    Parallel.forEachPart(16) { _, elements in
        for e in elements {
            BLAS.sgemm(transA: false, transB: false, m: sh.k, n: t, k: sh.c,
                       a: u + e * layout.weightStride, lda: sh.c, b: v + e * layout.inputStride, ldb: t,
                       beta: 0, c: m + e * layout.outputStride, ldc: t)
        }
    }
    transformOutput(m, sh, layout, bias: bias, activation: activation, into: output)
}

/// U[e][k][c] = (G g Gᵀ)[e] for each filter g = weight[k][c] (3x3).
private func transformWeights(_ weight: UnsafePointer<Float>, _ sh: ConvShape, _ layout: WinogradLayout,
                              into u: UnsafeMutablePointer<Float>) {
    let stride = layout.weightStride
    Parallel.forEachPart(sh.k) { _, filters in
        for k in filters {
            for c in 0..<sh.c {
                let g = weight + (k * sh.c + c) * 9
                // Gg: four rows, each three wide; then (Gg)Gᵀ along each row.
                let r0 = SIMD4(g[0], g[1], g[2], 0), r1 = SIMD4(g[3], g[4], g[5], 0), r2 = SIMD4(g[6], g[7], g[8], 0)
                let out = u + k * sh.c + c
                @inline(__always) func put(_ i: Int, _ row: SIMD4<Float>) {
                    out[(4 * i + 0) * stride] = row[0]
                    out[(4 * i + 1) * stride] = 0.5 * (row[0] + row[1] + row[2])
                    out[(4 * i + 2) * stride] = 0.5 * (row[0] - row[1] + row[2])
                    out[(4 * i + 3) * stride] = row[2]
                }
                put(0, r0)
                put(1, 0.5 * (r0 + r1 + r2))
                put(2, 0.5 * (r0 - r1 + r2))
                put(3, r2)
            }
        }
    }
}

/// V[e][c][t] = (Bᵀ d B)[e] for the 4x4 patch d of every tile t of channel c.
private func transformInput(
    _ input: UnsafePointer<Float>, _ sh: ConvShape, _ layout: WinogradLayout,
    planes: UnsafeMutablePointer<Float>, into v: UnsafeMutablePointer<Float>
) {
    let t = layout.tiles, pitch = layout.pitch, tilesW = layout.tilesW
    let elementStride = layout.inputStride
    Parallel.forEachPart(sh.c) { part, channels in
        let padded = planes + part * layout.plane
        padded.update(repeating: 0, count: layout.plane)
        for c in channels {
            for n in 0..<sh.n {
                let x = input + sh.inputPlane(n, c)
                for row in 0..<sh.h { copyFloats(padded + (row + 1) * pitch + 1, x + row * sh.w, count: sh.w) }
                for th in 0..<layout.tilesH {
                    let d0 = padded + 2 * th * pitch, d1 = d0 + pitch, d2 = d1 + pitch, d3 = d2 + pitch
                    let out = v + c * t + (n * layout.tilesH + th) * tilesW
                    for tw in 0..<tilesW {
                        let j = 2 * tw
                        // Bᵀ d: four rows, each four wide.
                        let a0 = d0[j] - d2[j], a1 = d0[j + 1] - d2[j + 1], a2 = d0[j + 2] - d2[j + 2], a3 = d0[j + 3] - d2[j + 3]
                        let b0 = d1[j] + d2[j], b1 = d1[j + 1] + d2[j + 1], b2 = d1[j + 2] + d2[j + 2], b3 = d1[j + 3] + d2[j + 3]
                        let c0 = d2[j] - d1[j], c1 = d2[j + 1] - d1[j + 1], c2 = d2[j + 2] - d1[j + 2], c3 = d2[j + 3] - d1[j + 3]
                        let e0 = d1[j] - d3[j], e1 = d1[j + 1] - d3[j + 1], e2 = d1[j + 2] - d3[j + 2], e3 = d1[j + 3] - d3[j + 3]
                        // (Bᵀ d) B: the same combination along each row.
                        @inline(__always) func put(_ i: Int, _ x0: Float, _ x1: Float, _ x2: Float, _ x3: Float) {
                            out[(4 * i + 0) * elementStride + tw] = x0 - x2
                            out[(4 * i + 1) * elementStride + tw] = x1 + x2
                            out[(4 * i + 2) * elementStride + tw] = x2 - x1
                            out[(4 * i + 3) * elementStride + tw] = x1 - x3
                        }
                        put(0, a0, a1, a2, a3)
                        put(1, b0, b1, b2, b3)
                        put(2, c0, c1, c2, c3)
                        put(3, e0, e1, e2, e3)
                    }
                }
            }
        }
    }
}

/// output[n][k] tile (th, tw) = activation(Aᵀ m A + bias[k]), m the 16 values M[e][k][t]; cut at odd edges.
private func transformOutput(
    _ m: UnsafePointer<Float>, _ sh: ConvShape, _ layout: WinogradLayout, bias: UnsafePointer<Float>?,
    activation: ConvActivation, into output: UnsafeMutablePointer<Float>
) {
    let t = layout.tiles, tilesW = layout.tilesW, elementStride = layout.outputStride
    let fullRows = sh.p / 2, fullColumns = sh.q / 2
    Parallel.forEachPart(sh.k) { _, filters in
        for k in filters {
            let b = bias?[k] ?? 0
            for n in 0..<sh.n {
                let y = output + sh.outputPlane(n, k)
                for th in 0..<layout.tilesH {
                    let src = m + k * t + (n * layout.tilesH + th) * tilesW
                    let top = y + 2 * th * sh.q, bottom = top + sh.q
                    let hasBottom = th < fullRows
                    for tw in 0..<tilesW {
                        @inline(__always) func at(_ e: Int) -> Float { src[e * elementStride + tw] }
                        // Aᵀ m: two rows, each four wide; then (Aᵀ m) A along each row.
                        let s00 = at(0) + at(4) + at(8), s01 = at(1) + at(5) + at(9)
                        let s02 = at(2) + at(6) + at(10), s03 = at(3) + at(7) + at(11)
                        let s10 = at(4) - at(8) - at(12), s11 = at(5) - at(9) - at(13)
                        let s12 = at(6) - at(10) - at(14), s13 = at(7) - at(11) - at(15)
                        let q = 2 * tw
                        top[q] = s00 + s01 + s02 + b
                        if hasBottom { bottom[q] = s10 + s11 + s12 + b }
                        if tw < fullColumns {
                            top[q + 1] = s01 - s02 - s03 + b
                            if hasBottom { bottom[q + 1] = s11 - s12 - s13 + b }
                        }
                    }
                }
                if activation != .none { activation.addBias(0, to: y, count: sh.outPlane) }
            }
        }
    }
}

// MARK: - Backward

/// Backward of `convForwardWinograd`: gradInput is overwritten, gradWeight accumulated into (+=); the bias
/// gradient is the caller's. columns and gathered hold `WinogradLayout(sh).scratch` floats.
/// U and V are transformed again rather than kept from forward: every conv on a thread shares the scratch,
/// and keeping them per layer would hold four times each input for the whole step (the
/// recomputation is about 6 % of a VGG11 step).
func convBackwardWinograd(
    _ sh: ConvShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>, gradWeight: UnsafeMutablePointer<Float>,
    columns: UnsafeMutablePointer<Float>, gathered: UnsafeMutablePointer<Float>
) {
    let layout = WinogradLayout(sh)
    let v = columns, u = columns + layout.inputFloats, du = u + layout.weightFloats
    let planes = du + layout.weightFloats, dm = gathered
    transformWeights(weight, sh, layout, into: u)
    transformInput(input, sh, layout, planes: planes, into: v)
    transformGradOutput(gradOutput, sh, layout, into: dm)
    let t = layout.tiles
    Parallel.forEachPart(16) { _, elements in
        for e in elements {
            let ve = v + e * layout.inputStride, ue = u + e * layout.weightStride, dme = dm + e * layout.outputStride
            // dU[e][K, C] = dM[e][K, T] · V[e][C, T]ᵀ
            BLAS.sgemm(transA: false, transB: true, m: sh.k, n: sh.c, k: t, a: dme, lda: t, b: ve, ldb: t,
                       beta: 0, c: du + e * layout.weightStride, ldc: sh.c)
            // dV[e][C, T] = U[e][K, C]ᵀ · dM[e][K, T], over V[e], which is no longer needed.
            BLAS.sgemm(transA: true, transB: false, m: sh.c, n: t, k: sh.k, a: ue, lda: sh.c, b: dme, ldb: t,
                       beta: 0, c: ve, ldc: t)
        }
    }
    transformGradInput(v, sh, layout, planes: planes, into: gradInput)
    transformGradWeights(du, sh, layout, into: gradWeight)
}

/// dM[e][k][t] = (A dy Aᵀ)[e] for the 2x2 gradient tile dy of every tile t (zero past odd edges).
private func transformGradOutput(
    _ gradOutput: UnsafePointer<Float>, _ sh: ConvShape, _ layout: WinogradLayout, into dm: UnsafeMutablePointer<Float>
) {
    let t = layout.tiles, tilesW = layout.tilesW, elementStride = layout.outputStride
    let fullRows = sh.p / 2, fullColumns = sh.q / 2
    Parallel.forEachPart(sh.k) { _, filters in
        for k in filters {
            for n in 0..<sh.n {
                let dy = gradOutput + sh.outputPlane(n, k)
                for th in 0..<layout.tilesH {
                    let out = dm + k * t + (n * layout.tilesH + th) * tilesW
                    let top = dy + 2 * th * sh.q, bottom = top + sh.q
                    let hasBottom = th < fullRows
                    for tw in 0..<tilesW {
                        let q = 2 * tw, hasRight = tw < fullColumns
                        let y00 = top[q], y01 = hasRight ? top[q + 1] : 0
                        let y10 = hasBottom ? bottom[q] : 0, y11 = hasBottom && hasRight ? bottom[q + 1] : 0
                        // A dy: rows (y0, y0 + y1, y0 - y1, -y1), each two wide; then the same along each row.
                        @inline(__always) func put(_ i: Int, _ a: Float, _ b: Float) {
                            out[(4 * i + 0) * elementStride + tw] = a
                            out[(4 * i + 1) * elementStride + tw] = a + b
                            out[(4 * i + 2) * elementStride + tw] = a - b
                            out[(4 * i + 3) * elementStride + tw] = -b
                        }
                        put(0, y00, y01)
                        put(1, y00 + y10, y01 + y11)
                        put(2, y00 - y10, y01 - y11)
                        put(3, -y10, -y11)
                    }
                }
            }
        }
    }
}

/// gradInput[n][c] = the sum over tiles of B dv Bᵀ placed at the tile's 4x4 patch, dv the 16 values dV[e][c][t].
private func transformGradInput(
    _ dv: UnsafePointer<Float>, _ sh: ConvShape, _ layout: WinogradLayout,
    planes: UnsafeMutablePointer<Float>, into gradInput: UnsafeMutablePointer<Float>
) {
    let t = layout.tiles, pitch = layout.pitch, tilesW = layout.tilesW, elementStride = layout.inputStride
    Parallel.forEachPart(sh.c) { part, channels in
        let padded = planes + part * layout.plane
        for c in channels {
            for n in 0..<sh.n {
                padded.update(repeating: 0, count: layout.plane)
                for th in 0..<layout.tilesH {
                    let src = dv + c * t + (n * layout.tilesH + th) * tilesW
                    let d0 = padded + 2 * th * pitch, d1 = d0 + pitch, d2 = d1 + pitch, d3 = d2 + pitch
                    for tw in 0..<tilesW {
                        @inline(__always) func at(_ e: Int) -> Float { src[e * elementStride + tw] }
                        // B dv: rows (v0, v1 - v2 + v3, -v0 + v1 + v2, -v3), each four wide.
                        let v0 = SIMD4(at(0), at(1), at(2), at(3)), v1 = SIMD4(at(4), at(5), at(6), at(7))
                        let v2 = SIMD4(at(8), at(9), at(10), at(11)), v3 = SIMD4(at(12), at(13), at(14), at(15))
                        let j = 2 * tw
                        // (B dv) Bᵀ: the same combination along each row, added onto the patch.
                        @inline(__always) func add(_ row: SIMD4<Float>, _ dst: UnsafeMutablePointer<Float>) {
                            dst[j] += row[0]
                            dst[j + 1] += row[1] - row[2] + row[3]
                            dst[j + 2] += row[1] + row[2] - row[0]
                            dst[j + 3] -= row[3]
                        }
                        add(v0, d0)
                        add(v1 - v2 + v3, d1)
                        add(v1 + v2 - v0, d2)
                        add(-v3, d3)
                    }
                }
                let dx = gradInput + sh.inputPlane(n, c)
                for row in 0..<sh.h { copyFloats(dx + row * sh.w, padded + (row + 1) * pitch + 1, count: sh.w) }
            }
        }
    }
}

/// gradWeight[k][c] += Gᵀ du G, du the 16 values dU[e][k][c].
private func transformGradWeights(_ du: UnsafePointer<Float>, _ sh: ConvShape, _ layout: WinogradLayout,
                                  into gradWeight: UnsafeMutablePointer<Float>) {
    let stride = layout.weightStride
    Parallel.forEachPart(sh.k) { _, filters in
        for k in filters {
            for c in 0..<sh.c {
                let src = du + k * sh.c + c
                @inline(__always) func row(_ i: Int) -> SIMD4<Float> {
                    SIMD4(src[(4 * i) * stride], src[(4 * i + 1) * stride], src[(4 * i + 2) * stride], src[(4 * i + 3) * stride])
                }
                // Gᵀ du: rows (u0 + ½(u1 + u2), ½(u1 - u2), ½(u1 + u2) + u3), each four wide.
                let u0 = row(0), u1 = row(1), u2 = row(2), u3 = row(3)
                let g = gradWeight + (k * sh.c + c) * 9
                @inline(__always) func add(_ r: Int, _ x: SIMD4<Float>) {
                    g[3 * r] += x[0] + 0.5 * (x[1] + x[2])
                    g[3 * r + 1] += 0.5 * (x[1] - x[2])
                    g[3 * r + 2] += 0.5 * (x[1] + x[2]) + x[3]
                }
                add(0, u0 + 0.5 * (u1 + u2))
                add(1, 0.5 * (u1 - u2))
                add(2, 0.5 * (u1 + u2) + u3)
            }
        }
    }
}
