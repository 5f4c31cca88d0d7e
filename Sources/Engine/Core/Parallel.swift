import Dispatch
import Foundation
import Synchronization

/// The engine's threads: every kernel splits its work once, into at most `threads` contiguous parts
/// (images, channels or elements), and runs them at once; each part calls OpenBLAS single-threaded.
/// OpenBLAS's own threads stay at 1 so that its spinning workers never compete with ours for the cores,
/// and so that small GEMMs (one image's conv) pay no synchronisation.
public enum Parallel {
    private static let threadCount: Atomic<Int> = {
        BLAS.setLibraryThreads(1)
        return Atomic(defaultThreads)
    }()

    /// Threads when none are asked for (a run's `--threads`, `bench`): one per processor online, at most 16
    /// (a batch of 64 leaves 4 images to each of 16 threads, and each thread past the first keeps its own
    /// weight-gradient partials).
    public static var defaultThreads: Int { min(max(1, System.activeProcessors), 16) }

    /// Threads each kernel uses: `defaultThreads` unless set.
    public static var threads: Int { threadCount.load(ordering: .relaxed) }

    /// Sets the engine's thread count, set once by whoever owns the process's cores (the trainer or
    /// `bench`), and keeps OpenBLAS at one thread per call: OpenBLAS's threads and ours never run at once.
    public static func setThreads(_ n: Int) {
        threadCount.store(max(1, n), ordering: .relaxed)
        BLAS.setLibraryThreads(1)
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
        run(parts: n) { part in body(part, count * part / n ..< count * (part + 1) / n) }
    }

    /// One pool per part count in use (usually just `threads`); idle pools sleep.
    private static let pools = Mutex<[Int: WorkerPool]>([:])

    private static func run(parts n: Int, _ body: (Int) -> Void) {
        let pool = pools.withLock { pools in
            if let pool = pools[n] { return pool }
            let pool = WorkerPool(workers: n - 1)
            pools[n] = pool
            return pool
        }
        if pool.tryRun(body) { return }
        // Another thread's kernels hold the pool (tests train networks side by side), or this is a part
        // asking for threads of its own: share the cores through Dispatch instead.
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let body = body
            DispatchQueue.concurrentPerform(iterations: n) { body($0) }
        }
    }
}

/// Worker threads that run the parts of one kernel at a time, part 0 on the calling thread.
///
/// A training step runs hundreds of parallel kernels, many of them well under a millisecond (ShuffleNet's
/// BatchNorms and 8x8 depthwise convs), and handing each to Dispatch woke a sleeping worker every time: on
/// these VMs that cost tens of microseconds per kernel, a quarter of a ShuffleNetV2 step with both cores
/// idle. Here a worker that has just finished watches for the next kernel for a short while (`spins`)
/// before it sleeps on a condition, and the caller likewise watches for the workers to finish before it
/// sleeps; an idle engine (paused, between runs) has every thread asleep.
///
/// This is the engine's one exemption from Swift's sendability checks: `job` is a plain closure shared
/// with the workers. It is written before `generation` is published (release) and read after it is
/// observed (acquire), and the caller does not return, so its captures stay alive, until every worker
/// has finished (`remaining` reaches 0). The parts write disjoint memory.
final class WorkerPool: @unchecked Sendable {
    let workers: Int
    private let generation = Atomic<Int>(0)
    private let remaining = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private let sleepingWorkers = Atomic<Int>(0)
    private let callerSleeping = Atomic<Bool>(false)
    private let workerSignal = NSCondition()
    private let callerSignal = NSCondition()
    private nonisolated(unsafe) var job: ((Int) -> Void)?

    /// Polls of an atomic before sleeping, a fraction of a millisecond: long enough to span the gaps between
    /// one kernel and the next in a step (20,000 polls was not: ShuffleNetV2 trained at 660 img/s against
    /// 780-860 with 200,000), short enough that an idle engine is asleep at once. GNU OpenMP's default
    /// wait policy spins 300,000 times.
    private static let spins = 200_000

    init(workers: Int) {
        self.workers = workers
        for index in 1...workers {
            let thread = Thread { [self] in work(part: index) }
            thread.name = "cnntui.engine.\(index)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// Runs body(0) here and body(1...workers) on the workers, and returns once all have finished;
    /// false (and nothing run) if another caller holds the pool or this is one of its parts.
    func tryRun(_ body: (Int) -> Void) -> Bool {
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        withoutActuallyEscaping(body) { body in
            job = body
            remaining.store(workers, ordering: .relaxed)
            generation.add(1, ordering: .sequentiallyConsistent)
            if sleepingWorkers.load(ordering: .sequentiallyConsistent) > 0 {
                workerSignal.lock()
                workerSignal.broadcast()
                workerSignal.unlock()
            }
            body(0)
            waitForWorkers()
            job = nil
        }
        busy.store(false, ordering: .releasing)
        return true
    }

    private func waitForWorkers() {
        for _ in 0..<Self.spins where remaining.load(ordering: .acquiring) == 0 { return }
        callerSignal.lock()
        callerSleeping.store(true, ordering: .sequentiallyConsistent)
        while remaining.load(ordering: .sequentiallyConsistent) != 0 { callerSignal.wait() }
        callerSleeping.store(false, ordering: .relaxed)
        callerSignal.unlock()
    }

    private func work(part: Int) {
        var seen = 0
        while true {
            seen = nextGeneration(after: seen)
            job?(part)
            if remaining.subtract(1, ordering: .sequentiallyConsistent).newValue == 0,
               callerSleeping.load(ordering: .sequentiallyConsistent) {
                callerSignal.lock()
                callerSignal.signal()
                callerSignal.unlock()
            }
        }
    }

    /// Waits until a kernel newer than `seen` is published: watching for a while, then asleep.
    private func nextGeneration(after seen: Int) -> Int {
        for _ in 0..<Self.spins {
            let current = generation.load(ordering: .acquiring)
            if current != seen { return current }
        }
        workerSignal.lock()
        sleepingWorkers.add(1, ordering: .sequentiallyConsistent)
        while generation.load(ordering: .sequentiallyConsistent) == seen { workerSignal.wait() }
        sleepingWorkers.subtract(1, ordering: .relaxed)
        workerSignal.unlock()
        return generation.load(ordering: .acquiring)
    }
}

enum System {
    static var activeProcessors: Int { ProcessInfo.processInfo.activeProcessorCount }
}
