// Kernels that move whole channel planes of NCHW tensors: channel shuffle and the channel slices
// that concatenation and splitting read and write, S = H*W values per plane; and the short and strided
// copies every kernel that moves rows or planes uses.

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

/// dst[j] = src[j * stride] for j in columns. At stride 2, eight at a time from the even lanes of sixteen,
/// while all sixteen lie within the first `readable` floats of src (by default up to the last float a
/// column reads: src[2j + 15] while j + 9 <= columns.upperBound).
@inline(__always)
func readStrided(_ src: UnsafePointer<Float>, stride: Int, into dst: UnsafeMutablePointer<Float>, _ columns: Range<Int>,
                 readable: Int? = nil) {
    if stride == 1 {
        copyFloats(dst + columns.lowerBound, src + columns.lowerBound, count: columns.count)
        return
    }
    var j = columns.lowerBound
    if stride == 2 {
        let limit = readable ?? 2 * columns.upperBound - 1
        while j + 8 <= columns.upperBound, 2 * j + 16 <= limit {
            let pair = UnsafeRawPointer(src + 2 * j).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(dst + j).storeBytes(of: pair.evenHalf, as: SIMD8<Float>.self)
            j += 8
        }
    }
    while j < columns.upperBound {
        dst[j] = src[j * stride]
        j += 1
    }
}

/// dst[j * stride] = src[j] (or += when `accumulate`) for j in columns: the adjoint of `readStrided`. At
/// stride 2, into the even lanes of sixteen; the odd lanes are read and written back unchanged, so the
/// caller's thread must own them: they stay within the first `writable` floats of dst (by default up to
/// the last float a column writes).
@inline(__always)
func writeStrided(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, stride: Int, _ columns: Range<Int>,
                  accumulate: Bool = false, writable: Int? = nil) {
    if stride == 1 && !accumulate {
        copyFloats(dst + columns.lowerBound, src + columns.lowerBound, count: columns.count)
        return
    }
    var j = columns.lowerBound
    if stride == 2 {
        let limit = writable ?? 2 * columns.upperBound - 1
        while j + 8 <= columns.upperBound, 2 * j + 16 <= limit {
            let at = UnsafeMutableRawPointer(dst + 2 * j)
            var pair = at.loadUnaligned(as: SIMD16<Float>.self)
            let values = UnsafeRawPointer(src + j).loadUnaligned(as: SIMD8<Float>.self)
            pair.evenHalf = accumulate ? pair.evenHalf + values : values
            at.storeBytes(of: pair, as: SIMD16<Float>.self)
            j += 8
        }
    }
    while j < columns.upperBound {
        dst[j * stride] = accumulate ? dst[j * stride] + src[j] : src[j]
        j += 1
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
