/// Winograd F(2x2, 3x3) convolution (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks",
/// 2015) for 3x3, stride-1, padding-1 convs with many channels (VGG's, ResNet's 64-channel stage; `ConvPath`
/// says which). Each 2x2 output tile costs 16 multiplies per (input, output) channel pair instead of 36,
/// and the multiplies are 16 independent GEMMs over the whole batch, so the 2.25x saving lands on OpenBLAS
/// at full speed.
///
/// Shapes: input [N, C, H, W], weight [K, C, 3, 3], output [N, K, H, W].
/// Tiles: the output is cut into tilesH = ceil(H/2) x tilesW = ceil(W/2) tiles of 2x2 per image; tile
/// (th, tw) reads the 4x4 input patch at rows 2th-1 ..< 2th+3, columns 2tw-1 ..< 2tw+3 (zero outside the image).
/// Images go eight at a time, one per vector lane, as in Winograd4x4.swift: the eight images' planes of one
/// channel are interleaved into one zero-bordered plane of eight-float pixels, X[rows][pitch][8] with rows =
/// 2*tilesH + 2, pitch = 2*tilesW + 2 and the interior at (1, 1), and every transform below is arithmetic on
/// whole vectors (one tile at a time, the transforms took a quarter of the time of a 28x28 ResNet's 64-channel
/// convs in training). Column t = (g*tilesH*tilesW + j)*8 + i of the GEMMs is tile j = th*tilesW + tw of image
/// 8g + i; a short last group's missing lanes are zeros in V and dM, and their columns of M and dV are not read.
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
    /// Tiles per image: tilesH * tilesW.
    let imageTiles: Int
    /// Groups of eight images in the batch (the last one may be short).
    let groups: Int
    /// Columns of every GEMM: groups * imageTiles * 8.
    let tiles: Int
    /// Pixels (of eight floats) per row and per plane of X; the output transform's interleaved plane, the
    /// output's 2*tilesH rows of 2*tilesW pixels, fits in one too.
    let pitch: Int, plane: Int
    /// Floats from one transform element e to the next in V (or dV) [16][C][T], U (or dU) [16][K][C] and
    /// M (or dM) [16][K][T]: the matrix size plus 64, so that the 16 streams a transform reads or writes at
    /// once do not all fall on the same cache sets (a power-of-two size would put them 4 KB apart).
    let inputStride: Int, weightStride: Int, outputStride: Int
    var inputFloats: Int { 16 * inputStride }
    var weightFloats: Int { 16 * weightStride }
    var outputFloats: Int { 16 * outputStride }
    /// Threads the per-channel and per-filter transforms split over, each with an interleaved plane of its own.
    let planeParts: Int

    init(_ sh: ConvShape) {
        tilesH = (sh.p + 1) / 2
        tilesW = (sh.q + 1) / 2
        imageTiles = tilesH * tilesW
        groups = (sh.n + 7) / 8
        tiles = groups * imageTiles * 8
        pitch = 2 * tilesW + 2
        plane = (2 * tilesH + 2) * pitch
        inputStride = sh.c * tiles + 64
        weightStride = sh.k * sh.c + 64
        outputStride = sh.k * tiles + 64
        planeParts = Swift.max(Parallel.parts(sh.c), Parallel.parts(sh.k))
    }

    /// The images of group g.
    func images(_ g: Int, _ sh: ConvShape) -> Range<Int> { 8 * g ..< Swift.min(sh.n, 8 * g + 8) }

    /// Offset in V (M, dV, dM) of the vector of tile j of group g in channel (filter) row `row`.
    @inline(__always)
    func column(row: Int, group g: Int, tile j: Int) -> Int { row * tiles + (g * imageTiles + j) * 8 }

    /// Scratch `columns`: V, U, dU and the interleaved planes; `gathered`: M (forward) or dM (backward).
    var scratch: (columns: Int, gathered: Int) { (inputFloats + 2 * weightFloats + planeParts * plane * 8, outputFloats) }
}

// MARK: - Images in vector lanes

private typealias EightVectors = (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>,
                                  SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)

/// The 8x8 transpose of eight vectors (out.i[j] = v.j[i]): three rounds of taking the even and then the odd
/// lanes of neighbouring pairs. A round moves the lowest bit of a float's index 8*row + lane to the top;
/// three of them swap row and lane. Each half is two shuffles: 48 for 64 floats, where a scalar copy
/// is 64 loads and 64 stores.
@inline(__always)
private func transposed(_ v: EightVectors) -> EightVectors {
    @inline(__always) func even(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { SIMD16(lowHalf: a, highHalf: b).evenHalf }
    @inline(__always) func odd(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { SIMD16(lowHalf: a, highHalf: b).oddHalf }
    @inline(__always) func round(_ v: EightVectors) -> EightVectors {
        (even(v.0, v.1), even(v.2, v.3), even(v.4, v.5), even(v.6, v.7), odd(v.0, v.1), odd(v.2, v.3), odd(v.4, v.5), odd(v.6, v.7))
    }
    return round(round(round(v)))
}

/// Stores the first `count` of eight vectors at p, p + 8, ...
@inline(__always)
private func storeFirst(_ count: Int, of v: EightVectors, at p: UnsafeMutablePointer<Float>) {
    store8(p, v.0)
    if count > 1 { store8(p + 8, v.1) }
    if count > 2 { store8(p + 16, v.2) }
    if count > 3 { store8(p + 24, v.3) }
    if count > 4 { store8(p + 32, v.4) }
    if count > 5 { store8(p + 40, v.5) }
    if count > 6 { store8(p + 48, v.6) }
    if count > 7 { store8(p + 56, v.7) }
}

/// x[(row * pitch + column) * 8 + i] = plane(i)[row * columns + column] for lanes i in 0..<lanes: eight
/// images' planes [rows, columns] into one interleaved plane of pitch `pitch` (the other lanes untouched).
/// Eight whole lanes go eight pixels at a time through `transposed`, reading up to seven floats past a
/// row's end where they still lie in the plane (only the row's pixels are stored).
@inline(__always)
func interleave(lanes: Int, rows: Int, columns: Int, _ plane: (_ lane: Int) -> UnsafePointer<Float>,
                into x: UnsafeMutablePointer<Float>, pitch: Int) {
    walkLanes(lanes: lanes, rows: rows, columns: columns, scalar: { lane, row, range in
        let from = plane(lane) + row * columns, to = x + row * pitch * 8 + lane
        for column in range { to[column &* 8] = from[column] }
    }, vector: { row, column, offset, count in
        @inline(__always) func pixels(_ lane: Int) -> SIMD8<Float> { load8(plane(lane) + offset) }
        let t = transposed((pixels(0), pixels(1), pixels(2), pixels(3), pixels(4), pixels(5), pixels(6), pixels(7)))
        storeFirst(count, of: t, at: x + (row * pitch + column) * 8)
    })
}

/// The adjoint copy: plane(i)[row * columns + column] = x[(row * pitch + column) * 8 + i]. Eight whole lanes
/// go through `transposed` as `interleave`; a row's last vector may write up to seven floats past its end
/// where they still lie in the plane (the next rows, written after it).
@inline(__always)
func deinterleave(_ x: UnsafePointer<Float>, pitch: Int, lanes: Int, rows: Int, columns: Int,
                  into plane: (_ lane: Int) -> UnsafeMutablePointer<Float>) {
    walkLanes(lanes: lanes, rows: rows, columns: columns, scalar: { lane, row, range in
        let from = x + row * pitch * 8 + lane, to = plane(lane) + row * columns
        for column in range { to[column] = from[column &* 8] }
    }, vector: { row, column, offset, count in
        let from = x + (row * pitch + column) * 8
        // Only the row's pixels are read: past them X may end (or hold its border).
        @inline(__always) func pixel(_ j: Int) -> SIMD8<Float> { j < count ? load8(from + 8 * j) : SIMD8() }
        let t = transposed((pixel(0), pixel(1), pixel(2), pixel(3), pixel(4), pixel(5), pixel(6), pixel(7)))
        store8(plane(0) + offset, t.0); store8(plane(1) + offset, t.1); store8(plane(2) + offset, t.2)
        store8(plane(3) + offset, t.3); store8(plane(4) + offset, t.4); store8(plane(5) + offset, t.5)
        store8(plane(6) + offset, t.6); store8(plane(7) + offset, t.7)
    })
}

/// The walk both copies share. With eight lanes: vector(row, column, offset, count) for each run of `count`
/// (at most eight) pixels of a row from `column`, offset = row * columns + column, where eight floats from
/// `offset` still lie in the plane, and scalar(lane, row, columns) for every lane of the other runs (the
/// plane's last); with fewer lanes, scalar for every lane and row.
@inline(__always)
private func walkLanes(lanes: Int, rows: Int, columns: Int,
                       scalar: (_ lane: Int, _ row: Int, _ columns: Range<Int>) -> Void,
                       vector: (_ row: Int, _ column: Int, _ offset: Int, _ count: Int) -> Void) {
    guard lanes == 8 else {
        for lane in 0..<lanes { for row in 0..<rows { scalar(lane, row, 0..<columns) } }
        return
    }
    for row in 0..<rows {
        for column in stride(from: 0, to: columns, by: 8) {
            let offset = row * columns + column, count = Swift.min(8, columns - column)
            if offset + 8 <= rows * columns {
                vector(row, column, offset, count)
            } else {
                for lane in 0..<8 { scalar(lane, row, column..<column + count) }
            }
        }
    }
}

// MARK: - Forward

/// output = conv3x3(input, weight) + bias, through the transforms above.
/// columns and gathered hold `WinogradLayout(sh).scratch` floats.
/// `transformedWeights`: U as `transformWinogradWeights` wrote it, kept by the caller; else U is transformed here.
func convForwardWinograd(
    _ sh: ConvShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    output: UnsafeMutablePointer<Float>, columns: UnsafeMutablePointer<Float>, gathered: UnsafeMutablePointer<Float>,
    activation: ConvActivation = .none, transformedWeights: UnsafePointer<Float>? = nil
) {
    let layout = WinogradLayout(sh)
    let v = columns, planes = columns + layout.inputFloats + 2 * layout.weightFloats
    let m = gathered
    let u = transformedWeights ?? {
        let u = columns + layout.inputFloats
        transformWinogradWeights(weight, sh, into: u)
        return UnsafePointer(u)
    }()
    transformInput(input, sh, layout, planes: planes, into: v)
    let t = layout.tiles
    Parallel.forEachPart(16) { _, elements in
        for e in elements {
            BLAS.sgemm(transA: false, transB: false, m: sh.k, n: t, k: sh.c,
                       a: u + e * layout.weightStride, lda: sh.c, b: v + e * layout.inputStride, ldb: t,
                       beta: 0, c: m + e * layout.outputStride, ldc: t)
        }
    }
    transformOutput(m, sh, layout, bias: bias, activation: activation, planes: planes, into: output)
}

/// U[e][k][c] = (G g Gᵀ)[e] for each filter g = weight[k][c] (3x3): `WinogradLayout(sh).weightFloats` floats.
func transformWinogradWeights(_ weight: UnsafePointer<Float>, _ sh: ConvShape, into u: UnsafeMutablePointer<Float>) {
    let stride = WinogradLayout(sh).weightStride
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
    let pitch = layout.pitch, stride = layout.inputStride
    Parallel.forEachPart(sh.c) { part, channels in
        let x = planes + part * layout.plane * 8
        x.update(repeating: 0, count: layout.plane * 8)
        for c in channels {
            for g in 0..<layout.groups {
                let images = layout.images(g, sh)
                if images.count < 8 { x.update(repeating: 0, count: layout.plane * 8) }  // the missing lanes read as zeros
                interleave(lanes: images.count, rows: sh.h, columns: sh.w, { input + sh.inputPlane(images.lowerBound + $0, c) },
                           into: x + (pitch + 1) * 8, pitch: pitch)
                var j = 0
                for th in 0..<layout.tilesH {
                    for tw in 0..<layout.tilesW {
                        let d0 = x + (2 * th * pitch + 2 * tw) * 8, d1 = d0 + pitch * 8, d2 = d1 + pitch * 8, d3 = d2 + pitch * 8
                        let out = v + layout.column(row: c, group: g, tile: j)
                        // Bᵀ d (rows d0 - d2, d1 + d2, d2 - d1, d1 - d3), then (Bᵀ d) B along each row.
                        @inline(__always) func row(_ i: Int, _ f: (Int) -> SIMD8<Float>) {
                            let x0 = f(0), x1 = f(8), x2 = f(16), x3 = f(24)
                            store8(out + (4 * i + 0) * stride, x0 - x2)
                            store8(out + (4 * i + 1) * stride, x1 + x2)
                            store8(out + (4 * i + 2) * stride, x2 - x1)
                            store8(out + (4 * i + 3) * stride, x1 - x3)
                        }
                        row(0) { load8(d0 + $0) - load8(d2 + $0) }
                        row(1) { load8(d1 + $0) + load8(d2 + $0) }
                        row(2) { load8(d2 + $0) - load8(d1 + $0) }
                        row(3) { load8(d1 + $0) - load8(d3 + $0) }
                        j += 1
                    }
                }
            }
        }
    }
}

/// output[n][k] tile (th, tw) = activation(Aᵀ m A + bias[k]), m the 16 vectors M[e][k][t] (lane i: image 8g + i),
/// through an interleaved plane of the group's output [2*tilesH][2*tilesW][8], cut at odd edges.
private func transformOutput(
    _ m: UnsafePointer<Float>, _ sh: ConvShape, _ layout: WinogradLayout, bias: UnsafePointer<Float>?,
    activation: ConvActivation, planes: UnsafeMutablePointer<Float>, into output: UnsafeMutablePointer<Float>
) {
    let stride = layout.outputStride, outputPitch = 2 * layout.tilesW
    Parallel.forEachPart(sh.k) { part, filters in
        let y = planes + part * layout.plane * 8
        for k in filters {
            for g in 0..<layout.groups {
                var j = 0
                for th in 0..<layout.tilesH {
                    for tw in 0..<layout.tilesW {
                        let src = m + layout.column(row: k, group: g, tile: j)
                        @inline(__always) func at(_ e: Int) -> SIMD8<Float> { load8(src + e * stride) }
                        // Aᵀ m: two rows, each four wide; then (Aᵀ m) A along each row.
                        let s01 = at(1) + at(5) + at(9), s02 = at(2) + at(6) + at(10)
                        let s11 = at(5) - at(9) - at(13), s12 = at(6) - at(10) - at(14)
                        let top = y + (2 * th * outputPitch + 2 * tw) * 8, bottom = top + outputPitch * 8
                        store8(top, at(0) + at(4) + at(8) + s01 + s02)
                        store8(top + 8, s01 - s02 - (at(3) + at(7) + at(11)))
                        store8(bottom, at(4) - at(8) - at(12) + s11 + s12)
                        store8(bottom + 8, s11 - s12 - (at(7) - at(11) - at(15)))
                        j += 1
                    }
                }
                let images = layout.images(g, sh)
                activation.addBias(bias?[k] ?? 0, to: y, count: layout.imageTiles * 4 * 8)
                deinterleave(y, pitch: outputPitch, lanes: images.count, rows: sh.p, columns: sh.q) {
                    output + sh.outputPlane(images.lowerBound + $0, k)
                }
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
    transformWinogradWeights(weight, sh, into: u)
    transformInput(input, sh, layout, planes: planes, into: v)
    transformGradOutput(gradOutput, sh, layout, planes: planes, into: dm)
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

/// dM[e][k][t] = (A dy Aᵀ)[e] for the 2x2 gradient tile dy of every tile t (zero past odd edges and in the
/// missing lanes of a short group).
private func transformGradOutput(
    _ gradOutput: UnsafePointer<Float>, _ sh: ConvShape, _ layout: WinogradLayout,
    planes: UnsafeMutablePointer<Float>, into dm: UnsafeMutablePointer<Float>
) {
    let stride = layout.outputStride, outputPitch = 2 * layout.tilesW, floats = layout.imageTiles * 4 * 8
    Parallel.forEachPart(sh.k) { part, filters in
        let y = planes + part * layout.plane * 8
        y.update(repeating: 0, count: floats)
        for k in filters {
            for g in 0..<layout.groups {
                let images = layout.images(g, sh)
                if images.count < 8 { y.update(repeating: 0, count: floats) }
                interleave(lanes: images.count, rows: sh.p, columns: sh.q, { gradOutput + sh.outputPlane(images.lowerBound + $0, k) },
                           into: y, pitch: outputPitch)
                var j = 0
                for th in 0..<layout.tilesH {
                    for tw in 0..<layout.tilesW {
                        let top = y + (2 * th * outputPitch + 2 * tw) * 8, bottom = top + outputPitch * 8
                        let y00 = load8(top), y01 = load8(top + 8), y10 = load8(bottom), y11 = load8(bottom + 8)
                        let out = dm + layout.column(row: k, group: g, tile: j)
                        // A dy: rows (y0, y0 + y1, y0 - y1, -y1), each two wide; then the same along each row.
                        @inline(__always) func put(_ i: Int, _ a: SIMD8<Float>, _ b: SIMD8<Float>) {
                            store8(out + (4 * i + 0) * stride, a)
                            store8(out + (4 * i + 1) * stride, a + b)
                            store8(out + (4 * i + 2) * stride, a - b)
                            store8(out + (4 * i + 3) * stride, -b)
                        }
                        put(0, y00, y01)
                        put(1, y00 + y10, y01 + y11)
                        put(2, y00 - y10, y01 - y11)
                        put(3, -y10, -y11)
                        j += 1
                    }
                }
            }
        }
    }
}

/// gradInput[n][c] = the sum over tiles of B dv Bᵀ placed at the tile's 4x4 patch, dv the 16 vectors dV[e][c][t].
private func transformGradInput(
    _ dv: UnsafePointer<Float>, _ sh: ConvShape, _ layout: WinogradLayout,
    planes: UnsafeMutablePointer<Float>, into gradInput: UnsafeMutablePointer<Float>
) {
    let pitch = layout.pitch, stride = layout.inputStride
    Parallel.forEachPart(sh.c) { part, channels in
        let x = planes + part * layout.plane * 8
        for c in channels {
            for g in 0..<layout.groups {
                x.update(repeating: 0, count: layout.plane * 8)
                var j = 0
                for th in 0..<layout.tilesH {
                    for tw in 0..<layout.tilesW {
                        let src = dv + layout.column(row: c, group: g, tile: j)
                        @inline(__always) func at(_ e: Int) -> SIMD8<Float> { load8(src + e * stride) }
                        // B dv: rows (v0, v1 - v2 + v3, -v0 + v1 + v2, -v3), each four wide (vi = dv[4i ..< 4i+4]);
                        // then (B dv) Bᵀ, the same combination along each row, added onto the patch.
                        @inline(__always) func add(_ r: Int, _ f: (Int) -> SIMD8<Float>) {
                            let x0 = f(0), x1 = f(1), x2 = f(2), x3 = f(3)
                            let dst = x + ((2 * th + r) * pitch + 2 * tw) * 8
                            store8(dst, load8(dst) + x0)
                            store8(dst + 8, load8(dst + 8) + (x1 - x2 + x3))
                            store8(dst + 16, load8(dst + 16) + (x1 + x2 - x0))
                            store8(dst + 24, load8(dst + 24) - x3)
                        }
                        add(0) { at($0) }
                        add(1) { at(4 + $0) - at(8 + $0) + at(12 + $0) }
                        add(2) { at(4 + $0) + at(8 + $0) - at($0) }
                        add(3) { -at(12 + $0) }
                        j += 1
                    }
                }
                let images = layout.images(g, sh)
                deinterleave(x + (pitch + 1) * 8, pitch: pitch, lanes: images.count, rows: sh.h, columns: sh.w) {
                    gradInput + sh.inputPlane(images.lowerBound + $0, c)
                }
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
