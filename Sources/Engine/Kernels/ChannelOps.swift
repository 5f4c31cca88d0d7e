// Kernels that move whole channel planes of NCHW tensors: channel shuffle and the channel slices
// that concatenation and splitting read and write. S = H*W values per plane.

/// Channel shuffle with g groups as `x.view(N, g, C/g, H, W).transpose(1, 2)`: output channel
/// o = j*g + i takes input channel i*(C/g) + j. The other order, `reshape(N, C/g, g, H, W).transpose(1, 2)`,
/// is this same permutation with C/g groups.
func channelShuffleForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, N: Int, C: Int, S: Int, groups g: Int) {
    let perGroup = C / g
    for n in 0..<N {
        for o in 0..<C {
            let source = (o % g) * perGroup + o / g
            (y + (n * C + o) * S).update(from: x + (n * C + source) * S, count: S)
        }
    }
}

/// The inverse permutation: dx's input channel i*(C/g) + j receives dy's output channel j*g + i.
func channelShuffleBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, N: Int, C: Int, S: Int, groups g: Int) {
    let perGroup = C / g
    for n in 0..<N {
        for o in 0..<C {
            let source = (o % g) * perGroup + o / g
            (dx + (n * C + source) * S).update(from: dy + (n * C + o) * S, count: S)
        }
    }
}

/// Copies `count` channels per sample from src[:, srcStart ..< srcStart+count] (src has srcC channels)
/// into dst[:, dstStart ..< dstStart+count] (dst has dstC channels); adds instead when `accumulate`.
func copyChannels(
    dst: UnsafeMutablePointer<Float>, dstC: Int, dstStart: Int,
    src: UnsafePointer<Float>, srcC: Int, srcStart: Int,
    count: Int, N: Int, S: Int, accumulate: Bool = false
) {
    let span = count * S
    for n in 0..<N {
        let d = dst + (n * dstC + dstStart) * S, s = src + (n * srcC + srcStart) * S
        if accumulate {
            for i in 0..<span { d[i] += s[i] }
        } else {
            d.update(from: s, count: span)
        }
    }
}
