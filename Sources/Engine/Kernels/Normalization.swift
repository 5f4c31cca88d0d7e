// Batch normalisation kernels over NCHW, as PyTorch's `batch_norm` on the CPU.
// N batch, C channels, S = H*W positions per channel plane; each channel c normalises its M = N*S values
// x[n, c, s] (at offset (n*C + c)*S + s) together. mean/rstd are [C]; rstd = 1/sqrt(var + eps).
// Sums run in Double: a channel of a 128x32x32 batch has 131k values, too many for float accumulation.

/// Training forward: per-channel batch mean and biased variance normalise x; y = xhat * weight + bias.
/// Writes `mean` and `rstd` for backward and `unbiasedVar` (var * M/(M-1)) for the running-statistics update.
func batchNormForwardTraining(
    y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
    unbiasedVar: UnsafeMutablePointer<Float>,
    x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
    N: Int, C: Int, S: Int, eps: Float, relu: Bool = false
) {
    let M = N * S
    Parallel.forEachPart(C) { _, channels in
        for c in channels {
            // Each plane's S values are summed in float (eight lanes), the planes in Double.
            var sum = 0.0
            for n in 0..<N { sum += Double(sumOf(x + (n * C + c) * S, count: S)) }
            let m = sum / Double(M)
            var squares = 0.0
            for n in 0..<N { squares += Double(sumOfSquaredDeviations(x + (n * C + c) * S, from: Float(m), count: S)) }
            let variance = squares / Double(M)
            let r = Float(1 / (variance + Double(eps)).squareRoot())
            mean[c] = Float(m)
            rstd[c] = r
            unbiasedVar[c] = Float(squares / Double(M - 1))
            let meanF = Float(m), w = weight[c], b = bias[c]
            for n in 0..<N {
                let xp = x + (n * C + c) * S, yp = y + (n * C + c) * S
                for s in 0..<S { yp[s] = (xp[s] - meanF) * r * w + b }
                if relu { for s in 0..<S { yp[s] = yp[s] > 0 ? yp[s] : 0 } }
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
    Parallel.forEachPart(C) { _, channels in
        for c in channels {
            let m = runningMean[c], r = 1 / (runningVar[c] + eps).squareRoot()
            mean[c] = m
            rstd[c] = r
            let w = weight[c], b = bias[c]
            for n in 0..<N {
                let xp = x + (n * C + c) * S, yp = y + (n * C + c) * S
                for s in 0..<S { yp[s] = (xp[s] - m) * r * w + b }
                if relu { for s in 0..<S { yp[s] = yp[s] > 0 ? yp[s] : 0 } }
            }
        }
    }
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
func batchNormBackward(
    dx: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>,
    dy: UnsafePointer<Float>, x: UnsafePointer<Float>, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
    weight: UnsafePointer<Float>, N: Int, C: Int, S: Int, batchStatistics: Bool
) {
    let M = N * S
    Parallel.forEachPart(C) { _, channels in
        for c in channels {
            let m = mean[c], r = rstd[c]
            // sum(dy * xhat) = r * sum(dy * (x - m)); planes summed in float (eight lanes), then in Double.
            var sumDy = 0.0, sumDyCentered = 0.0
            for n in 0..<N {
                let xp = x + (n * C + c) * S, dyp = dy + (n * C + c) * S
                sumDy += Double(sumOf(dyp, count: S))
                sumDyCentered += Double(centeredDotProduct(dyp, xp, center: m, count: S))
            }
            let sumDyXhat = sumDyCentered * Double(r)
            dBias[c] += Float(sumDy)
            dWeight[c] += Float(sumDyXhat)
            let scale = weight[c] * r
            let meanDy = batchStatistics ? Float(sumDy / Double(M)) : 0
            let meanDyXhat = batchStatistics ? Float(sumDyXhat / Double(M)) : 0
            for n in 0..<N {
                let xp = x + (n * C + c) * S, dyp = dy + (n * C + c) * S, dxp = dx + (n * C + c) * S
                for s in 0..<S {
                    let xhat = (xp[s] - m) * r
                    dxp[s] = scale * (dyp[s] - meanDy - xhat * meanDyXhat)
                }
            }
        }
    }
}

/// sum((x[i] - center)^2) over count floats, with eight partial sums.
@inline(__always)
func sumOfSquaredDeviations(_ x: UnsafePointer<Float>, from center: Float, count: Int) -> Float {
    var acc = SIMD8<Float>()
    let c = SIMD8<Float>(repeating: center)
    var i = 0
    while i + 8 <= count {
        let d = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) - c
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
        let va = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
        let vb = UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
        acc = acc + va * (vb - c)
        i += 8
    }
    var sum = acc.sum()
    while i < count {
        sum += a[i] * (b[i] - center)
        i += 1
    }
    return sum
}
