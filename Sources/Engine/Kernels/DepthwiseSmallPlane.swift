/// Depthwise convs on tiny planes (at most 16 input and 16 output pixels: EfficientNetV2's and
/// MobileNet's last stages at 2x2 and 1x1, ShuffleNet's 4x4 stages) as one small matrix per channel.
///
/// On a 2x2 plane a tap-by-tap kernel spends its time on plane setup (padding, 9 loops of 2 pixels)
/// rather than on the 16 multiply-adds that matter. Here each channel's filter becomes the matrix
/// Wc[o][i] = the weight linking input pixel i to output pixel o (zero where no tap does), built once
/// per call, and every image's plane is a matrix-vector product held in SIMD registers:
///   forward   y = Wc x          (one vector over output pixels per input pixel)
///   backward  dx = Wcᵀ dy       (one vector over input pixels per output pixel)
///             dWc += dy xᵀ over the images, folded back onto the taps at the end.
/// Works for any stride and padding; `ConvPath` sends depthwise convs with at most 16 pixels in and out
/// here (`.depthwiseSmallPlane`). Shapes: input [N, C, H, W], weight [C, 1, R, S], output [N, C, P, Q].

/// The input pixel tap (r, s) of output pixel o reads, or nil over the padding.
@inline(__always)
private func inputPixel(_ sh: ConvShape, output o: Int, r: Int, s: Int) -> Int? {
    let row = (o / sh.q) * sh.strideH - sh.padH + r, column = (o % sh.q) * sh.strideW - sh.padW + s
    guard row >= 0, row < sh.h, column >= 0, column < sh.w else { return nil }
    return row * sh.w + column
}

/// A plane of `count` floats as a vector, zero past the plane.
@inline(__always)
private func loadPlane<V: SIMD>(_ p: UnsafePointer<Float>, _ count: Int, as: V.Type) -> V where V.Scalar == Float {
    if count == V.scalarCount { return loadVector(p, as: V.self) }
    var v = V()
    for i in 0..<count { v[i] = p[i] }
    return v
}

/// Calls body with the narrowest SIMD type that holds both planes.
@inline(__always)
private func withPlaneVector(_ sh: ConvShape, _ body4: () -> Void, _ body8: () -> Void, _ body16: () -> Void) {
    let widest = Swift.max(sh.inPlane, sh.outPlane)
    if widest <= 4 { body4() } else if widest <= 8 { body8() } else { body16() }
}

func depthwiseSmallPlaneForward(
    _ sh: ConvShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    output: UnsafeMutablePointer<Float>, activation: ConvActivation = .none
) {
    withPlaneVector(sh,
        { smallPlaneForward(sh, SIMD4<Float>.self, input: input, weight: weight, bias: bias, output: output, activation: activation) },
        { smallPlaneForward(sh, SIMD8<Float>.self, input: input, weight: weight, bias: bias, output: output, activation: activation) },
        { smallPlaneForward(sh, SIMD16<Float>.self, input: input, weight: weight, bias: bias, output: output, activation: activation) })
}

/// y[n, c] = Wc x[n, c] + bias[c], with column i of Wc a vector over output pixels.
private func smallPlaneForward<V: SIMD>(
    _ sh: ConvShape, _: V.Type, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    output: UnsafeMutablePointer<Float>, activation: ConvActivation
) where V.Scalar == Float {
    let inPixels = sh.inPlane, outPixels = sh.outPlane
    Parallel.forEachPart(sh.c) { _, channels in
        withUnsafeTemporaryAllocation(of: V.self, capacity: 16) { columns in
            for c in channels {
                let w = weight + c * sh.r * sh.s
                for i in 0..<inPixels { columns[i] = V() }
                for o in 0..<outPixels {
                    for r in 0..<sh.r {
                        for s in 0..<sh.s {
                            if let i = inputPixel(sh, output: o, r: r, s: s) { columns[i][o] += w[r * sh.s + s] }
                        }
                    }
                }
                let start = V(repeating: bias?[c] ?? 0)
                for n in 0..<sh.n {
                    let x = input + sh.inputPlane(n, c)
                    var y = start
                    for i in 0..<inPixels { y = y.addingProduct(V(repeating: x[i]), columns[i]) }
                    storeVector(y, at: output + sh.outputPlane(n, c), count: outPixels)
                }
            }
        }
    }
    applyActivation(activation, to: output, count: sh.n * sh.k * outPixels)
}

/// gradInput is overwritten; gradWeight and gradBias are accumulated (+=).
func depthwiseSmallPlaneBackward(
    _ sh: ConvShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>, gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?
) {
    withPlaneVector(sh,
        { smallPlaneBackward(sh, SIMD4<Float>.self, input: input, weight: weight, gradOutput: gradOutput,
                             gradInput: gradInput, gradWeight: gradWeight, gradBias: gradBias) },
        { smallPlaneBackward(sh, SIMD8<Float>.self, input: input, weight: weight, gradOutput: gradOutput,
                             gradInput: gradInput, gradWeight: gradWeight, gradBias: gradBias) },
        { smallPlaneBackward(sh, SIMD16<Float>.self, input: input, weight: weight, gradOutput: gradOutput,
                             gradInput: gradInput, gradWeight: gradWeight, gradBias: gradBias) })
}

/// dx[n, c] = Wcᵀ dy[n, c] with row o of Wc a vector over input pixels; dWc's row o gathers dy[o] * x
/// over the images, and each tap then takes the entries it links.
private func smallPlaneBackward<V: SIMD>(
    _ sh: ConvShape, _: V.Type, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>, gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?
) where V.Scalar == Float {
    let inPixels = sh.inPlane, outPixels = sh.outPlane
    Parallel.forEachPart(sh.c) { _, channels in
        withUnsafeTemporaryAllocation(of: V.self, capacity: 32) { scratch in
            let rows = scratch.baseAddress!, rowGrads = rows + 16
            for c in channels {
                let w = weight + c * sh.r * sh.s
                for o in 0..<outPixels {
                    rows[o] = V()
                    rowGrads[o] = V()
                    for r in 0..<sh.r {
                        for s in 0..<sh.s {
                            if let i = inputPixel(sh, output: o, r: r, s: s) { rows[o][i] += w[r * sh.s + s] }
                        }
                    }
                }
                var biasGrad: Float = 0
                for n in 0..<sh.n {
                    let x = loadPlane(input + sh.inputPlane(n, c), inPixels, as: V.self)
                    let dy = gradOutput + sh.outputPlane(n, c)
                    var dx = V()
                    for o in 0..<outPixels {
                        let g = V(repeating: dy[o])
                        dx = dx.addingProduct(g, rows[o])
                        rowGrads[o] = rowGrads[o].addingProduct(g, x)
                        biasGrad += dy[o]
                    }
                    storeVector(dx, at: gradInput + sh.inputPlane(n, c), count: inPixels)
                }
                gradBias?[c] += biasGrad
                let dw = gradWeight + c * sh.r * sh.s
                for o in 0..<outPixels {
                    for r in 0..<sh.r {
                        for s in 0..<sh.s {
                            if let i = inputPixel(sh, output: o, r: r, s: s) { dw[r * sh.s + s] += rowGrads[o][i] }
                        }
                    }
                }
            }
        }
    }
}
