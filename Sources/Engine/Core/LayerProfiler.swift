import Foundation

/// Forward and backward wall time per layer, for `cnntui bench --profile`.
///
/// A `Sequential` with a profiler times each child call. Calls nest (a block inside a stage), so every
/// entry keeps both its inclusive time and its *exclusive* time (inclusive less the timed calls inside
/// it): exclusive times add up to the step without double counting, and the largest is the next thing
/// to speed up. One profiler belongs to one thread (the one running the step).
public final class LayerProfiler {
    public struct Entry: Sendable {
        public let name: String
        public let typeName: String
        public var forwardNanos: UInt64 = 0, backwardNanos: UInt64 = 0
        public var forwardExclusiveNanos: UInt64 = 0, backwardExclusiveNanos: UInt64 = 0
        public var calls = 0
    }

    public private(set) var entries: [Entry] = []
    private var index: [ObjectIdentifier: Int] = [:]
    /// Time spent in timed calls nested inside each open call, innermost last.
    private var nestedNanos: [UInt64] = []

    public init() {}

    /// Monotonic nanoseconds.
    @inline(__always)
    public static func now() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    /// Runs `body` (one forward or backward call of `layer`) and adds its time to the layer's entry.
    @inline(__always)
    func time<T>(_ layer: any Layer, backward: Bool, _ body: () throws -> T) rethrows -> T {
        nestedNanos.append(0)
        let start = LayerProfiler.now()
        let result = try body()
        let elapsed = LayerProfiler.now() - start
        let nested = nestedNanos.removeLast()
        if !nestedNanos.isEmpty { nestedNanos[nestedNanos.count - 1] += elapsed }
        let key = ObjectIdentifier(layer)
        let i: Int
        if let found = index[key] { i = found } else {
            i = entries.count
            index[key] = i
            entries.append(Entry(name: layer.name, typeName: layer.typeName))
        }
        let exclusive = elapsed > nested ? elapsed - nested : 0
        if backward {
            entries[i].backwardNanos += elapsed
            entries[i].backwardExclusiveNanos += exclusive
        } else {
            entries[i].forwardNanos += elapsed
            entries[i].forwardExclusiveNanos += exclusive
            entries[i].calls += 1
        }
        return result
    }
}
