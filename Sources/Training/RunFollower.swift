import Foundation

/// A run that another process executes, followed through its session's `events.jsonl`: the events to fold, in
/// the order written, and, when the file has stopped growing and the writer is gone without a last event, an
/// `.stateChanged(.interrupted)` of its own. Polled from one thread (the viewer's UI loop).
public final class RunFollower {
    /// Whether the process that wrote the newest `started` line is still there (`pid` nil: the writer did not say).
    public typealias Liveness = (_ session: Session, _ pid: Int32?) -> Bool

    public struct Update: Sendable, Equatable {
        /// Fold from scratch: the file was truncated (a resume) or replaced.
        public var reset = false
        public var events: [TrainingEvent] = []
        /// Lines that are not events, each naming the file and line (the lines are skipped).
        public var problems: [String] = []
    }

    /// How often a run whose file is quiet is checked for its process: "interrupted" shows within a second.
    public static let livenessInterval = 0.5

    public let session: Session
    private let follower: EventFollower
    private let isAlive: Liveness
    /// The writer's pid, from the newest `started` line.
    private var pid: Int32?
    /// A `started` line was read and no last event (finished, failed, or our interrupted) since.
    private var running = false
    private var lastLivenessCheck: Double?

    public init(session: Session, isAlive: @escaping Liveness = RunFollower.processExists) {
        self.session = session
        self.isAlive = isAlive
        follower = EventFollower(url: session.eventsURL)
    }

    /// What was written since the last poll; `now` is a monotonic clock in seconds (tests pass their own).
    public func poll(now: Double = RunFollower.monotonicSeconds()) -> Update {
        var update = read()
        guard update.events.isEmpty, running else { return update }
        if let last = lastLivenessCheck, now - last < Self.livenessInterval { return update }
        lastLivenessCheck = now
        guard !isAlive(session, pid) else { return update }
        // Gone: whatever it wrote before it went is in the file by now.
        let rest = read()
        update.reset = update.reset || rest.reset
        update.events += rest.events
        update.problems += rest.problems
        if running {
            running = false
            update.events.append(.stateChanged(.interrupted))
        }
        return update
    }

    private func read() -> Update {
        let batch = follower.poll()
        var update = Update(reset: batch.reset)
        if batch.reset {
            pid = nil
            running = false
        }
        for line in batch.lines {
            let decoded: SessionEvents.Decoded
            do { decoded = try SessionEvents.decode(line.bytes, file: session.eventsURL.path, lineNumber: line.number) } catch {
                update.problems.append("\(error)")
                continue
            }
            // A newer writer's kind of event: this viewer shows the rest.
            guard case .event(let recorded) = decoded else { continue }
            switch recorded.event {
            case .started:
                pid = recorded.pid
                running = true
            case .finished, .failed:
                running = false
            default: break
            }
            update.events.append(recorded.event)
        }
        return update
    }

    /// The default liveness: `kill(pid, 0)` finds the process (EPERM: it exists, another user's). Without a pid
    /// nothing can be told, and the run counts as alive.
    public static func processExists(_ session: Session, _ pid: Int32?) -> Bool {
        guard let pid else { return true }
        return RunLiveness.processExists(pid)
    }

    public static func monotonicSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
}
