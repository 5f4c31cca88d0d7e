import Foundation
import Synchronization

/// One mini-batch, normalised and augmented, ready for the network.
/// Shapes: images [count, C, H, W] float32; labels and indices [count].
public struct Batch: Sendable {
    /// `count * C*H*W` normalised floats.
    public var images: [Float]
    public var labels: [Int32]
    /// Positions of these images in the `ImageSet` (to show the raw pixels beside a prediction).
    public var indices: [Int32]
    public var count: Int
    /// Which `startEpoch` call this batch was made for; stale ones are reused, never delivered.
    var generation = -1

    public init(images: [Float], labels: [Int32], indices: [Int32], count: Int) {
        self.images = images
        self.labels = labels
        self.indices = indices
        self.count = count
    }
}

/// Turns an `ImageSet`'s bytes into float batches on one background `Thread` that prefetches
/// `prefetch` batches ahead of the engine thread and reuses their buffers.
///
/// Not Sendable: it lives on the engine thread. The only state shared with the producer is
/// `LoaderShared`, a lock (Synchronization's `Mutex`) plus two semaphores for the hand-off, so
/// neither side ever spins. Shuffle order and augmentation draws are a pure function of
/// (seed, epoch, position in the epoch): a run resumed with `skipBatches` sees bit-identical batches.
public final class BatchLoader {
    public let batchSize: Int
    public let imageCount: Int
    private let shuffle: Bool
    private let dropLast: Bool
    private let seed: UInt64
    private let shared: LoaderShared
    // What `resized(batchSize:)` needs to build the same loader again.
    private let set: ImageSet
    private let augmentation: Augmentation
    private let mean: [Float], std: [Float]
    private let prefetch: Int

    /// - Parameters:
    ///   - mean, std: per channel (or one value for all channels), applied as (byte/255 - mean)/std.
    ///   - prefetch: batches prepared ahead; also the number of buffers the loader allocates.
    public init(set: ImageSet, batchSize: Int, shuffle: Bool, dropLast: Bool, augmentation: Augmentation,
                mean: [Float], std: [Float], seed: UInt64, prefetch: Int = 3) {
        precondition(batchSize > 0, "BatchLoader: batchSize must be positive")
        precondition(mean.count == set.channels || mean.count == 1, "BatchLoader: mean needs one value per channel")
        precondition(std.count == mean.count, "BatchLoader: std needs as many values as mean")
        self.batchSize = batchSize
        self.imageCount = set.count
        self.shuffle = shuffle
        self.dropLast = dropLast
        self.seed = seed
        self.set = set
        self.augmentation = augmentation
        self.mean = mean
        self.std = std
        self.prefetch = prefetch
        let job = BatchMaker(set: set, batchSize: batchSize, augmentation: augmentation,
                             table: BatchMaker.normalisationTable(channels: set.channels, mean: mean, std: std),
                             seed: seed)
        let buffers = (0..<max(1, prefetch)).map { _ in job.emptyBatch() }
        shared = LoaderShared(buffers: buffers)
        let shared = self.shared
        let thread = Thread { producerLoop(shared: shared, maker: job) }
        thread.name = "cnntui.loader"
        thread.start()
    }

    deinit {
        shared.state.withLock { $0.stopping = true }
        shared.producerWake.signal()
        shared.producerExited.wait()
    }

    public var batchesPerEpoch: Int { batchesPerEpoch(batchSize: batchSize) }

    /// How many batches an epoch would have at another batch size (0: none, when the last is dropped).
    public func batchesPerEpoch(batchSize: Int) -> Int {
        EpochSize.batches(images: imageCount, batchSize: batchSize, dropLast: dropLast)
    }

    /// The same images, order, augmentation and seed in batches of another size: a run whose batch size is
    /// changed by hand trains its next epoch with this (its own producer thread and buffers; this one's stop
    /// when it is released).
    public func resized(batchSize: Int) -> BatchLoader {
        BatchLoader(set: set, batchSize: batchSize, shuffle: shuffle, dropLast: dropLast, augmentation: augmentation,
                    mean: mean, std: std, seed: seed, prefetch: prefetch)
    }

    /// Starts (or restarts) epoch `epoch`, dropping any batches prefetched for the previous one;
    /// `skipBatches` resumes mid-epoch with the same order and draws as an uninterrupted run.
    public func startEpoch(_ epoch: Int, skipBatches: Int = 0) {
        var order: [Int32]
        if shuffle {
            var rng = SplitMix64(seed: seed, stream: UInt64(truncatingIfNeeded: epoch) &+ 1)
            order = shuffledIndices(count: imageCount, using: &rng).map { Int32($0) }
        } else {
            order = (0..<imageCount).map { Int32($0) }
        }
        let total = batchesPerEpoch
        let first = max(0, min(skipBatches, total))
        shared.state.withLock { state in
            state.generation += 1
            state.epoch = epoch
            state.order = order
            state.batchCount = total
            state.nextToProduce = first
            state.delivered = first
            state.free.append(contentsOf: state.ready)
            state.ready.removeAll(keepingCapacity: true)
        }
        shared.producerWake.signal()
    }

    /// The next batch of the epoch, blocking until the producer has it; nil at the end of the epoch
    /// (or before the first `startEpoch`).
    public func next() -> Batch? {
        while true {
            // Moved out of the lock through an optional, never copied: the caller must hold the only reference
            // to the arrays, or its `recycle` would hand the producer a buffer it has to copy before refilling.
            var taken: Batch? = nil
            let endOfEpoch: Bool = shared.state.withLock { state in
                if state.delivered >= state.batchCount { return true }
                if !state.ready.isEmpty {
                    state.delivered += 1
                    taken = state.ready.removeFirst()
                    return false
                }
                // Every buffer is held by the caller (it did not recycle): grow rather than deadlock.
                if state.free.isEmpty && !state.producerBusy && state.nextToProduce < state.batchCount { state.free.append(state.spareBatch()) }
                return false
            }
            if endOfEpoch { return nil }
            if let batch = taken.take() { return batch }
            shared.producerWake.signal()
            shared.consumerWake.wait()
        }
    }

    /// Hands a batch's buffers back so the producer refills them instead of allocating.
    public func recycle(_ batch: consuming Batch) {
        // Moved into the free list, not copied: a copy still alive here after the lock is released would make
        // the producer's refill copy the arrays (a new buffer) whenever it took the batch that quickly.
        var returned: Batch? = consume batch
        shared.state.withLock { $0.free.append(returned.take()!) }
        shared.producerWake.signal()
    }
}

/// What the engine thread and the producer thread share; everything mutable sits behind `state`.
final class LoaderShared: Sendable {
    struct State: Sendable {
        var generation = 0
        var epoch = 0
        var order: [Int32] = []
        var batchCount = 0
        var nextToProduce = 0
        var delivered = 0
        var producerBusy = false
        var ready: [Batch] = []
        var free: [Batch]
        var stopping = false
        /// A batch's shape for `spareBatch`; kept as counts, not as a batch, which would share (and so force a
        /// copy of) the arrays of the buffer it was taken from.
        let imageFloats: Int, batchSize: Int

        func spareBatch() -> Batch {
            Batch(images: [Float](repeating: 0, count: imageFloats), labels: [Int32](repeating: 0, count: batchSize),
                  indices: [Int32](repeating: 0, count: batchSize), count: batchSize)
        }
    }

    let state: Mutex<State>
    /// Signalled whenever the producer may have work: a new epoch, a recycled buffer, shutdown.
    let producerWake = DispatchSemaphore(value: 0)
    /// Signalled whenever a batch is ready.
    let consumerWake = DispatchSemaphore(value: 0)
    let producerExited = DispatchSemaphore(value: 0)

    init(buffers: [Batch]) {
        state = Mutex(State(free: buffers, imageFloats: buffers[0].images.count, batchSize: buffers[0].labels.count))
    }
}

/// What the producer is to make; the buffer it fills travels beside it, on its own, so that nothing else
/// holds a reference to the arrays while they are refilled.
private struct ProducerJob {
    var generation: Int, epoch: Int, batchIndex: Int
    var order: [Int32]
}

private func producerLoop(shared: LoaderShared, maker: BatchMaker) {
    while true {
        // The buffer is moved out of the lock through an optional so that `fill` holds the only reference to
        // its arrays and refills them in place (a second reference would make it copy them).
        var buffer: Batch? = nil
        var taken: ProducerJob? = nil
        let stopping: Bool = shared.state.withLock { state in
            if state.stopping { return true }
            guard state.nextToProduce < state.batchCount, !state.free.isEmpty else { return false }
            taken = ProducerJob(generation: state.generation, epoch: state.epoch, batchIndex: state.nextToProduce,
                                order: state.order)
            buffer = state.free.removeLast()
            state.nextToProduce += 1
            state.producerBusy = true
            return false
        }
        if stopping {
            shared.producerExited.signal()
            return
        }
        guard let job = taken else {
            shared.producerWake.wait()
            continue
        }
        maker.fill(&buffer!, order: job.order, epoch: job.epoch, batchIndex: job.batchIndex)
        buffer!.generation = job.generation
        shared.state.withLock { state in
            state.producerBusy = false
            let batch = buffer.take()!
            if batch.generation == state.generation { state.ready.append(batch) } else { state.free.append(batch) }
        }
        shared.consumerWake.signal()
    }
}
