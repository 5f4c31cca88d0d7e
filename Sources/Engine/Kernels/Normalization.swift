// Batch normalisation kernels over NCHW, as PyTorch's `batch_norm` on the CPU.
// N batch, C channels, S = H*W positions per channel plane; each channel c normalises its M = N*S values
// x[n, c, s] (at offset (n*C + c)*S + s) together. mean/rstd are [C]; rstd = 1/sqrt(var + eps).
// Sums run in Double: a channel of a 128x32x32 batch has 131k values, too many for float accumulation.

/// Two per-channel sums over the batch: out[c] and out[C + c] add the two lanes of planeSums(n, c) over
/// n, in Double. The images split over the threads, each streaming through its own contiguous run of
/// planes into a row of partials (walking one channel through every image instead touches a few hundred
/// scattered bytes per plane on small maps); the rows are then added in order.
@inline(__always)
private func sumOverImages(N: Int, C: Int, into out: UnsafeMutablePointer<Double>,
                           _ planeSums: (_ n: Int, _ c: Int) -> SIMD2<Float>) {
    let parts = Parallel.parts(N)
    withUnsafeTemporaryAllocation(of: Double.self, capacity: parts * 2 * C) { scratch in
        guard let partials = scratch.baseAddress else { return }
        partials.initialize(repeating: 0, count: parts * 2 * C)
        Parallel.forEachPart(N) { part, images in
            let row = partials + part * 2 * C
            for n in images {
                for c in 0..<C {
                    let sums = planeSums(n, c)
                    row[c] += Double(sums[0])
                    row[C + c] += Double(sums[1])
                }
            }
        }
        out.initialize(repeating: 0, count: 2 * C)
        for part in 0..<parts {
            for i in 0..<2 * C { out[i] += partials[part * 2 * C + i] }
        }
    }
}

/// Training forward: per-channel batch mean and biased variance normalise x; y = xhat * weight + bias.
/// Writes `mean` and `rstd` for backward and `unbiasedVar` (var * M/(M-1)) for the running-statistics update.
func batchNormForwardTraining(
    y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
    unbiasedVar: UnsafeMutablePointer<Float>,
    x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
    N: Int, C: Int, S: Int, eps: Float, relu: Bool = false
) {
    let M = Double(N * S)
    withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * C) { scratch in
        guard let sums = scratch.baseAddress else { return }
        // The mean first, then the squared deviations from it (two passes: no cancellation).
        sumOverImages(N: N, C: C, into: sums) { n, c in SIMD2(sumOf(x + planeOffset(n, c, channels: C, plane: S), count: S), 0) }
        for c in 0..<C { mean[c] = Float(sums[c] / M) }
        sumOverImages(N: N, C: C, into: sums) { n, c in
            SIMD2(sumOfSquaredDeviations(x + planeOffset(n, c, channels: C, plane: S), from: mean[c], count: S), 0)
        }
        for c in 0..<C {
            let variance = sums[c] / M
            rstd[c] = Float(1 / (variance + Double(eps)).squareRoot())
            unbiasedVar[c] = Float(sums[c] / (M - 1))
        }
    }
    normalizeImages(y: y, x: x, mean: mean, rstd: rstd, weight: weight, bias: bias, N: N, C: C, S: S, relu: relu)
}

/// y = (x - mean[c]) * rstd[c] * weight[c] + bias[c], rectified when `relu`; the images split over the threads.
private func normalizeImages(
    y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
    weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, N: Int, C: Int, S: Int, relu: Bool
) {
    Parallel.forEachPart(N) { _, images in
        for n in images {
            for c in 0..<C {
                let offset = planeOffset(n, c, channels: C, plane: S)
                let xp = x + offset, yp = y + offset
                let m = mean[c], scale = rstd[c] * weight[c], b = bias[c]
                if relu {
                    for s in 0..<S {
                        let v = (xp[s] - m) * scale + b
                        yp[s] = v > 0 ? v : 0
                    }
                } else {
                    for s in 0..<S { yp[s] = (xp[s] - m) * scale + b }
                }
            }
        }
    }
}

/// Eval forward: normalise with the running statistics; writes the `mean` and `rstd` it used for backward.
func batchNormForwardEval(
    y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
    x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
    runningMean: UnsafePointer<Float>, runningVar: UnsafePointer<Float>,
    N: Int, C: Int, S: Int, eps: Float, relu: Bool = false
) {
    for c in 0..<C {
        mean[c] = runningMean[c]
        rstd[c] = 1 / (runningVar[c] + eps).squareRoot()
    }
    normalizeImages(y: y, x: x, mean: mean, rstd: rstd, weight: weight, bias: bias, N: N, C: C, S: S, relu: relu)
}

/// running = (1 - momentum) * running + momentum * batch, for mean and (unbiased) variance.
func batchNormUpdateRunningStatistics(
    runningMean: UnsafeMutablePointer<Float>, runningVar: UnsafeMutablePointer<Float>,
    mean: UnsafePointer<Float>, unbiasedVar: UnsafePointer<Float>, C: Int, momentum: Float
) {
    for c in 0..<C {
        runningMean[c] = (1 - momentum) * runningMean[c] + momentum * mean[c]
        runningVar[c] = (1 - momentum) * runningVar[c] + momentum * unbiasedVar[c]
    }
}

/// Backward from dy; *accumulates* into dWeight and dBias [C] and overwrites dx (dx may be dy itself:
/// each element of dy is read before the same element of dx is written).
/// With batch statistics the mean and variance depend on x, which gives the full formula
/// dx = weight * rstd * (dy - mean(dy) - xhat * mean(dy * xhat)); with running statistics (eval)
/// they are constants and dx = dy * weight * rstd.
/// With `reluBias` (the forward's bias, when it applied a fused ReLU) dy is first taken through that ReLU's
/// backward, dy where the output was positive and 0 elsewhere, as each value is read: the same numbers as
/// `reluBackward` into a buffer, without writing and reading that buffer. Where the output was positive is
/// recomputed from x, which this pass reads anyway, by the forward's own expression (same bits): reading the
/// output instead was two of the seven passes over [N, C, S] arrays that a backward makes.
func batchNormBackward(
    dx: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>,
    dy: UnsafePointer<Float>, reluBias: UnsafePointer<Float>? = nil, x: UnsafePointer<Float>,
    mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, weight: UnsafePointer<Float>, N: Int, C: Int, S: Int,
    batchStatistics: Bool
) {
    let M = Double(N * S)
    // Per channel: dx = scale * dy - shift - slope * (x - mean), from sum(dy) and sum(dy * (x - mean)),
    // both taken in one pass; sum(dy * xhat) = rstd * sum(dy * (x - mean)).
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 3 * C) { coefficients in
        guard let scale = coefficients.baseAddress else { return }
        let shift = scale + C, slope = shift + C
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * C) { scratch in
            guard let sums = scratch.baseAddress else { return }
            sumOverImages(N: N, C: C, into: sums) { n, c in
                let offset = planeOffset(n, c, channels: C, plane: S)
                if let reluBias {
                    return rectifiedSums(dy + offset, x + offset, center: mean[c],
                                         normalization: (rstd[c] * weight[c], reluBias[c]), count: S)
                }
                return SIMD2(sumOf(dy + offset, count: S), centeredDotProduct(dy + offset, x + offset, center: mean[c], count: S))
            }
            for c in 0..<C {
                let r = rstd[c], sumDy = sums[c], sumDyXhat = sums[C + c] * Double(r)
                dBias[c] += Float(sumDy)
                dWeight[c] += Float(sumDyXhat)
                scale[c] = weight[c] * r
                shift[c] = batchStatistics ? scale[c] * Float(sumDy / M) : 0
                slope[c] = batchStatistics ? scale[c] * r * Float(sumDyXhat / M) : 0
            }
        }
        Parallel.forEachPart(N) { _, images in
            for n in images {
                for c in 0..<C {
                    let offset = planeOffset(n, c, channels: C, plane: S)
                    let xp = x + offset, dyp = dy + offset, dxp = dx + offset
                    let m = mean[c], a = scale[c], b = shift[c], k = slope[c]
                    if let reluBias {
                        // The forward's y = (x - mean) * (rstd * weight) + bias, before its ReLU.
                        let forwardScale = rstd[c] * weight[c], forwardBias = reluBias[c]
                        for s in 0..<S {
                            let g = (xp[s] - m) * forwardScale + forwardBias > 0 ? dyp[s] : 0
                            dxp[s] = a * g - b - k * (xp[s] - m)
                        }
                    } else {
                        for s in 0..<S { dxp[s] = a * dyp[s] - b - k * (xp[s] - m) }
                    }
                }
            }
        }
    }
}

/// (sum(g[i]), sum(g[i] * (b[i] - center))) with g[i] = a[i] where (b[i] - center) * scale + shift > 0 (the
/// forward's normalised value before its ReLU, `normalization` = (scale, shift)) and 0 elsewhere, in the lanes
/// and order of `sumOf` and `centeredDotProduct` (so the same bits as those two over a rectified copy of a).
@inline(__always)
func rectifiedSums(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, center: Float,
                   normalization: (scale: Float, shift: Float), count: Int) -> SIMD2<Float> {
    var sumG = SIMD8<Float>(), sumGB = SIMD8<Float>()
    let c = SIMD8<Float>(repeating: center), zero = SIMD8<Float>()
    let scale = SIMD8<Float>(repeating: normalization.scale), shift = SIMD8<Float>(repeating: normalization.shift)
    var i = 0
    while i + 8 <= count {
        let centered = load8(b + i) - c
        let g = zero.replacing(with: load8(a + i), where: centered * scale + shift .> zero)
        sumG = sumG + g
        sumGB = sumGB + g * centered
        i += 8
    }
    var sums = SIMD2(sumG.sum(), sumGB.sum())
    while i < count {
        let centered = b[i] - center
        let g: Float = centered * normalization.scale + normalization.shift > 0 ? a[i] : 0
        sums[0] += g
        sums[1] += g * centered
        i += 1
    }
    return sums
}

/// sum((x[i] - center)^2) over count floats, with eight partial sums.
@inline(__always)
func sumOfSquaredDeviations(_ x: UnsafePointer<Float>, from center: Float, count: Int) -> Float {
    var acc = SIMD8<Float>()
    let c = SIMD8<Float>(repeating: center)
    var i = 0
    while i + 8 <= count {
        let d = load8(x + i) - c
        acc = acc + d * d
        i += 8
    }
    var sum = acc.sum()
    while i < count {
        let d = x[i] - center
        sum += d * d
        i += 1
    }
    return sum
}

/// sum(a[i] * (b[i] - center)) over count floats, with eight partial sums.
@inline(__always)
func centeredDotProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, center: Float, count: Int) -> Float {
    var acc = SIMD8<Float>()
    let c = SIMD8<Float>(repeating: center)
    var i = 0
    while i + 8 <= count {
        acc = acc + load8(a + i) * (load8(b + i) - c)
        i += 8
    }
    var sum = acc.sum()
    while i < count {
        sum += a[i] * (b[i] - center)
        i += 1
    }
    return sum
}
