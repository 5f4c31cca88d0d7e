import Foundation

// Elementwise kernels over n values of any shape: activations, their derivatives, masks and sums.
// Backward kernels overwrite dx; dy, x, y have n values each.

/// Elements below which a kernel stays on one thread (waking another costs more than it saves).
let elementwiseGrain = 16_384

// MARK: - ReLU: y = max(x, 0); dx = dy where x > 0 (PyTorch's threshold_backward: 0 at x == 0).

func reluForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, n: Int) {
    Parallel.forEachPart(n, minimum: elementwiseGrain) { _, range in
        for i in range { y[i] = x[i] > 0 ? x[i] : 0 }
    }
}

func reluBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, x: UnsafePointer<Float>, n: Int) {
    // Eight lanes at a time with a blend: a branch on the sign of x mispredicts half the time
    // (25x slower on a 1M-element map).
    Parallel.forEachPart(n, minimum: elementwiseGrain) { _, range in
        let zero = SIMD8<Float>()
        var i = range.lowerBound
        while i + 8 <= range.upperBound {
            let vx = load8(x + i), vdy = load8(dy + i)
            store8(dx + i, zero.replacing(with: vdy, where: vx .> zero))
            i += 8
        }
        while i < range.upperBound {
            dx[i] = x[i] > 0 ? dy[i] : 0
            i += 1
        }
    }
}

// MARK: - ReLU6: y = min(max(x, 0), 6); dx = dy where 0 < x < 6 (PyTorch's hardtanh_backward: 0 at both kinks).

func relu6Forward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, n: Int) {
    Parallel.forEachPart(n, minimum: elementwiseGrain) { _, range in
        for i in range { y[i] = min(max(x[i], 0), 6) }
    }
}

func relu6Backward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, x: UnsafePointer<Float>, n: Int) {
    Parallel.forEachPart(n, minimum: elementwiseGrain) { _, range in
        for i in range { dx[i] = x[i] > 0 && x[i] < 6 ? dy[i] : 0 }
    }
}

// MARK: - Sigmoid: y = 1 / (1 + e^-x); dx = dy * y * (1 - y), from the saved output.

/// Written so that exp never overflows: with e = e^-|x|, 1 / (1 + e) for x >= 0, else e / (1 + e).
/// Both sides are computed and one is selected, so the sign of x costs no mispredicted branch.
@inline(__always)
func sigmoid(_ x: Float) -> Float {
    let e = exp(-abs(x))
    let r = 1 / (1 + e)
    return x >= 0 ? r : e * r
}

/// `sigmoid` on eight lanes, with `exp8` (within 2 ulp of exp) for e^-|x|. A scalar exp per value was a
/// fifth of an EfficientNetV2 inference step (its SiLUs and squeeze-excite gates).
@inline(__always)
func sigmoid8(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let zero = SIMD8<Float>()
    let e = exp8(x.replacing(with: -x, where: x .> zero))
    let r = 1 / (1 + e)
    return (e * r).replacing(with: r, where: x .>= zero)
}

/// e^x on eight lanes, for x <= 0 (sigmoid's e^-|x|): x = n ln2 + r with |r| <= ln2 / 2, e^r by Cephes'
/// degree-6 polynomial, 2^n put straight into the exponent bits. Below -87, where e^x turns subnormal,
/// the result is 0.
@inline(__always)
func exp8(_ input: SIMD8<Float>) -> SIMD8<Float> {
    let low = SIMD8<Float>(repeating: -87), underflows = input .< low
    let x = input.replacing(with: low, where: underflows)
    // Adding 1.5 * 2^23 rounds x / ln2 to the nearest integer n, which then sits in the mantissa's low bits.
    let shifter = SIMD8<Float>(repeating: 12_582_912)
    let t = x * SIMD8(repeating: 1.442_695_04) + shifter
    let n = t - shifter
    let r = x - n * SIMD8(repeating: 0.693_359_375) - n * SIMD8(repeating: -2.121_944_4e-4)
    var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
    p = p * r + SIMD8(repeating: 1.398_199_95e-3)
    p = p * r + SIMD8(repeating: 8.333_451_9e-3)
    p = p * r + SIMD8(repeating: 4.166_579_59e-2)
    p = p * r + SIMD8(repeating: 1.666_666_55e-1)
    p = p * r + SIMD8(repeating: 5.000_000_12e-1)
    let er = p * r * r + r + 1
    let bits = unsafeBitCast(t, to: SIMD8<Int32>.self) &- unsafeBitCast(shifter, to: SIMD8<Int32>.self)
    return (er * unsafeBitCast((bits &+ 127) &<< 23, to: SIMD8<Float>.self)).replacing(with: 0, where: underflows)
}

/// y = f(x) over `range`, eight lanes at a time with `f8` and the tail with `f`.
@inline(__always)
private func map8(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ range: Range<Int>,
                  _ f8: (SIMD8<Float>) -> SIMD8<Float>, _ f: (Float) -> Float) {
    var i = range.lowerBound
    while i + 8 <= range.upperBound {
        store8(y + i, f8(load8(x + i)))
        i += 8
    }
    while i < range.upperBound {
        y[i] = f(x[i])
        i += 1
    }
}

func sigmoidForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, n: Int) {
    Parallel.forEachPart(n, minimum: elementwiseGrain) { _, range in
        map8(y, x, range, sigmoid8, sigmoid)
    }
}

func sigmoidBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, y: UnsafePointer<Float>, n: Int) {
    Parallel.forEachPart(n, minimum: elementwiseGrain) { _, range in
        for i in range { dx[i] = dy[i] * y[i] * (1 - y[i]) }
    }
}

// MARK: - SiLU (Swish): y = x * sigmoid(x); dx = dy * s * (1 + x * (1 - s)), s = sigmoid(x), from the saved input.

@inline(__always)
func silu8(_ x: SIMD8<Float>) -> SIMD8<Float> { x * sigmoid8(x) }

func siluForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, n: Int) {
    Parallel.forEachPart(n, minimum: elementwiseGrain) { _, range in
        map8(y, x, range, silu8) { $0 * sigmoid($0) }
    }
}

func siluBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, x: UnsafePointer<Float>, n: Int) {
    Parallel.forEachPart(n, minimum: elementwiseGrain) { _, range in
        let one = SIMD8<Float>(repeating: 1)
        var i = range.lowerBound
        while i + 8 <= range.upperBound {
            let vx = load8(x + i), s = sigmoid8(vx)
            store8(dx + i, load8(dy + i) * s * (one + vx * (one - s)))
            i += 8
        }
        while i < range.upperBound {
            let s = sigmoid(x[i])
            dx[i] = dy[i] * s * (1 + x[i] * (1 - s))
            i += 1
        }
    }
}

// MARK: - Sums and products

/// y = a + b.
func add(y: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, n: Int) {
    Parallel.forEachPart(n, minimum: elementwiseGrain) { _, range in
        for i in range { y[i] = a[i] + b[i] }
    }
}

/// y = max(a + b, 0): a residual sum and the ReLU after it in one pass.
func addReLU(y: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, n: Int) {
    Parallel.forEachPart(n, minimum: elementwiseGrain) { _, range in
        let zero = SIMD8<Float>()
        var i = range.lowerBound
        while i + 8 <= range.upperBound {
            let v = load8(a + i) + load8(b + i)
            store8(y + i, v.replacing(with: zero, where: .!(v .> zero)))
            i += 8
        }
        while i < range.upperBound {
            let v = a[i] + b[i]
            y[i] = v > 0 ? v : 0
            i += 1
        }
    }
}

/// y += x.
func accumulate(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, n: Int) {
    Parallel.forEachPart(n, minimum: elementwiseGrain) { _, range in
        for i in range { y[i] += x[i] }
    }
}

/// y = x * mask (dropout forward and, with dy for x, its backward).
func multiply(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, mask: UnsafePointer<Float>, n: Int) {
    Parallel.forEachPart(n, minimum: elementwiseGrain) { _, range in
        for i in range { y[i] = x[i] * mask[i] }
    }
}

/// Per-row scale over [N, D]: y[n, :] = x[n, :] * scale[n] (drop-path per sample, squeeze-excite per
/// channel plane); the rows split over the threads in runs of at least `elementwiseGrain` floats.
func scaleRows(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, scale: UnsafePointer<Float>, N: Int, D: Int) {
    Parallel.forEachPart(N, minimum: rowsPerPart(D)) { _, rows in
        for n in rows {
            let s = scale[n], xp = x + n * D, yp = y + n * D
            for i in 0..<D { yp[i] = xp[i] * s }
        }
    }
}

/// y[n, i] = activation(x[n, i] * scale[n] + residual[n, i]): squeeze-excite's product with a residual block's
/// sum and activation after it, in one pass (inference); the same float operations as `scaleRows` followed by
/// `add` or `addReLU`.
func scaleRowsAdding(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, scale: UnsafePointer<Float>,
                     residual: UnsafePointer<Float>, activation: ConvActivation, N: Int, D: Int) {
    Parallel.forEachPart(N, minimum: rowsPerPart(D)) { _, rows in
        activation.withEightLanes { f in
            for n in rows {
                let s = scale[n], xp = x + n * D, rp = residual + n * D, yp = y + n * D
                var i = 0
                while i + 8 <= D {
                    store8(yp + i, f(load8(xp + i) * s + load8(rp + i)))
                    i += 8
                }
                while i < D {
                    yp[i] = activation.apply(xp[i] * s + rp[i])
                    i += 1
                }
            }
        }
    }
}

/// The fewest rows of `D` floats worth a part of their own.
private func rowsPerPart(_ D: Int) -> Int { max(1, elementwiseGrain / max(D, 1)) }

// MARK: - Dropout masks: each entry is 0 with probability p, else 1/(1-p); p = 1 drops everything.

func fillDropoutMask(_ mask: UnsafeMutablePointer<Float>, n: Int, p: Float, random: inout RandomSource) {
    let keptValue: Float = p < 1 ? 1 / (1 - p) : 0
    for i in 0..<n { mask[i] = random.nextFloat() < p ? 0 : keptValue }
}

/// out[r] = sum over i of a[r, i] * b[r, i], for [rows, D] (squeeze-excite's gate gradient, D = H*W).
func dotPerRow(out: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, rows: Int, D: Int) {
    Parallel.forEachPart(rows, minimum: rowsPerPart(D)) { _, rows in
        for r in rows { out[r] = dotProduct(a + r * D, b + r * D, count: D) }
    }
}
