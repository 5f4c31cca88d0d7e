/// Winograd F(4x4, 3x3) convolution, forward only: the inference path of 3x3, stride-1, padding-1 convs with
/// 32 to 64 channels (a ResNet's second and third stages; `ConvPath` says which). A 4x4 output tile costs 36
/// multiplies per (input, output) channel pair, against 144 direct and 64 for F(2x2, 3x3) (Winograd.swift, the
/// training path). Its transforms reach coefficients of 8 and 1/24 (F(2x2, 3x3): 1 and 1/2), so outputs carry
/// a few more ulps of rounding (about 1e-6 of their scale in the tests); training keeps the kernels whose
/// backward is the adjoint of the forward it ran.
///
/// Shapes: input [N, C, H, W], weight [K, C, 3, 3], output [N, K, H, W].
/// Images go eight at a time, one per vector lane (the 7- to 28-pixel planes of a 28x28 ResNet have 2 to 7
/// tiles per row: too few to fill vectors with tiles). The eight images' planes of one channel are
/// interleaved into one zero-bordered plane of eight-float pixels, X[C][rows][pitch][8], rows = 4*tilesH + 2,
/// pitch = 4*tilesW + 2, interior at (1, 1); tile j = th*tilesW + tw of a group reads the 6x6 patch d at
/// rows 4th ..< 4th+6, columns 4tw ..< 4tw+6, and every step below is arithmetic on whole vectors:
///   V[36][C][tiles][8] = Bᵀ d B     (per channel and tile)
///   U[36][K/4][C][4]  = G g Gᵀ     (per filter, packed as the direct kernel reads weights; once per call)
///   M[e] = U[e] · V[e]             (36 products [K, C] x [C, tiles*8] on the direct kernel's register block)
///   y = Aᵀ m A + bias              (per filter and tile; lane i's 4x4 pixels go to image i, cut at the edges)
/// with Bᵀ = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1],
/// G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1] and
/// Aᵀ = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1] (Lavin & Gray, "Fast Algorithms for
/// Convolutional Neural Networks", 2015).

/// Where one group of eight images' planes, transforms and products live.
struct Winograd4x4Layout {
    let tilesH: Int, tilesW: Int
    /// Tiles per image; each is one vector of V and M (eight images).
    let tiles: Int
    /// Pixels (of eight floats) per row and per plane of X.
    let pitch: Int, plane: Int
    /// Floats from one transform element e to the next in V [36][C][tiles*8], M [36][K][tiles*8] and
    /// U [36][K*C]: the matrix plus 64, so that the 36 streams a transform writes or reads at once do not
    /// fall on the same cache sets (a power-of-two matrix would put them 4 KB apart).
    let inputStride: Int, outputStride: Int, weightStride: Int
    /// Groups of eight images in the batch (the last one may be short).
    let groups: Int
    /// The threads' work: `items` = groups x filterParts, item i the filters of part i % filterParts of group
    /// i / filterParts. With fewer groups than threads (a batch of 64 on more than 8 threads) each group's
    /// filters split into parts of at least 8, and each part transforms its group's input again (about a
    /// third of the path's time: interleaving and the input transform), so that every thread has work.
    let filterParts: Int, items: Int
    /// Floats of X [C][plane][8].
    let planesFloats: Int

    init(_ sh: ConvShape) {
        tilesH = (sh.p + 3) / 4
        tilesW = (sh.q + 3) / 4
        tiles = tilesH * tilesW
        pitch = 4 * tilesW + 2
        plane = (4 * tilesH + 2) * pitch
        inputStride = sh.c * tiles * 8 + 64
        outputStride = sh.k * tiles * 8 + 64
        weightStride = sh.k * sh.c + 64
        groups = (sh.n + 7) / 8
        filterParts = Swift.max(1, Swift.min(sh.k / 8, (Parallel.threads + groups - 1) / groups))
        items = groups * filterParts
        planesFloats = sh.c * plane * 8
    }

    /// Work item i's group and filters (whole blocks of 4).
    func item(_ i: Int, _ sh: ConvShape) -> (group: Int, filters: Range<Int>) {
        let part = i % filterParts, blocks = sh.k / 4
        return (i / filterParts, 4 * (blocks * part / filterParts) ..< 4 * (blocks * (part + 1) / filterParts))
    }

    /// One thread's scratch: X then V (columns), M then one filter's interleaved output plane (gathered); and U,
    /// which the threads share.
    var scratch: (columns: Int, gathered: Int, weights: Int) {
        (planesFloats + 36 * inputStride, 36 * outputStride + tiles * 16 * 8, 36 * weightStride)
    }
}

// MARK: - The three transforms, on six values at a time

private typealias Six = (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)

/// Bᵀ x: the input transform of six values (a column of d, then a row of Bᵀ d).
@inline(__always)
private func winogradBT(_ x: Six) -> Six {
    let four = SIMD8<Float>(repeating: 4), five = SIMD8<Float>(repeating: 5), two = SIMD8<Float>(repeating: 2)
    let s12 = x.1 + x.2, d12 = x.1 - x.2, s43 = x.4 + x.3, d43 = x.4 - x.3
    let d31 = x.3 - x.1, d42 = x.4 - x.2
    return (x.4 + (four * x.0 - five * x.2),
            s43 - four * s12,
            d43 + four * d12,
            d42 + two * d31,
            d42 - two * d31,
            x.5 + (four * x.1 - five * x.3))
}

/// Aᵀ x: the output transform of six values (a column of m, then a row of Aᵀ m): four.
@inline(__always)
private func winogradAT(_ x: Six) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
    let s12 = x.1 + x.2, d12 = x.1 - x.2, s34 = x.3 + x.4, d34 = x.3 - x.4
    return (x.0 + s12 + s34,
            d12 + SIMD8(repeating: 2) * d34,
            s12 + SIMD8(repeating: 4) * s34,
            x.5 + d12 + SIMD8(repeating: 8) * d34)
}

/// G x: the filter transform of three values (a column of g, then a row of G g): six.
@inline(__always)
private func winogradG(_ x0: Float, _ x1: Float, _ x2: Float) -> (Float, Float, Float, Float, Float, Float) {
    let even = x0 + x2, quarter = x0 / 24 + x2 / 6, odd = x1 / 12
    return (x0 / 4, -(even + x1) / 6, -(even - x1) / 6, quarter + odd, quarter - odd, x2)
}

// MARK: - Weights

/// U[e][K/4][C][4] = (G g Gᵀ)[e] for each filter g = weight[k][c] (3x3), split over the threads by filter.
func transformWinograd4x4Weights(_ weight: UnsafePointer<Float>, _ sh: ConvShape, into u: UnsafeMutablePointer<Float>) {
    let stride = Winograd4x4Layout(sh).weightStride
    Parallel.forEachPart(sh.k) { _, filters in
        for k in filters {
            for c in 0..<sh.c {
                let g = weight + (k * sh.c + c) * 9
                // G g, column by column (cj.i is row i, column j of it); then each of its six rows times Gᵀ.
                let c0 = winogradG(g[0], g[3], g[6]), c1 = winogradG(g[1], g[4], g[7]), c2 = winogradG(g[2], g[5], g[8])
                let out = u + ((k / 4) * sh.c + c) * 4 + k % 4
                @inline(__always) func row(_ i: Int, _ x0: Float, _ x1: Float, _ x2: Float) {
                    let r = winogradG(x0, x1, x2), o = out + 6 * i * stride
                    o[0] = r.0; o[stride] = r.1; o[2 * stride] = r.2; o[3 * stride] = r.3; o[4 * stride] = r.4; o[5 * stride] = r.5
                }
                row(0, c0.0, c1.0, c2.0)
                row(1, c0.1, c1.1, c2.1)
                row(2, c0.2, c1.2, c2.2)
                row(3, c0.3, c1.3, c2.3)
                row(4, c0.4, c1.4, c2.4)
                row(5, c0.5, c1.5, c2.5)
            }
        }
    }
}

// MARK: - Forward

/// Forward of work items `items` (`Winograd4x4Layout.items`) on one thread, with U already transformed.
/// columns: X then V, gathered: M, as `Winograd4x4Layout.scratch`.
func convForwardWinograd4x4(
    _ sh: ConvShape, items: Range<Int>, input: UnsafePointer<Float>, transformedWeights u: UnsafePointer<Float>,
    bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, columns: UnsafeMutablePointer<Float>,
    gathered: UnsafeMutablePointer<Float>, activation: ConvActivation, residual: UnsafePointer<Float>? = nil
) {
    let layout = Winograd4x4Layout(sh)
    let x = columns, v = columns + layout.planesFloats, m = gathered
    let rowFloats = layout.tiles * 8
    // The product is a 1x1 conv of V's "planes" (one per input channel, tiles*8 floats) on the direct kernel.
    let oneTap = DirectTaps(rows: [0], columns: [0])
    let sweep = DirectSweep(vectors: layout.tiles, rowVectors: layout.tiles, pitch: 0, channelStride: rowFloats)
    x.update(repeating: 0, count: layout.planesFloats)
    let outputPlane = m + 36 * layout.outputStride
    var transformed: Int? = nil  // the group whose V this thread holds
    for item in items {
        let (group, filters) = layout.item(item, sh)
        let first = group * 8, count = Swift.min(8, sh.n - first)
        if transformed != group {
            if count < 8 { x.update(repeating: 0, count: layout.planesFloats) }  // the missing images' lanes read as zeros
            for c in 0..<sh.c {
                interleave(lanes: count, rows: sh.h, columns: sh.w, { input + sh.inputPlane(first + $0, c) },
                           into: x + (c * layout.plane + layout.pitch + 1) * 8, pitch: layout.pitch)
            }
            transformInput(x, sh, layout, into: v)
            transformed = group
        }
        for e in 0..<36 {
            directConvPlanes(v + e * layout.inputStride, inChannels: sh.c, outChannels: filters.count, oneTap, sweep,
                             packed: u + e * layout.weightStride + filters.lowerBound * sh.c,
                             bias: nil, out: m + e * layout.outputStride + filters.lowerBound * rowFloats, outStride: rowFloats)
        }
        transformOutput(m, sh, layout, images: first..<first + count, filters: filters, bias: bias, activation: activation,
                        residual: residual, output: output, planes: outputPlane)
    }
}

/// V[e][c][tile] = (Bᵀ d B)[e] for every channel and tile of the group.
@inline(never)
private func transformInput(_ x: UnsafePointer<Float>, _ sh: ConvShape, _ layout: Winograd4x4Layout,
                            into v: UnsafeMutablePointer<Float>) {
    let pitch = layout.pitch, stride = layout.inputStride
    for c in 0..<sh.c {
        let plane = x + c * layout.plane * 8
        var tile = 0
        for th in 0..<layout.tilesH {
            for tw in 0..<layout.tilesW {
                let d = plane + (4 * th * pitch + 4 * tw) * 8
                @inline(__always) func column(_ j: Int) -> Six {
                    winogradBT((load8(d + j * 8), load8(d + (pitch + j) * 8), load8(d + (2 * pitch + j) * 8),
                                load8(d + (3 * pitch + j) * 8), load8(d + (4 * pitch + j) * 8), load8(d + (5 * pitch + j) * 8)))
                }
                // Bᵀ d column by column (t.j is column j of it), then each of its rows times B.
                let t0 = column(0), t1 = column(1), t2 = column(2), t3 = column(3), t4 = column(4), t5 = column(5)
                let out = v + (c * layout.tiles + tile) * 8
                @inline(__always) func row(_ i: Int, _ r: Six) {
                    let b = winogradBT(r), o = out + 6 * i * stride
                    store8(o, b.0); store8(o + stride, b.1); store8(o + 2 * stride, b.2)
                    store8(o + 3 * stride, b.3); store8(o + 4 * stride, b.4); store8(o + 5 * stride, b.5)
                }
                row(0, (t0.0, t1.0, t2.0, t3.0, t4.0, t5.0))
                row(1, (t0.1, t1.1, t2.1, t3.1, t4.1, t5.1))
                row(2, (t0.2, t1.2, t2.2, t3.2, t4.2, t5.2))
                row(3, (t0.3, t1.3, t2.3, t3.3, t4.3, t5.3))
                row(4, (t0.4, t1.4, t2.4, t3.4, t4.4, t5.4))
                row(5, (t0.5, t1.5, t2.5, t3.5, t4.5, t5.5))
                tile += 1
            }
        }
    }
}

/// output[image][k] = activation(Aᵀ m A + bias[k]) tile by tile, m the 36 vectors M[e][k][tile] (lane i: image i).
/// Each filter's tiles go to `planes` first, one interleaved plane [4*tilesH][4*tilesW][8] as X's, and from
/// there to the images' planes, cut at the right and bottom edges: reading a tile's lanes back right after
/// its vector stores stalled on store forwarding (this function was a fifth of a ResNet inference's cycles).
@inline(never)
private func transformOutput(
    _ m: UnsafePointer<Float>, _ sh: ConvShape, _ layout: Winograd4x4Layout, images: Range<Int>, filters: Range<Int>,
    bias: UnsafePointer<Float>?, activation: ConvActivation, residual: UnsafePointer<Float>?,
    output: UnsafeMutablePointer<Float>, planes: UnsafeMutablePointer<Float>
) {
    // Pixels per row of the interleaved output plane (X's pitch less its border).
    let stride = layout.outputStride, outputPitch = 4 * layout.tilesW
    for k in filters {
        var index = 0
        for th in 0..<layout.tilesH {
            for tw in 0..<layout.tilesW {
                let src = m + (k * layout.tiles + index) * 8
                @inline(__always) func column(_ j: Int) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
                    winogradAT((load8(src + j * stride), load8(src + (6 + j) * stride), load8(src + (12 + j) * stride),
                                load8(src + (18 + j) * stride), load8(src + (24 + j) * stride), load8(src + (30 + j) * stride)))
                }
                // Aᵀ m column by column (t.j is column j of it), then each of its four rows times A.
                let t0 = column(0), t1 = column(1), t2 = column(2), t3 = column(3), t4 = column(4), t5 = column(5)
                let corner = planes + (4 * th * outputPitch + 4 * tw) * 8
                @inline(__always) func row(_ a: Int, _ r: Six) {
                    let y = winogradAT(r), o = corner + a * outputPitch * 8
                    store8(o, y.0); store8(o + 8, y.1); store8(o + 16, y.2); store8(o + 24, y.3)
                }
                row(0, (t0.0, t1.0, t2.0, t3.0, t4.0, t5.0))
                row(1, (t0.1, t1.1, t2.1, t3.1, t4.1, t5.1))
                row(2, (t0.2, t1.2, t2.2, t3.2, t4.2, t5.2))
                row(3, (t0.3, t1.3, t2.3, t3.3, t4.3, t5.3))
                index += 1
            }
        }
        // A residual is laid out as the output: then the lanes take only the bias, and the sum and activation go
        // on each image's plane once it is written.
        (residual == nil ? activation : .none).addBias(bias?[k] ?? 0, to: planes, count: layout.tiles * 16 * 8)
        deinterleave(planes, pitch: outputPitch, lanes: images.count, rows: sh.p, columns: sh.q) {
            output + sh.outputPlane(images.lowerBound + $0, k)
        }
        if let residual {
            for n in images {
                activation.addBias(0, to: output + sh.outputPlane(n, k), adding: residual + sh.outputPlane(n, k), count: sh.outPlane)
            }
        }
    }
}
