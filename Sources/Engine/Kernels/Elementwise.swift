import Foundation

// Elementwise kernels over n values of any shape: activations, their derivatives, masks and sums.
// Backward kernels overwrite dx; dy, x, y have n values each.

// MARK: - ReLU: y = max(x, 0); dx = dy where x > 0 (PyTorch's threshold_backward: 0 at x == 0).

func reluForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, n: Int) {
    for i in 0..<n { y[i] = x[i] > 0 ? x[i] : 0 }
}

func reluBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, x: UnsafePointer<Float>, n: Int) {
    for i in 0..<n { dx[i] = x[i] > 0 ? dy[i] : 0 }
}

// MARK: - Sigmoid: y = 1 / (1 + e^-x); dx = dy * y * (1 - y), from the saved output.

/// Written so that exp never overflows: for x < 0, e^x / (1 + e^x).
@inline(__always)
func sigmoid(_ x: Float) -> Float {
    if x >= 0 { return 1 / (1 + exp(-x)) }
    let e = exp(x)
    return e / (1 + e)
}

func sigmoidForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, n: Int) {
    for i in 0..<n { y[i] = sigmoid(x[i]) }
}

func sigmoidBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, y: UnsafePointer<Float>, n: Int) {
    for i in 0..<n { dx[i] = dy[i] * y[i] * (1 - y[i]) }
}

// MARK: - SiLU (Swish): y = x * sigmoid(x); dx = dy * s * (1 + x * (1 - s)), s = sigmoid(x), from the saved input.

func siluForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, n: Int) {
    for i in 0..<n { y[i] = x[i] * sigmoid(x[i]) }
}

func siluBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, x: UnsafePointer<Float>, n: Int) {
    for i in 0..<n {
        let s = sigmoid(x[i])
        dx[i] = dy[i] * s * (1 + x[i] * (1 - s))
    }
}

// MARK: - Sums and products

/// y = a + b.
func add(y: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, n: Int) {
    for i in 0..<n { y[i] = a[i] + b[i] }
}

/// y += x.
func accumulate(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, n: Int) {
    for i in 0..<n { y[i] += x[i] }
}

/// y = x * mask (dropout forward and, with dy for x, its backward).
func multiply(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, mask: UnsafePointer<Float>, n: Int) {
    for i in 0..<n { y[i] = x[i] * mask[i] }
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
