import Foundation
import Synchronization

/// Events from the engine thread to its consumers.
///
/// The engine never waits on a consumer: `post` takes a lock for a few instructions and writes one byte
/// to a non-blocking pipe. A step event replaces an unread step event (a slow consumer sees only the
/// newest), every other event is appended and kept until drained. The pipe's read end,
/// `wakeFileDescriptor`, becomes readable whenever something was posted, so a UI thread can `poll()`
/// on it together with stdin.
public final class EventChannel: Sendable {
    private struct Pending {
        var events: [TrainingEvent] = []
        /// Index of the unread step event in `events`, if any (there is at most one).
        var stepIndex: Int?
        /// Index of the unread layer view, if any: views coalesce like steps.
        var layerViewIndex: Int?
    }

    private let pending = Mutex(Pending())
    private let wake: WakePipe

    public init() {
        wake = WakePipe()
    }

    /// Readable when events are waiting; `drain()` empties it.
    public var wakeFileDescriptor: Int32 { wake.readEnd }

    /// Posts an event without blocking. A step event (or a layer view) replaces an unread one and moves to
    /// the end, so the queue keeps its order and holds at most one of each.
    public func post(_ event: TrainingEvent) {
        pending.withLock { queue in
            if case .step = event {
                if let old = queue.stepIndex {
                    queue.events.remove(at: old)
                    if let view = queue.layerViewIndex, view > old { queue.layerViewIndex = view - 1 }
                }
                queue.stepIndex = queue.events.count
            } else if case .layerView = event {
                if let old = queue.layerViewIndex {
                    queue.events.remove(at: old)
                    if let step = queue.stepIndex, step > old { queue.stepIndex = step - 1 }
                }
                queue.layerViewIndex = queue.events.count
            }
            queue.events.append(event)
        }
        wake.signal()
    }

    /// Everything posted since the last drain, oldest first.
    public func drain() -> [TrainingEvent] {
        wake.clear()
        return pending.withLock { queue in
            defer { queue = Pending() }
            return queue.events
        }
    }

    /// Blocks until an event is waiting or `timeout` seconds pass (nil: forever); true when one is.
    /// For consumers that have nothing else to poll on (tests, the headless CLI without a terminal).
    @discardableResult
    public func waitForEvents(timeout: Double?) -> Bool {
        if pending.withLock({ !$0.events.isEmpty }) { return true }
        return wake.waitReadable(timeout: timeout)
    }
}

/// Commands from consumers to the engine thread. The engine drains them at every batch boundary
/// without blocking; while paused it blocks on `waitForCommand()` (a semaphore, not a spin).
public final class CommandQueue: Sendable {
    private let pending = Mutex<[TrainingCommand]>([])
    private let arrived = DispatchSemaphore(value: 0)

    public init() {}

    public func send(_ command: TrainingCommand) {
        pending.withLock { $0.append(command) }
        arrived.signal()
    }

    /// Commands sent since the last call, oldest first; never blocks.
    func drain() -> [TrainingCommand] {
        pending.withLock { queue in
            defer { queue.removeAll() }
            return queue
        }
    }

    /// Blocks until a command has been sent (returns at once if one was sent since the last wait).
    func waitForCommand() {
        arrived.wait()
    }
}
