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
            let vx = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            let vdy = UnsafeRawPointer(dy + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(dx + i).storeBytes(of: zero.replacing(with: vdy, where: vx .> zero), as: SIMD8<Float>.self)
            i += 8
        }
        while i < range.upperBound {
            dx[i] = x[i] > 0 ? dy[i] : 0
            i += 1
        }
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

/// exp(x) for eight lanes, within about 2e-7 relative (Cephes' expf): x = n*ln2 + r with |r| <= ln2/2,
/// exp(r) from a degree-7 polynomial, 2^n put into the exponent bits. Plain SSE2 operations only (the
/// round-to-nearest is the 1.5*2^23 trick), so it vectorises at the default target where `exp` is a call
/// per element. Inputs are clamped to [-87.3, 88.3], where n stays in -126...127 and exp a normal float,
/// except that below -87.3 the result is 0 (so sigmoid(-1000) is exactly 0, as in PyTorch).
@inline(__always)
func exp8(_ input: SIMD8<Float>) -> SIMD8<Float> {
    let x = input.clamped(lowerBound: SIMD8(repeating: -87.3), upperBound: SIMD8(repeating: 88.3))
    let shifter = SIMD8<Float>(repeating: 12_582_912)  // 1.5 * 2^23: adding it rounds to an integer
    let n = (x * 1.442_695_04 + shifter) - shifter
    // r = x - n*ln2, with ln2 split in two so n*ln2_hi is exact.
    let r = (x - n * 0.693_359_375) - n * -2.121_944_4e-4
    var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_59e-2
    p = p * r + 1.666_666_55e-1
    p = p * r + 5.000_000_12e-1
    let er = p * (r * r) + r + 1
    let exponent = (SIMD8<Int32>(n, rounding: .towardZero) &+ 127) &<< 23
    let result = er * unsafeBitCast(exponent, to: SIMD8<Float>.self)
    return result.replacing(with: 0, where: input .< -87.3)
}

/// sigmoid for eight lanes, as the scalar `sigmoid`: with e = exp(-|x|), 1/(1+e) for x >= 0 and e/(1+e) below,
/// so neither side overflows and both saturate to exactly 0 and 1.
@inline(__always)
func sigmoid8(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let zero = SIMD8<Float>()
    let negativeMagnitude = x.replacing(with: -x, where: x .> zero)
    let e = exp8(negativeMagnitude)
    let r = 1 / (1 + e)
    return (e * r).replacing(with: r, where: x .>= zero)
}

/// Runs body over whole groups of eight values, then the tail one value at a time (as lanes of a SIMD8
/// so both use the same arithmetic).
@inline(__always)
func forEachLanes(_ range: Range<Int>, _ body: (_ i: Int, _ lanes: Int) -> Void) {
    var i = range.lowerBound
    while i + 8 <= range.upperBound {
        body(i, 8)
        i += 8
    }
    if i < range.upperBound { body(i, range.upperBound - i) }
}

@inline(__always)
func load8(_ p: UnsafePointer<Float>, _ lanes: Int) -> SIMD8<Float> {
    if lanes == 8 { return UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
    var v = SIMD8<Float>()
    for j in 0..<lanes { v[j] = p[j] }
    return v
}

@inline(__always)
func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ lanes: Int) {
    if lanes == 8 { UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self); return }
    for j in 0..<lanes { p[j] = v[j] }
}

func sigmoidForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, n: Int) {
    Parallel.forEachPart(n, minimum: elementwiseGrain) { _, range in
        forEachLanes(range) { i, lanes in store8(sigmoid8(load8(x + i, lanes)), y + i, lanes) }
    }
}

func sigmoidBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, y: UnsafePointer<Float>, n: Int) {
    Parallel.forEachPart(n, minimum: elementwiseGrain) { _, range in
        for i in range { dx[i] = dy[i] * y[i] * (1 - y[i]) }
    }
}

// MARK: - SiLU (Swish): y = x * sigmoid(x); dx = dy * s * (1 + x * (1 - s)), s = sigmoid(x), from the saved input.

func siluForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, n: Int) {
    Parallel.forEachPart(n, minimum: elementwiseGrain) { _, range in
        forEachLanes(range) { i, lanes in
            let v = load8(x + i, lanes)
            store8(v * sigmoid8(v), y + i, lanes)
        }
    }
}

func siluBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, x: UnsafePointer<Float>, n: Int) {
    Parallel.forEachPart(n, minimum: elementwiseGrain) { _, range in
        forEachLanes(range) { i, lanes in
            let v = load8(x + i, lanes), s = sigmoid8(v)
            store8(load8(dy + i, lanes) * s * (1 + v * (1 - s)), dx + i, lanes)
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

/// Per-sample scale over [N, D]: y[n, :] = x[n, :] * scale[n] (drop-path forward and backward).
func scaleRows(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, scale: UnsafePointer<Float>, N: Int, D: Int) {
    for n in 0..<N {
        let s = scale[n], xp = x + n * D, yp = y + n * D
        for i in 0..<D { yp[i] = xp[i] * s }
    }
}

// MARK: - Dropout masks: each entry is 0 with probability p, else 1/(1-p); p = 1 drops everything.

func fillDropoutMask(_ mask: UnsafeMutablePointer<Float>, n: Int, p: Float, random: inout RandomSource) {
    let keptValue: Float = p < 1 ? 1 / (1 - p) : 0
    for i in 0..<n { mask[i] = random.nextFloat() < p ? 0 : keptValue }
}

/// out[r] = sum over i of a[r, i] * b[r, i], for [rows, D] (squeeze-excite's gate gradient, D = H*W).
func dotPerRow(out: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, rows: Int, D: Int) {
    for r in 0..<rows {
        let ap = a + r * D, bp = b + r * D
        var sum: Float = 0
        for i in 0..<D { sum += ap[i] * bp[i] }
        out[r] = sum
    }
}
