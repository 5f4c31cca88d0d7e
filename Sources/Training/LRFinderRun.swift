import Data
import Engine
import Foundation
import Synchronization

/// What a sweep tells its consumer, in order.
public enum LRFinderEvent: Sendable, Equatable {
    /// Once, before the first batch: what is swept.
    case started(LRFinderSettings)
    case point(LRFinderPoint)
    /// The last event of a sweep that ran.
    case finished(LRFinderResult)
    /// The last event of a sweep that could not run (a missing dataset, a model that cannot take the images).
    case failed(message: String)
}

/// A sweep running on its own thread: drain its events, cancel it, wait for it.
public final class LRFinderHandle: Sendable {
    private let pending = Mutex<[LRFinderEvent]>([])
    private let cancelled = Atomic<Bool>(false)
    private let wake = WakePipe()
    private let done = DispatchGroup()

    init() {}

    /// Readable when events are waiting; `drain()` empties it.
    public var wakeFileDescriptor: Int32 { wake.readEnd }

    /// Everything posted since the last drain, oldest first; never blocks.
    public func drain() -> [LRFinderEvent] {
        wake.clear()
        return pending.withLock { queue in
            defer { queue.removeAll() }
            return queue
        }
    }

    /// Blocks until an event is waiting or `timeout` seconds pass; true when one is.
    @discardableResult
    public func waitForEvents(timeout: Double?) -> Bool {
        if pending.withLock({ !$0.isEmpty }) { return true }
        return wake.waitReadable(timeout: timeout)
    }

    /// Ends the sweep before its next batch (it still restores the network and posts `.finished`).
    public func cancel() { cancelled.store(true, ordering: .relaxed) }

    var isCancelled: Bool { cancelled.load(ordering: .relaxed) }

    /// Blocks until the sweep's thread has ended.
    public func wait() { done.wait() }

    fileprivate func post(_ event: LRFinderEvent) {
        pending.withLock { $0.append(event) }
        wake.signal()
    }

    fileprivate func enter() { done.enter() }
    fileprivate func leave() { done.leave() }
}

/// Runs the learning-rate finder for a config, as `cnntui lr-find` and the recipe screen's `f` do.
///
/// The sweep trains a model of its own, built by `sources` from the config's seed (the same initial weights the
/// run will start from), with the recipe's optimizer, loss and batches. Why its own: a run started after the
/// sweep then builds its model, optimizer, loader and dropout stream afresh from the config, exactly as
/// it would have without the sweep; nothing of the run's state (weights, RNG streams, loader position) exists yet
/// to be advanced. The loader's order and augmentation are a pure function of (seed, epoch), so the sweep
/// training on epoch 1's batches takes nothing from the run either. `LRSweep` still restores what it trained.
public enum LRFinderRun {
    /// Starts the sweep on a dedicated thread (seconds of computing, like training; not the cooperative pool).
    public static func start(_ config: TrainingConfig, settings: LRFinderSettings = LRFinderSettings(),
                             sources: RunSources = .standard) -> LRFinderHandle {
        let handle = LRFinderHandle()
        handle.enter()
        let thread = Thread {
            run(config, settings: settings, sources: sources, handle: handle)
            handle.leave()
        }
        thread.name = "cnntui-lr-finder"
        thread.stackSize = 16 << 20
        thread.start()
        return handle
    }

    private static func run(_ config: TrainingConfig, settings: LRFinderSettings, sources: RunSources,
                            handle: LRFinderHandle) {
        do {
            try config.validate()
            try settings.validate()
            Parallel.setThreads(config.threads)
            let data = try RunData(config, sources: sources)
            let network = try sources.buildModel(config, data.dataset.shape, data.dataset.classNames.count)
            let optimizer = try OptimizerFactory.make(config, parameters: network.trainableParameters)
            let step = TrainingStep(network: network, optimizer: optimizer,
                                    loss: CrossEntropyLoss(labelSmoothing: config.labelSmoothing))
            let loader = try data.trainLoader(config)
            handle.post(.started(settings))
            let result = try LRSweep.run(step: step, loader: loader, settings: settings,
                                         isCancelled: { handle.isCancelled }, onPoint: { handle.post(.point($0)) })
            handle.post(.finished(result))
        } catch {
            handle.post(.failed(message: "\(error)"))
        }
    }
}
