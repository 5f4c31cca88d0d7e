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
                           _ planeSums: (_ n: Int, _ c: Int) -> SIMD2<Double>) {
    let parts = Parallel.parts(N)
    withUnsafeTemporaryAllocation(of: Double.self, capacity: parts * 2 * C) { scratch in
        guard let partials = scratch.baseAddress else { return }
        partials.initialize(repeating: 0, count: parts * 2 * C)
        Parallel.forEachPart(N) { part, images in
            let row = partials + part * 2 * C
            for n in images {
                for c in 0..<C {
                    let sums = planeSums(n, c)
                    row[c] += sums[0]
                    row[C + c] += sums[1]
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
        // One read of x from memory: each plane's sum, then its deviations from its own mean while the plane
        // is still in L1 (a pass for the mean and one for the deviations from it took two reads on activations
        // larger than the caches). With d = x - planeMean, a plane's sum is S * planeMean + sum(d) (sum(d) puts
        // back what the float sum rounded away) and its M2 is sum(d^2) - sum(d)^2 / S; its sum of squares is
        // M2 + sum^2 / S, and the channel's M2 is its planes' sums of squares less sum^2 / M, in Double (Chan
        // et al.'s combination of plane statistics: no float sum is taken around a large mean).
        sumOverImages(N: N, C: C, into: sums) { n, c in
            let plane = x + planeOffset(n, c, channels: C, plane: S)
            let planeMean = sumOf(plane, count: S) / Float(S)
            let deviations = deviationSums(plane, from: planeMean, count: S)
            let sum = Double(S) * Double(planeMean) + Double(deviations[0])
            let m2 = Double(deviations[1]) - Double(deviations[0]) * Double(deviations[0]) / Double(S)
            return SIMD2(sum, m2 + sum * sum / Double(S))
        }
        for c in 0..<C {
            let channelMean = sums[c] / M
            let squaredDeviations = Swift.max(0, sums[C + c] - sums[c] * channelMean)
            mean[c] = Float(channelMean)
            rstd[c] = Float(1 / (squaredDeviations / M + Double(eps)).squareRoot())
            unbiasedVar[c] = Float(squaredDeviations / (M - 1))
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
                    let sums = rectifiedSums(dy + offset, x + offset, center: mean[c],
                                             normalization: (rstd[c] * weight[c], reluBias[c]), count: S)
                    return SIMD2(Double(sums[0]), Double(sums[1]))
                }
                return SIMD2(Double(sumOf(dy + offset, count: S)),
                             Double(centeredDotProduct(dy + offset, x + offset, center: mean[c], count: S)))
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
                        // The forward's y = (x - mean) * (rstd * weight) + bias before its ReLU: a is that scale.
                        let forwardBias = reluBias[c]
                        for s in 0..<S {
                            let g = (xp[s] - m) * a + forwardBias > 0 ? dyp[s] : 0
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

/// (sum(x[i] - center), sum((x[i] - center)^2)) over count floats, with eight partial sums each.
@inline(__always)
func deviationSums(_ x: UnsafePointer<Float>, from center: Float, count: Int) -> SIMD2<Float> {
    var sum = SIMD8<Float>(), squares = SIMD8<Float>()
    let c = SIMD8<Float>(repeating: center)
    var i = 0
    while i + 8 <= count {
        let d = load8(x + i) - c
        sum = sum + d
        squares = squares + d * d
        i += 8
    }
    var sums = SIMD2(sum.sum(), squares.sum())
    while i < count {
        let d = x[i] - center
        sums[0] += d
        sums[1] += d * d
        i += 1
    }
    return sums
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
