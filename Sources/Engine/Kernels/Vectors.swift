// The vector primitives the kernels share: unaligned SIMD loads and stores, short and strided copies,
// sums and dot products over float runs, the probes' statistics (finiteness, norms, zero counts), and the
// offset of one plane of an NCHW tensor.
// Kernels reach SIMD memory only through these (DirectConv, DepthwiseSmallPlane, PoolingKernels, ...),
// so every unaligned access is spelled once.

// MARK: - Loads and stores

/// The `V.scalarCount` floats at p as one vector; p need not be aligned.
@inline(__always)
func loadVector<V: SIMD>(_ p: UnsafePointer<Float>, as _: V.Type) -> V where V.Scalar == Float {
    UnsafeRawPointer(p).loadUnaligned(as: V.self)
}

/// Writes v's floats at p; p need not be aligned.
@inline(__always)
func storeVector<V: SIMD>(_ v: V, at p: UnsafeMutablePointer<Float>) where V.Scalar == Float {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
}

/// Writes v's first `count` floats at p (all of them when count is V.scalarCount): a plane or row that ends
/// inside a vector.
@inline(__always)
func storeVector<V: SIMD>(_ v: V, at p: UnsafeMutablePointer<Float>, count: Int) where V.Scalar == Float {
    if count == V.scalarCount {
        storeVector(v, at: p)
        return
    }
    for i in 0..<count { p[i] = v[i] }
}

/// The eight floats at p.
@inline(__always)
func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> { loadVector(p, as: SIMD8<Float>.self) }

/// Writes eight floats at p.
@inline(__always)
func store8(_ p: UnsafeMutablePointer<Float>, _ v: SIMD8<Float>) { storeVector(v, at: p) }

// MARK: - Offsets

/// Offset of plane (n, c) in an NCHW tensor of `channels` channels and `plane` floats per plane.
@inline(__always)
func planeOffset(_ n: Int, _ c: Int, channels: Int, plane: Int) -> Int { (n * channels + c) * plane }

// MARK: - Copies

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
        store8(dst + i, load8(src + i))
        i += 8
    }
    while i < count {
        dst[i] = src[i]
        i += 1
    }
}

/// dst[0..<count] += src[0..<count], inline eight floats at a time (rows of 7 to 32 floats: see `copyFloats`).
@inline(__always)
func addFloats(_ src: UnsafePointer<Float>, onto dst: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count {
        store8(dst + i, load8(dst + i) + load8(src + i))
        i += 8
    }
    while i < count {
        dst[i] += src[i]
        i += 1
    }
}

/// The first `count` floats at p, in a vector whose lanes from `count` on are 0 (count may exceed eight).
/// Loads the whole vector when `readable` floats at p allow it, else only those count.
@inline(__always)
func load8(_ p: UnsafePointer<Float>, first count: Int, readable: Int) -> SIMD8<Float> {
    if count >= 8 { return load8(p) }
    guard readable >= 8 else {
        var v = SIMD8<Float>()
        for i in 0..<count { v[i] = p[i] }
        return v
    }
    return masked(load8(p), by: laneMask(SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7), count))
}

/// `load8(_:first:readable:)` for sixteen floats.
@inline(__always)
func load16(_ p: UnsafePointer<Float>, first count: Int, readable: Int) -> SIMD16<Float> {
    if count >= 16 { return loadVector(p, as: SIMD16<Float>.self) }
    guard readable >= 16 else {
        var v = SIMD16<Float>()
        for i in 0..<count { v[i] = p[i] }
        return v
    }
    let lanes = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
    return masked(loadVector(p, as: SIMD16<Float>.self), by: laneMask(lanes, count))
}

/// All ones in the lanes below `count`, zeros from it on: the sign of lane - count, spread over the lane.
/// (A float comparison's mask, `.>=`, compiled to a loop over the lanes through the stack.)
@inline(__always)
private func laneMask<V: SIMD>(_ lanes: V, _ count: Int) -> V where V.Scalar == Int32 {
    (lanes &- V(repeating: Int32(truncatingIfNeeded: count))) &>> 31
}

/// The floats of v where `mask`'s lanes are all ones, 0 where they are zero.
@inline(__always)
private func masked<F: SIMD, I: SIMD>(_ v: F, by mask: I) -> F where F.Scalar == Float, I.Scalar == Int32 {
    unsafeBitCast(unsafeBitCast(v, to: I.self) & mask, to: F.self)
}

/// dst[0..<count] = src[0..<count] in whole vectors of eight, the last one's lanes past count written as
/// zeros: rows copied into zero-bordered planes, where the up to seven floats after a row are its border or
/// the start of a row written after it (no scalar tail: a 28-, 14- or 7-pixel row is four, two or one vector).
/// `readable`: floats readable at src.
@inline(__always)
func copyRowZeroFilled(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, count: Int, readable: Int) {
    var i = 0
    while i + 8 <= count {
        store8(dst + i, load8(src + i))
        i += 8
    }
    if i < count { store8(dst + i, load8(src + i, first: count - i, readable: readable - i)) }
}

/// dst[0..<count] = src[0..<count] in whole vectors of eight, the last one's lanes past count written as
/// whatever follows in src: rows copied in order into a plane whose next row is written after them (and
/// overwrites those floats). `readable` and `writable`: floats readable at src and writable at dst (the end of
/// the caller's part), which bound it.
@inline(__always)
func copyRowRunningOn(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, count: Int,
                      readable: Int, writable: Int) {
    var i = 0
    while i + 8 <= count {
        store8(dst + i, load8(src + i))
        i += 8
    }
    if i < count {
        storeVector(load8(src + i, first: readable - i, readable: readable - i), at: dst + i, count: Swift.min(8, writable - i))
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
            store8(dst + j, loadVector(src + 2 * j, as: SIMD16<Float>.self).evenHalf)
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
            var pair = loadVector(dst + 2 * j, as: SIMD16<Float>.self)
            let values = load8(src + j)
            pair.evenHalf = accumulate ? pair.evenHalf + values : values
            storeVector(pair, at: dst + 2 * j)
            j += 8
        }
    }
    while j < columns.upperBound {
        dst[j * stride] = accumulate ? dst[j * stride] + src[j] : src[j]
        j += 1
    }
}

// MARK: - Reductions

/// sum(a[i]) over count floats, with eight partial sums.
@inline(__always)
func sumOf(_ a: UnsafePointer<Float>, count: Int) -> Float {
    var acc = SIMD8<Float>()
    var i = 0
    while i + 8 <= count {
        acc = acc + load8(a + i)
        i += 8
    }
    var sum = acc.sum()
    while i < count {
        sum += a[i]
        i += 1
    }
    return sum
}

/// sum(a[i] * b[i]) over count floats, with four eight-wide partial sums so that the fused multiply-adds
/// do not wait on each other (the compiler may not reorder float additions by itself).
@inline(__always)
func dotProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
    var i = 0
    while i + 32 <= count {
        acc0 = acc0.addingProduct(load8(a + i), load8(b + i))
        acc1 = acc1.addingProduct(load8(a + i + 8), load8(b + i + 8))
        acc2 = acc2.addingProduct(load8(a + i + 16), load8(b + i + 16))
        acc3 = acc3.addingProduct(load8(a + i + 24), load8(b + i + 24))
        i += 32
    }
    while i + 8 <= count {
        acc0 = acc0.addingProduct(load8(a + i), load8(b + i))
        i += 8
    }
    var sum = ((acc0 + acc1) + (acc2 + acc3)).sum()
    while i < count {
        sum += a[i] * b[i]
        i += 1
    }
    return sum
}

// MARK: - Statistics (the probes' reductions: finiteness, norms, zero counts)

/// True when all `n` values are finite: x - x is 0 for a finite x and NaN for a NaN or an infinity.
public func allFinite(_ x: UnsafePointer<Float>, count n: Int) -> Bool {
    var acc = SIMD16<Float>(repeating: 0)
    var i = 0
    while i + 16 <= n {
        let v = loadVector(x + i, as: SIMD16<Float>.self)
        acc += v - v
        i += 16
    }
    var tail: Float = 0
    while i < n { tail += x[i] - x[i]; i += 1 }
    return (acc.sum() + tail) == 0
}

/// Sum of x² in double precision.
public func sumOfSquares(_ x: UnsafePointer<Float>, count n: Int) -> Double {
    blockSum(count: n, vector: { i in let v = loadVector(x + i, as: SIMD16<Float>.self); return v * v },
             scalar: { i in Double(x[i]) * Double(x[i]) })
}

/// Sum of (a - b)² in double precision.
public func sumOfSquaredDifferences(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count n: Int) -> Double {
    blockSum(count: n,
             vector: { i in let d = loadVector(a + i, as: SIMD16<Float>.self) - loadVector(b + i, as: SIMD16<Float>.self); return d * d },
             scalar: { i in let d = Double(a[i]) - Double(b[i]); return d * d })
}

/// sum of `vector(i)` over 16-float steps and `scalar(i)` over the tail, in double precision: per-lane float
/// partial sums added up as doubles every 4,096 values, so the norm of millions of weights keeps its digits.
@inline(__always)
private func blockSum(count n: Int, vector: (Int) -> SIMD16<Float>, scalar: (Int) -> Double) -> Double {
    var total = 0.0
    var i = 0
    while i < n {
        let end = min(n, i + 4096)
        var acc = SIMD16<Float>(repeating: 0)
        while i + 16 <= end {
            acc += vector(i)
            i += 16
        }
        var part = Double(acc.sum())
        while i < end { part += scalar(i); i += 1 }
        total += part
    }
    return total
}

/// How many of the `n` values are exactly zero (either sign).
public func zeroCount(_ x: UnsafePointer<Float>, count n: Int) -> Int {
    var total = 0
    var i = 0
    let zero = SIMD16<Float>(repeating: 0)
    let one = SIMD16<Int32>(repeating: 1), none = SIMD16<Int32>(repeating: 0)
    while i < n {
        let end = min(n, i + 1 << 20)  // Int32 lanes cannot overflow within a block
        var acc = SIMD16<Int32>(repeating: 0)
        while i + 16 <= end {
            acc &+= none.replacing(with: one, where: loadVector(x + i, as: SIMD16<Float>.self) .== zero)
            i += 16
        }
        total += Int(acc.wrappedSum())
        while i < end { if x[i] == 0 { total += 1 }; i += 1 }
    }
    return total
}
