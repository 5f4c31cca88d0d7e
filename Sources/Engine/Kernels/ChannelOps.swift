// Kernels that move whole channel planes of NCHW tensors: channel shuffle and the channel slices
// that concatenation and splitting read and write, S = H*W values per plane.

/// Channel shuffle with g groups as `x.view(N, g, C/g, H, W).transpose(1, 2)`: output channel
/// o = j*g + i takes input channel i*(C/g) + j. The other order, `reshape(N, C/g, g, H, W).transpose(1, 2)`,
/// is this same permutation with C/g groups.
func channelShuffleForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, N: Int, C: Int, S: Int, groups g: Int) {
    forEachShuffledPlane(N: N, C: C, S: S, groups: g) { shuffled, source in copyFloats(y + shuffled, x + source, count: S) }
}

/// The inverse permutation: dx's input channel i*(C/g) + j receives dy's output channel j*g + i.
func channelShuffleBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, N: Int, C: Int, S: Int, groups g: Int) {
    forEachShuffledPlane(N: N, C: C, S: S, groups: g) { shuffled, source in copyFloats(dx + source, dy + shuffled, count: S) }
}

/// Calls body(offset of output plane (n, o), offset of the input plane it takes) for every plane, the
/// images split over the threads.
@inline(__always)
private func forEachShuffledPlane(N: Int, C: Int, S: Int, groups g: Int, _ body: (_ shuffled: Int, _ source: Int) -> Void) {
    let perGroup = C / g
    Parallel.forEachPart(N) { _, images in
        for n in images {
            for o in 0..<C {
                let source = (o % g) * perGroup + o / g
                body(planeOffset(n, o, channels: C, plane: S), planeOffset(n, source, channels: C, plane: S))
            }
        }
    }
}

/// Copies `count` channels per sample from src[:, srcStart ..< srcStart+count] (src has srcC channels) into
/// channels dstStart ..< dstStart+count of a concatenation with dstC channels, each written where
/// `channelShuffleForward` with g groups would move it: concatenated channel c lands on (c mod C/g)*g + c/(C/g).
func copyChannels(
    dst: UnsafeMutablePointer<Float>, dstC: Int, dstStart: Int, shuffledBy g: Int?,
    src: UnsafePointer<Float>, srcC: Int, srcStart: Int, count: Int, N: Int, S: Int
) {
    guard let g else {
        copyChannels(dst: dst, dstC: dstC, dstStart: dstStart, src: src, srcC: srcC, srcStart: srcStart, count: count, N: N, S: S)
        return
    }
    let perGroup = dstC / g
    Parallel.forEachPart(N) { _, images in
        for n in images {
            for i in 0..<count {
                let c = dstStart + i, shuffled = (c % perGroup) * g + c / perGroup
                copyFloats(dst + planeOffset(n, shuffled, channels: dstC, plane: S),
                           src + planeOffset(n, srcStart + i, channels: srcC, plane: S), count: S)
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
            let d = dst + planeOffset(n, dstStart, channels: dstC, plane: S), s = src + planeOffset(n, srcStart, channels: srcC, plane: S)
            if accumulate {
                for i in 0..<span { d[i] += s[i] }
            } else {
                copyFloats(d, s, count: span)
            }
        }
    }
}
