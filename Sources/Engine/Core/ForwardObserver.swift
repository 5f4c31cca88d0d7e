/// Sees layer outputs during a forward pass: the layers page's capture of one layer's output and the health
/// page's ReLU zero counts. Containers call it only while one is set (`observer` on `Sequential`, `Residual`,
/// `Concat` and the zoo's `Block`), so a network nobody watches pays nothing.
///
/// Reported: each child a `Sequential` runs, each named stage of a `Block`, a `Residual`'s shortcut, and a
/// `Residual` or `Concat` itself (its output after the add or concatenation and its activation). The tensor is
/// the layer's own buffer, valid only during the call: copy what must outlive it. A `Residual` that is its
/// parent's child is reported twice with the same output (by itself, then by the parent).
public protocol ForwardObserver: AnyObject {
    func layerDidForward(_ layer: any Layer, output: Tensor)
}

// MARK: - Vector statistics (the probes' reductions, vectorised)

/// True when all `n` values are finite: x - x is 0 for a finite x and NaN for a NaN or an infinity.
public func allFinite(_ x: UnsafePointer<Float>, count n: Int) -> Bool {
    var acc = SIMD16<Float>(repeating: 0)
    var i = 0
    while i + 16 <= n {
        let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
        acc += v - v
        i += 16
    }
    var tail: Float = 0
    while i < n { tail += x[i] - x[i]; i += 1 }
    return (acc.sum() + tail) == 0
}

/// Sum of x² in double precision (per-lane float partial sums, added up as doubles every block).
public func sumOfSquares(_ x: UnsafePointer<Float>, count n: Int) -> Double {
    var total = 0.0
    var i = 0
    while i < n {
        let end = min(n, i + 4096)
        var acc = SIMD16<Float>(repeating: 0)
        while i + 16 <= end {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            acc += v * v
            i += 16
        }
        var part = Double(acc.sum())
        while i < end { part += Double(x[i]) * Double(x[i]); i += 1 }
        total += part
    }
    return total
}

/// Sum of (a - b)² in double precision.
public func sumOfSquaredDifferences(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count n: Int) -> Double {
    var total = 0.0
    var i = 0
    while i < n {
        let end = min(n, i + 4096)
        var acc = SIMD16<Float>(repeating: 0)
        while i + 16 <= end {
            let d = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD16<Float>.self)
                - UnsafeRawPointer(b + i).loadUnaligned(as: SIMD16<Float>.self)
            acc += d * d
            i += 16
        }
        var part = Double(acc.sum())
        while i < end { let d = Double(a[i]) - Double(b[i]); part += d * d; i += 1 }
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
        let end = min(n, i + 1 << 20)
        var acc = SIMD16<Int32>(repeating: 0)
        while i + 16 <= end {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            acc &+= none.replacing(with: one, where: v .== zero)
            i += 16
        }
        total += Int(acc.wrappedSum())
        while i < end { if x[i] == 0 { total += 1 }; i += 1 }
    }
    return total
}
