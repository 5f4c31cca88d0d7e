import Foundation

// Softmax and cross-entropy over logits [N, C] (N samples, C classes), row by row.

/// probs[n, :] = softmax(logits[n, :]), with the row maximum subtracted so exp never overflows.
func softmaxForward(probs: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>, N: Int, C: Int) {
    for n in 0..<N {
        let z = logits + n * C, p = probs + n * C
        var maxZ = z[0]
        for c in 1..<C where z[c] > maxZ { maxZ = z[c] }
        var sum: Float = 0
        for c in 0..<C {
            p[c] = exp(z[c] - maxZ)
            sum += p[c]
        }
        let inverse = 1 / sum
        for c in 0..<C { p[c] *= inverse }
    }
}

/// Mean cross-entropy against the smoothed targets q = (1 - s) * onehot(label) + s / C, as `F.cross_entropy`:
/// loss_n = -sum_c q_c * log p_c with log p_c = z_c - max - log(sum exp(z - max)).
/// Writes probs and dLogits = (p - q) / N; labels must already be in 0..<C. Returns the mean loss.
func crossEntropyForwardBackward(
    dLogits: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
    logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, N: Int, C: Int, smoothing s: Float
) -> Float {
    softmaxForward(probs: probs, logits: logits, N: N, C: C)
    let offTarget = s / Float(C), onTarget = 1 - s + s / Float(C)
    var total = 0.0
    for n in 0..<N {
        let z = logits + n * C, p = probs + n * C, d = dLogits + n * C
        let label = Int(labels[n])
        var maxZ = z[0]
        for c in 1..<C where z[c] > maxZ { maxZ = z[c] }
        var sumExp = 0.0
        for c in 0..<C { sumExp += Double(exp(z[c] - maxZ)) }
        let logSumExp = Double(maxZ) + log(sumExp)
        var sumLogP = 0.0
        for c in 0..<C { sumLogP += Double(z[c]) - logSumExp }
        let logPLabel = Double(z[label]) - logSumExp
        total += -(Double(1 - s) * logPLabel + Double(s) / Double(C) * sumLogP)
        for c in 0..<C { d[c] = (p[c] - (c == label ? onTarget : offTarget)) / Float(N) }
    }
    return Float(total / Double(N))
}
