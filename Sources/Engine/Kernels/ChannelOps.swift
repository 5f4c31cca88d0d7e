// Kernels that move whole channel planes of NCHW tensors: channel shuffle and the channel slices
// that concatenation and splitting read and write, S = H*W values per plane; and the short copy
// every kernel that moves rows or planes uses.

/// dst[0..<count] = src[0..<count], inline eight floats at a time. Rows and planes here are short (8 to 64
/// floats on ShuffleNet's planes) and a call into memmove for each cost more than the copy: it was a tenth
/// of a ShuffleNetV2 step. Long runs still go to memmove.
@inline(__always)
func copyFloats(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, count: Int) {
    if count >= 512 {
        dst.update(from: src, count: count)
        return
    }
    var i = 0
    while i + 8 <= count {
        UnsafeMutableRawPointer(dst + i).storeBytes(of: UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self),
                                                    as: SIMD8<Float>.self)
        i += 8
    }
    while i < count {
        dst[i] = src[i]
        i += 1
    }
}

/// Channel shuffle with g groups as `x.view(N, g, C/g, H, W).transpose(1, 2)`: output channel
/// o = j*g + i takes input channel i*(C/g) + j. The other order, `reshape(N, C/g, g, H, W).transpose(1, 2)`,
/// is this same permutation with C/g groups.
func channelShuffleForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, N: Int, C: Int, S: Int, groups g: Int) {
    let perGroup = C / g
    Parallel.forEachPart(N) { _, images in
        for n in images {
            for o in 0..<C {
                let source = (o % g) * perGroup + o / g
                copyFloats(y + (n * C + o) * S, x + (n * C + source) * S, count: S)
            }
        }
    }
}

/// The inverse permutation: dx's input channel i*(C/g) + j receives dy's output channel j*g + i.
func channelShuffleBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, N: Int, C: Int, S: Int, groups g: Int) {
    let perGroup = C / g
    Parallel.forEachPart(N) { _, images in
        for n in images {
            for o in 0..<C {
                let source = (o % g) * perGroup + o / g
                copyFloats(dx + (n * C + source) * S, dy + (n * C + o) * S, count: S)
            }
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
    Parallel.forEachPart(N) { _, images in
        for n in images {
            let d = dst + (n * dstC + dstStart) * S, s = src + (n * srcC + srcStart) * S
            if accumulate {
                for i in 0..<span { d[i] += s[i] }
            } else {
                copyFloats(d, s, count: span)
            }
        }
    }
}
