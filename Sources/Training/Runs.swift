import Foundation

/// A process executing a run now, as its liveness check reports it.
public struct LiveRun: Equatable, Sendable {
    public var pid: Int32
    public var paused: Bool
    public init(pid: Int32, paused: Bool) { self.pid = pid; self.paused = paused }
}

/// Where a run stands, as `cnntui runs` and the runs screen show it.
public enum RunStatus: Equatable, Sendable {
    /// A process is training it (or holds it paused) now.
    case running(pid: Int32), paused(pid: Int32)
    /// Its last checkpoint says every epoch is done.
    case finished
    /// Its process ended it before the last epoch, saving first (a `stop`, `q`, Ctrl-C, SIGTERM): resumable.
    case stopped
    /// It has a checkpoint to resume from, is not finished and nothing runs it.
    case interrupted
    /// No checkpoint yet and nothing runs it.
    case new

    /// The status from what is known: a live process wins, then the last checkpoint.
    public static func of(_ summary: SessionSummary, live: LiveRun?, ended: Bool = false) -> RunStatus {
        if let live { return live.paused ? .paused(pid: live.pid) : .running(pid: live.pid) }
        if summary.finished { return .finished }
        if ended { return .stopped }
        return summary.globalStep == nil ? .new : .interrupted
    }

    /// The status of a session on disk now.
    public static func of(_ session: Session, summary: SessionSummary) -> RunStatus {
        of(summary, live: RunProcess.live(session), ended: endedItself(session))
    }

    /// Whether the run's events file ends with its `finished` line: the process ended the run, rather than
    /// being killed or crashing. Reads only the file's tail: the last line is short, however long the
    /// evaluations before it.
    static func endedItself(_ session: Session) -> Bool {
        guard let handle = try? FileHandle(forReadingFrom: session.eventsURL) else { return false }
        defer { try? handle.close() }
        guard let size = try? handle.seekToEnd(), size > 0 else { return false }
        try? handle.seek(toOffset: size > 4096 ? size - 4096 : 0)
        guard let tail = try? handle.readToEnd() else { return false }
        let lines = tail.split(separator: UInt8(ascii: "\n"))
        guard let last = lines.last, tail.last == UInt8(ascii: "\n") else { return false }
        return String(decoding: last, as: UTF8.self).contains("\"type\":\"finished\"")
    }

    /// One word: running, paused, finished, stopped, interrupted, new.
    public var name: String {
        switch self {
        case .running: return "running"
        case .paused: return "paused"
        case .finished: return "finished"
        case .stopped: return "stopped"
        case .interrupted: return "interrupted"
        case .new: return "new"
        }
    }

    /// The word and, while a process holds the run, its pid: `running (pid 4242)`.
    public var text: String {
        guard let pid else { return name }
        return "\(name) (pid \(pid))"
    }

    public var pid: Int32? {
        switch self {
        case .running(let pid), .paused(let pid): return pid
        default: return nil
        }
    }

    public var isLive: Bool { pid != nil }
}

/// Whether a process executes a session now.
public enum RunProcess {
    /// A `ping` through the session's control endpoint: its answer tells running from paused. A stale
    /// endpoint (its process gone, nothing listening) is cleaned away on the way and is not live.
    public static func live(_ session: Session) -> LiveRun? {
        guard let client = try? ControlClient(session: session) else { return nil }
        do {
            let reply = try client.send(.ping, timeout: 1)
            return reply.ok ? LiveRun(pid: client.pid, paused: reply.state == TrainingState.paused.rawValue) : nil
        } catch .timedOut {
            // The process exists and holds the socket, but is slow to answer: it is running.
            return LiveRun(pid: client.pid, paused: false)
        } catch {
            return nil
        }
    }
}

/// One row of `cnntui runs`: a session's summary, its status, when it started and what it takes on disk.
public struct RunInfo: Equatable, Sendable {
    public var session: Session
    public var summary: SessionSummary
    public var status: RunStatus
    /// From the ID the store gave it (`yyyyMMdd-HHmmss-...`), else when its config.json was written.
    public var started: Date?
    /// Blocks allocated to its files, in bytes (symlinks counted once, not followed).
    public var sizeBytes: Int64

    public init(session: Session, summary: SessionSummary, status: RunStatus, started: Date?, sizeBytes: Int64) {
        self.session = session; self.summary = summary; self.status = status; self.started = started
        self.sizeBytes = sizeBytes
    }

    public var id: String { session.id }

    /// Reads a session's files now.
    public static func load(_ session: Session) -> RunInfo {
        let summary = session.summary()
        return RunInfo(session: session, summary: summary, status: RunStatus.of(session, summary: summary),
                       started: startDate(id: session.id) ?? modificationDate(session.configURL),
                       sizeBytes: diskUsage(session.url))
    }

    /// Every session of a store, in ID order (oldest first).
    public static func list(_ store: SessionStore) -> [RunInfo] {
        store.sessionIDs().map { load(Session(id: $0, url: store.root.appendingPathComponent($0))) }
    }

    static func startDate(id: String) -> Date? {
        guard id.count >= 15 else { return nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        return formatter.date(from: String(id.prefix(15)))
    }

    static func modificationDate(_ url: URL) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date
    }

    /// `du`'s count: allocated blocks of every file and directory under `url`, without following symlinks.
    static func diskUsage(_ url: URL) -> Int64 {
        var total: Int64 = 0
        var pending = [url.path]
        while let path = pending.popLast() {
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            total += Int64(info.st_blocks) * 512
            if (info.st_mode & mode_t(S_IFMT)) == mode_t(S_IFDIR) {
                for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
                    pending.append(path + "/" + name)
                }
            }
        }
        return total
    }

    /// Whether every word of `filter` (case-insensitive) is part of the ID, model, dataset or status.
    public func matches(_ filter: String) -> Bool {
        let haystack = [id, summary.model ?? "", summary.dataset ?? "", status.name].joined(separator: " ").lowercased()
        return filter.lowercased().split(separator: " ").allSatisfy { haystack.contains($0) }
    }
}

/// What `cnntui runs --sort` and the runs screen sort by. Each field has the order a person wants first:
/// the best accuracy and the biggest run at the top, names and start times ascending.
public enum RunSortField: String, CaseIterable, Sendable {
    case start, accuracy, last, model, dataset, status, epochs, size

    public var descendingFirst: Bool { [.accuracy, .last, .epochs, .size].contains(self) }

    /// Sorted by this field (ties by ID), `reversed` flipping the field's usual order; runs without the
    /// value go last either way.
    public func sorted(_ runs: [RunInfo], reversed: Bool = false) -> [RunInfo] {
        let descending = descendingFirst != reversed
        func key(_ r: RunInfo) -> SortKey? {
            switch self {
            case .start: return r.started.map { .number($0.timeIntervalSince1970) }
            case .accuracy: return r.summary.bestTestAccuracy.map { .number(Double($0)) }
            case .last: return r.summary.lastTestAccuracy.map { .number(Double($0)) }
            case .model: return r.summary.model.map { .text($0) }
            case .dataset: return r.summary.dataset.map { .text($0) }
            case .status: return .text(r.status.name)
            case .epochs: return r.summary.epochsDone.map { .number(Double($0)) }
            case .size: return .number(Double(r.sizeBytes))
            }
        }
        return runs.sorted { a, b in
            switch (key(a), key(b)) {
            case let (x?, y?) where x != y: return descending ? y < x : x < y
            case (_?, nil): return true
            case (nil, _?): return false
            default: return a.id < b.id
            }
        }
    }

    enum SortKey: Comparable {
        case number(Double), text(String)
    }
}
