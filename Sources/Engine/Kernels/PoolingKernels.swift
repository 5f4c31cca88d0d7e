/// Pooling and padding kernels with PyTorch's semantics. Forward and backward sit side by side.
///
/// Legend: N batch, C channels (pooling works on the N*C planes independently), H×W input, P×Q output,
/// k kernel, stride, pad. Output size in floor mode: P = (H + 2*pad - k)/stride + 1.

/// The geometry of one pooling call.
struct PoolShape {
    var planes: Int           // N*C
    var h: Int, w: Int, p: Int, q: Int
    var kernel: Int, stride: Int, pad: Int
}

/// Calls body(p, q, rows, columns) for every output pixel (p, q) in row-major order, with the input rows
/// and columns of its window that lie inside the image (the padding clipped off).
@inline(__always)
private func forEachWindow(_ sh: PoolShape, _ body: (_ p: Int, _ q: Int, _ rows: Range<Int>, _ columns: Range<Int>) -> Void) {
    for p in 0..<sh.p {
        let h0 = Swift.max(p * sh.stride - sh.pad, 0), h1 = Swift.min(p * sh.stride - sh.pad + sh.kernel, sh.h)
        for q in 0..<sh.q {
            let w0 = Swift.max(q * sh.stride - sh.pad, 0), w1 = Swift.min(q * sh.stride - sh.pad + sh.kernel, sh.w)
            body(p, q, h0..<h1, w0..<w1)
        }
    }
}

// MARK: - Max pooling

/// output[planes, P, Q] = window maxima of input[planes, H, W]; padding counts as -inf (never chosen).
/// argmax[planes, P, Q] receives the index (ih*W + iw) within the plane of each chosen input; as PyTorch,
/// the first maximum in row-major window order wins ties, and a NaN wins over any number (the last NaN).
/// Indices are stored as Float: exact for planes up to 2^24 pixels.
func maxPoolForward(_ sh: PoolShape, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                    argmax: UnsafeMutablePointer<Float>) {
    if sh.kernel == 2 && sh.stride == 2 && sh.pad == 0 {
        maxPool2x2Forward(sh, input: input, output: output, argmax: argmax)
    } else {
        maxPoolForwardAnyWindow(sh, input: input, output: output, argmax: argmax)
    }
}

/// maxPoolForward for any window, stride and padding, one output at a time.
func maxPoolForwardAnyWindow(_ sh: PoolShape, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                             argmax: UnsafeMutablePointer<Float>) {
    Parallel.forEachPart(sh.planes) { _, planes in
        for plane in planes {
            let x = input + plane * sh.h * sh.w
            let y = output + plane * sh.p * sh.q
            let idx = argmax + plane * sh.p * sh.q
            forEachWindow(sh) { p, q, rows, columns in
                var best = -Float.infinity
                var bestIndex = rows.lowerBound * sh.w + columns.lowerBound
                for ih in rows {
                    for iw in columns {
                        let v = x[ih * sh.w + iw]
                        if v > best || v.isNaN {
                            best = v
                            bestIndex = ih * sh.w + iw
                        }
                    }
                }
                y[p * sh.q + q] = best
                idx[p * sh.q + q] = Float(bestIndex)
            }
        }
    }
}

/// maxPoolForward for 2x2 windows at stride 2 without padding, eight outputs at a time: the even and odd
/// columns of two input rows are the window's four candidates, taken in row-major order with blends
/// (a branch on which is larger mispredicts half the time). Same tie and NaN rules as the general kernel.
func maxPool2x2Forward(_ sh: PoolShape, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                       argmax: UnsafeMutablePointer<Float>) {
    Parallel.forEachPart(sh.planes) { _, planes in
        let lane = SIMD8<Float>(0, 1, 2, 3, 4, 5, 6, 7)
        for plane in planes {
            let x = input + plane * sh.h * sh.w
            let y = output + plane * sh.p * sh.q
            let idx = argmax + plane * sh.p * sh.q
            for p in 0..<sh.p {
                let top = x + 2 * p * sh.w, bottom = top + sh.w
                let rowIndex = Float(2 * p * sh.w)
                var q = 0
                while q + 8 <= sh.q {
                    let r0 = loadVector(top + 2 * q, as: SIMD16<Float>.self)
                    let r1 = loadVector(bottom + 2 * q, as: SIMD16<Float>.self)
                    var best = r0.evenHalf
                    var bestIndex = rowIndex + 2 * (Float(q) + lane)
                    let firstIndex = bestIndex
                    @inline(__always) func consider(_ candidate: SIMD8<Float>, _ offset: Float) {
                        let wins = (candidate .> best) .| (candidate .!= candidate)
                        best.replace(with: candidate, where: wins)
                        bestIndex.replace(with: firstIndex + offset, where: wins)
                    }
                    consider(r0.oddHalf, 1)
                    consider(r1.evenHalf, Float(sh.w))
                    consider(r1.oddHalf, Float(sh.w + 1))
                    store8(y + p * sh.q + q, best)
                    store8(idx + p * sh.q + q, bestIndex)
                    q += 8
                }
                while q < sh.q {
                    let first = 2 * p * sh.w + 2 * q
                    var best = top[2 * q], bestIndex = first
                    @inline(__always) func consider(_ v: Float, _ i: Int) {
                        if v > best || v.isNaN {
                            best = v
                            bestIndex = i
                        }
                    }
                    consider(top[2 * q + 1], first + 1)
                    consider(bottom[2 * q], first + sh.w)
                    consider(bottom[2 * q + 1], first + sh.w + 1)
                    y[p * sh.q + q] = best
                    idx[p * sh.q + q] = Float(bestIndex)
                    q += 1
                }
            }
        }
    }
}

/// gradInput[planes, H, W] (overwritten) receives each output gradient at its window's argmax.
func maxPoolBackward(_ sh: PoolShape, gradOutput: UnsafePointer<Float>, argmax: UnsafePointer<Float>,
                     gradInput: UnsafeMutablePointer<Float>) {
    forEachPlaneBackward(sh, gradOutput: gradOutput, gradInput: gradInput) { plane, dy, dx in
        let idx = argmax + plane * sh.p * sh.q
        for j in 0..<sh.p * sh.q {
            let i = Int(idx[j])
            dx[i] = dx[i] + dy[j]
        }
    }
}

/// Zeroes gradInput[planes, H, W], then gives `body` each plane's output gradient dy[P, Q] and input
/// gradient dx[H, W], the planes split over the threads (a plane's windows may overlap, planes never do).
private func forEachPlaneBackward(_ sh: PoolShape, gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>,
                                  _ body: (_ plane: Int, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>) -> Void) {
    gradInput.update(repeating: 0, count: sh.planes * sh.h * sh.w)
    Parallel.forEachPart(sh.planes) { _, planes in
        for plane in planes { body(plane, gradOutput + plane * sh.p * sh.q, gradInput + plane * sh.h * sh.w) }
    }
}

// MARK: - Average pooling

/// The divisor of one window, as PyTorch's avg_pool2d: with count_include_pad the window clipped to the
/// padded image, otherwise clipped to the image itself.
@inline(__always)
func averagePoolDivisor(_ sh: PoolShape, p: Int, q: Int, countIncludePad: Bool) -> Float {
    let hStart = p * sh.stride - sh.pad, wStart = q * sh.stride - sh.pad
    let hEnd = Swift.min(hStart + sh.kernel, sh.h + sh.pad), wEnd = Swift.min(wStart + sh.kernel, sh.w + sh.pad)
    if countIncludePad { return Float((hEnd - hStart) * (wEnd - wStart)) }
    let rows = Swift.min(hEnd, sh.h) - Swift.max(hStart, 0), cols = Swift.min(wEnd, sh.w) - Swift.max(wStart, 0)
    return Float(rows * cols)
}

/// output[planes, P, Q] = window means of input[planes, H, W].
func averagePoolForward(_ sh: PoolShape, countIncludePad: Bool, input: UnsafePointer<Float>,
                        output: UnsafeMutablePointer<Float>) {
    Parallel.forEachPart(sh.planes) { _, planes in
        for plane in planes {
            let x = input + plane * sh.h * sh.w
            let y = output + plane * sh.p * sh.q
            forEachWindow(sh) { p, q, rows, columns in
                var sum: Float = 0
                for ih in rows {
                    for iw in columns { sum += x[ih * sh.w + iw] }
                }
                y[p * sh.q + q] = sum / averagePoolDivisor(sh, p: p, q: q, countIncludePad: countIncludePad)
            }
        }
    }
}

/// gradInput[planes, H, W] (overwritten) receives each output gradient spread evenly over its window.
func averagePoolBackward(_ sh: PoolShape, countIncludePad: Bool, gradOutput: UnsafePointer<Float>,
                         gradInput: UnsafeMutablePointer<Float>) {
    forEachPlaneBackward(sh, gradOutput: gradOutput, gradInput: gradInput) { _, dy, dx in
        forEachWindow(sh) { p, q, rows, columns in
            let g = dy[p * sh.q + q] / averagePoolDivisor(sh, p: p, q: q, countIncludePad: countIncludePad)
            for ih in rows {
                for iw in columns { dx[ih * sh.w + iw] = dx[ih * sh.w + iw] + g }
            }
        }
    }
}

// MARK: - Global average pooling

/// output[planes] = mean of each input[planes, size] plane.
func globalAveragePoolForward(planes: Int, size: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
    let scale = 1 / Float(size)
    Parallel.forEachPart(planes, minimum: 64) { _, planes in
        for plane in planes {
            // Eight partial sums: a one-by-one float sum waits on each addition (four cycles a float), which made
            // squeeze-excite's pooling of a 16x32x32 map cost as much as the block's residual add.
            output[plane] = sumOf(input + plane * size, count: size) * scale
        }
    }
}

/// gradInput[planes, size] (overwritten) = gradOutput[planes] / size, broadcast over each plane.
func globalAveragePoolBackward(planes: Int, size: Int, gradOutput: UnsafePointer<Float>,
                               gradInput: UnsafeMutablePointer<Float>) {
    let scale = 1 / Float(size)
    Parallel.forEachPart(planes, minimum: 64) { _, planes in
        for plane in planes {
            (gradInput + plane * size).update(repeating: gradOutput[plane] * scale, count: size)
        }
    }
}

// MARK: - Zero padding

/// output[planes, H+2pad, W+2pad] = input[planes, H, W] surrounded by pad zeros on each side.
func zeroPadForward(planes: Int, h: Int, w: Int, pad: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
    let oh = h + 2 * pad, ow = w + 2 * pad
    output.update(repeating: 0, count: planes * oh * ow)
    Parallel.forEachPart(planes, minimum: 64) { _, planes in
        for plane in planes {
            for ih in 0..<h {
                copyFloats(output + (plane * oh + ih + pad) * ow + pad, input + (plane * h + ih) * w, count: w)
            }
        }
    }
}

/// gradInput[planes, H, W] (overwritten) = the interior of gradOutput[planes, H+2pad, W+2pad].
func zeroPadBackward(planes: Int, h: Int, w: Int, pad: Int, gradOutput: UnsafePointer<Float>,
                     gradInput: UnsafeMutablePointer<Float>) {
    let oh = h + 2 * pad, ow = w + 2 * pad
    Parallel.forEachPart(planes, minimum: 64) { _, planes in
        for plane in planes {
            for ih in 0..<h {
                copyFloats(gradInput + (plane * h + ih) * w, gradOutput + (plane * oh + ih + pad) * ow + pad, count: w)
            }
        }
    }
}
