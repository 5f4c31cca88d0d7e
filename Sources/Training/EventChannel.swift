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
    }

    private let pending = Mutex(Pending())
    private let wake: WakePipe

    public init() {
        wake = WakePipe()
    }

    /// Readable when events are waiting; `drain()` empties it.
    public var wakeFileDescriptor: Int32 { wake.readEnd }

    /// Posts an event without blocking. A step event replaces an unread one and moves to the end,
    /// so the queue keeps its order and holds at most one step event.
    public func post(_ event: TrainingEvent) {
        pending.withLock { queue in
            if case .step = event {
                if let old = queue.stepIndex { queue.events.remove(at: old) }
                queue.stepIndex = queue.events.count
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

/// A non-blocking pipe used as a level-triggered "something happened" flag for `poll()`.
final class WakePipe: Sendable {
    let readEnd: Int32
    let writeEnd: Int32

    init() {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) != 0 {
            // Out of descriptors: the channel still works, consumers just cannot poll on it.
            fds = [-1, -1]
        }
        for fd in fds where fd >= 0 {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        readEnd = fds[0]
        writeEnd = fds[1]
    }

    deinit {
        if readEnd >= 0 { close(readEnd) }
        if writeEnd >= 0 { close(writeEnd) }
    }

    /// Writes one byte; a full pipe (EAGAIN) is fine, it is readable already.
    func signal() {
        guard writeEnd >= 0 else { return }
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }

    /// Reads until the pipe is empty.
    func clear() {
        guard readEnd >= 0 else { return }
        var buffer = [UInt8](repeating: 0, count: 256)
        while read(readEnd, &buffer, buffer.count) > 0 {}
    }

    func waitReadable(timeout: Double?) -> Bool {
        guard readEnd >= 0 else { return false }
        var fd = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
        let milliseconds = timeout.map { Int32(max(0, min($0 * 1000, Double(Int32.max)))) } ?? -1
        while true {
            let ready = poll(&fd, 1, milliseconds)
            if ready < 0 && errno == EINTR { continue }
            return ready > 0
        }
    }
}
