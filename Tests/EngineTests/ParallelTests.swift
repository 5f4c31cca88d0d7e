import Foundation
import Synchronization
import Testing
@testable import Engine

/// The engine's thread split: every index runs exactly once, whichever way the parts are run (the worker
/// pool, its Dispatch fallback for a second caller or a nested call), and workers that fell asleep wake.
@Suite struct ParallelTests {
    /// Runs forEachPart over `count` items and returns how often each index ran.
    private func visits(_ count: Int, minimum: Int = 1) -> [Int] {
        var hits = [Int](repeating: 0, count: count)
        hits.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            Parallel.forEachPart(count, minimum: minimum) { _, range in
                for i in range { base[i] += 1 }
            }
        }
        return hits
    }

    @Test func everyIndexRunsOnceAcrossManyBackToBackCalls() {
        for round in 0..<2_000 {
            let count = 1 + round % 97
            #expect(visits(count) == [Int](repeating: 1, count: count), "count \(count)")
        }
    }

    @Test func workersWakeAfterFallingAsleep() throws {
        for _ in 0..<5 {
            Thread.sleep(forTimeInterval: 0.02)  // longer than the workers watch before they sleep
            #expect(visits(1000) == [Int](repeating: 1, count: 1000))
        }
    }

    @Test func nestedSplitsRunEveryIndex() {
        let outer = 8, inner = 50
        var hits = [Int](repeating: 0, count: outer * inner)
        hits.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            Parallel.forEachPart(outer) { _, rows in
                for row in rows {
                    Parallel.forEachPart(inner) { _, columns in
                        for column in columns { base[row * inner + column] += 1 }
                    }
                }
            }
        }
        #expect(hits == [Int](repeating: 1, count: outer * inner))
    }

    @Test func twoCallersAtOnceBothFinish() {
        let failures = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            for round in 0..<500 {
                let count = 10 + round % 53
                if visits(count) != [Int](repeating: 1, count: count) { failures.add(1, ordering: .relaxed) }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
    }
}
