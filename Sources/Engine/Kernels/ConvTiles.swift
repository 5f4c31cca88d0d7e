/// Convolution by tiles of output rows: for each image, a few output rows at a time (about
/// `convTileColumns` pixels) are unfolded into a small column tile [C*R*S, T] that stays in cache, and
/// multiplied at once. One big im2col matrix per image would be written to memory, then read back by
/// OpenBLAS's packing; with 16-64 channels that traffic, not the arithmetic, was the cost (the GEMMs ran
/// at 30-50 GFLOP/s on a whole 32x32 image against 60-90 on 64-column tiles).
///
/// `ConvPath` takes this path for spatial convs with at most 64x3x3 patch rows on output planes of at least
/// half a tile that neither Winograd nor the direct kernel takes (at 32x32: ResNet's 3-channel stem in training).
///
/// Shapes as in Convolution.swift: input [N, C, H, W], weight [K, Cg, R, S], output [N, K, P, Q].
/// A tile holds output rows p0 ..< p0+rows of one image (unfolded by Convolution.swift's `im2col(rows:)`);
/// T = rows*Q; the GEMM writes straight into the NCHW output at column p0*Q (ldc = P*Q), so nothing is
/// gathered or scattered.

/// Output pixels per tile, before rounding to whole output rows.
let convTileColumns = 128

/// Output rows per tile: whole rows, about `convTileColumns` pixels, at least one row.
func convTileRows(_ sh: ConvShape) -> Int { Swift.max(1, Swift.min(sh.p, convTileColumns / Swift.max(1, sh.q))) }

/// Floats of one column tile: [C*R*S, rows*Q].
func convTileFloats(_ sh: ConvShape) -> Int { sh.c * sh.r * sh.s * convTileRows(sh) * sh.q }

/// Floats of a tile and what follows it in scratch: a strided conv's image, split into its stride phases
/// (`StridePhases`), which each tile is unfolded from.
func convTileScratchFloats(_ sh: ConvShape) -> Int { convTileFloats(sh) + StridePhases.floats(sh) }

/// Forward of the images in `images` on one thread, tile by tile; tile holds `convTileScratchFloats(sh)` floats.
func convForwardTiles(
    _ sh: ConvShape, images: Range<Int>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, tile: UnsafeMutablePointer<Float>,
    activation: ConvActivation = .none
) {
    let pq = sh.outPlane, tileRows = convTileRows(sh)
    let phased = StridePhases.apply(sh), phases = tile + convTileFloats(sh)
    for n in images {
        let image = input + n * sh.c * sh.inPlane, out = output + n * sh.k * pq
        if phased { StridePhases.split(image, sh, into: phases) }
        var p0 = 0
        while p0 < sh.p {
            let rows = Swift.min(tileRows, sh.p - p0), width = rows * sh.q
            if phased {
                StridePhases.unfold(phases, sh, slot: 0, images: 1, rows: p0..<p0 + rows, into: tile)
            } else {
                im2col(image, images: 1, rows: p0..<p0 + rows, sh, tile)
            }
            // out_g[Kg, width] (columns p0*Q ..< p0*Q+width of the image's [K, PQ]) = W_g[Kg, Cg*R*S] * tile_g
            for g in 0..<sh.groups {
                BLAS.sgemm(transA: false, transB: false, m: sh.kg, n: width, k: sh.patch,
                           a: weight + g * sh.kg * sh.patch, lda: sh.patch,
                           b: tile + g * sh.patch * width, ldb: width,
                           beta: 0, c: out + g * sh.kg * pq + p0 * sh.q, ldc: pq)
            }
            p0 += rows
        }
        // The bias and activation while the image's output is still in cache.
        if bias != nil || activation != .none {
            for k in 0..<sh.k { activation.addBias(bias?[k] ?? 0, to: out + k * pq, count: pq) }
        }
    }
}

/// Backward of the images in `images` on one thread, tile by tile: gradInput overwritten (nil: the weight
/// gradient alone), gradWeight accumulated into. tile and gradTile hold `convTileScratchFloats(sh)` floats each
/// (the input's stride phases after the one, their gradient after the other).
func convBackwardTiles(
    _ sh: ConvShape, images: Range<Int>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>?, gradWeight: UnsafeMutablePointer<Float>,
    tile: UnsafeMutablePointer<Float>, gradTile: UnsafeMutablePointer<Float>
) {
    let pq = sh.outPlane, tileRows = convTileRows(sh)
    let phased = StridePhases.apply(sh), phases = tile + convTileFloats(sh), gradPhases = gradTile + convTileFloats(sh)
    for n in images {
        let image = input + n * sh.c * sh.inPlane, gradImage = gradInput.map { $0 + n * sh.c * sh.inPlane }
        let dOut = gradOutput + n * sh.k * pq
        if phased { StridePhases.split(image, sh, into: phases) }
        if let gradImage {
            if phased {
                gradPhases.update(repeating: 0, count: StridePhases.floats(sh))
            } else {
                gradImage.update(repeating: 0, count: sh.c * sh.inPlane)
            }
        }
        var p0 = 0
        while p0 < sh.p {
            let rows = Swift.min(tileRows, sh.p - p0), width = rows * sh.q
            if phased {
                StridePhases.unfold(phases, sh, slot: 0, images: 1, rows: p0..<p0 + rows, into: tile)
            } else {
                im2col(image, images: 1, rows: p0..<p0 + rows, sh, tile)
            }
            for g in 0..<sh.groups {
                let dOutG = dOut + g * sh.kg * pq + p0 * sh.q
                // dW_g[Kg, Cg*R*S] += dOut_g[Kg, width] * tile_g[Cg*R*S, width]^T
                BLAS.sgemm(transA: false, transB: true, m: sh.kg, n: sh.patch, k: width,
                           a: dOutG, lda: pq, b: tile + g * sh.patch * width, ldb: width,
                           beta: 1, c: gradWeight + g * sh.kg * sh.patch, ldc: sh.patch)
                guard gradImage != nil else { continue }
                // dTile_g[Cg*R*S, width] = W_g[Kg, Cg*R*S]^T * dOut_g[Kg, width]
                BLAS.sgemm(transA: true, transB: false, m: sh.patch, n: width, k: sh.kg,
                           a: weight + g * sh.kg * sh.patch, lda: sh.patch, b: dOutG, ldb: pq,
                           beta: 0, c: gradTile + g * sh.patch * width, ldc: width)
            }
            if let gradImage {
                if phased {
                    StridePhases.fold(gradTile, sh, slot: 0, images: 1, rows: p0..<p0 + rows, into: gradPhases)
                } else {
                    col2im(gradTile, images: 1, rows: p0..<p0 + rows, sh, gradImage)
                }
            }
            p0 += rows
        }
        if phased, let gradImage { StridePhases.merge(gradPhases, sh, into: gradImage) }
    }
}
