import COpenBLAS
import Dispatch
import Foundation
import Synchronization

/// The engine's threads: every kernel splits its work once, into at most `threads` contiguous parts
/// (images, channels or elements), and runs them at once; each part calls OpenBLAS single-threaded.
/// OpenBLAS's own threads stay at 1 so that its spinning workers never compete with ours for the cores,
/// and so that small GEMMs (one image's conv) pay no synchronisation.
public enum Parallel {
    private static let threadCount: Atomic<Int> = {
        openblas_set_num_threads(1)
        return Atomic(min(max(1, System.activeProcessors), 8))
    }()

    /// Threads each kernel uses: the processors online (at most 8) unless set.
    public static var threads: Int { threadCount.load(ordering: .relaxed) }

    /// Sets the engine's thread count (and keeps OpenBLAS at one thread per call).
    public static func setThreads(_ n: Int) {
        threadCount.store(max(1, n), ordering: .relaxed)
        openblas_set_num_threads(1)
    }

    /// How many parts `count` items split into: one per thread, no part smaller than `minimum` items.
    @inline(__always)
    public static func parts(_ count: Int, minimum: Int = 1) -> Int {
        max(1, min(threads, count / max(minimum, 1)))
    }

    /// Runs body(part, range) for `parts(count, minimum)` contiguous ranges covering 0..<count, concurrently.
    /// body must only write memory no other part writes.
    @inline(__always)
    public static func forEachPart(_ count: Int, minimum: Int = 1, _ body: (_ part: Int, _ range: Range<Int>) -> Void) {
        let n = parts(count, minimum: minimum)
        if n == 1 {
            body(0, 0..<count)
            return
        }
        // concurrentPerform wants a @Sendable closure, and body captures raw pointers. It is safe to share:
        // concurrentPerform returns only after every part has run, and the parts write disjoint memory.
        // This is the engine's one such exemption.
        nonisolated(unsafe) let body = body
        DispatchQueue.concurrentPerform(iterations: n) { part in
            body(part, count * part / n ..< count * (part + 1) / n)
        }
    }
}

enum System {
    static var activeProcessors: Int { ProcessInfo.processInfo.activeProcessorCount }
}
