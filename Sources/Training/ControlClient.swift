import Foundation
import Synchronization

/// Talks to a running session's control endpoint: one connection, requests one after another, each answered
/// within a timeout. Used by `cnntui control`, by attached viewers, and by anything else that steers a run.
public final class ControlClient {
    public enum Failure: Error, CustomStringConvertible, Equatable {
        /// No live run serves this session (no control.json, or a stale one, which is cleaned).
        case notRunning(session: String)
        case timedOut(seconds: Double)
        /// The connection broke, or the other end answered something that is not a reply.
        case io(String)

        public var description: String {
            switch self {
            case let .notRunning(session): return "session \(session) is not running (no live control endpoint)"
            case let .timedOut(seconds): return "no answer from the run within \(seconds) s"
            case let .io(message): return message
            }
        }
    }

    public let session: Session
    public let pid: Int32
    private let fd: Int32
    private var reader: SocketLineReader

    /// Connects through the session's control.json. A stale endpoint (its process gone, or nothing listening)
    /// is cleaned away and reported as `notRunning`.
    public init(session: Session) throws(Failure) {
        guard let file = ControlFile.read(in: session), RunLiveness.isOurHost(file) else {
            throw .notRunning(session: session.id)
        }
        guard RunLiveness.processExists(file.pid) else {
            RunLiveness.clean(session, file)
            throw .notRunning(session: session.id)
        }
        do { fd = try UnixSocket.connect(path: file.socket) } catch {
            if error.code == ECONNREFUSED || error.code == ENOENT {
                RunLiveness.clean(session, file)
                throw .notRunning(session: session.id)
            }
            throw .io("cannot reach the run of session \(session.id): \(error)")
        }
        self.session = session
        pid = file.pid
        reader = SocketLineReader(fd: fd)
    }

    deinit { close(fd) }

    /// Sends one request and waits at most `timeout` seconds for its reply (`ok` false carries the run's reason).
    public func send(_ request: ControlRequest, timeout: Double = 5) throws(Failure) -> ControlReply {
        guard UnixSocket.sendLine(fd, request.jsonLine) else { throw .io("the run closed the connection") }
        switch reader.nextLine(timeout: timeout) {
        case .line(let line):
            guard let reply = ControlReply.parse(line) else { throw .io("not a reply: \(line.prefix(120))") }
            return reply
        case .timedOut: throw .timedOut(seconds: timeout)
        case .closed: throw .io("the run closed the connection")
        case .tooLong: throw .io("the run's reply is too long")
        }
    }
}

/// Whether a session's training process is alive, from its control endpoint alone: live when control.json
/// names a process that exists and a `ping` through its socket is answered. Anything else is not running, and
/// the leftovers of a killed run (control.json, the socket file) are removed on the way, so they are never
/// mistaken for a live run again.
public enum RunLiveness {
    public enum Status: Sendable, Equatable {
        case live(pid: Int32)
        case notRunning
    }

    public static func status(of session: Session, timeout: Double = 2) -> Status {
        guard let file = ControlFile.read(in: session) else { return .notRunning }
        // A run on another machine sharing this directory cannot be asked; its files are not ours to clean.
        guard isOurHost(file) else { return .notRunning }
        do {
            let client = try ControlClient(session: session)
            let reply = try client.send(.ping, timeout: timeout)
            return reply.ok ? .live(pid: client.pid) : .notRunning
        } catch .timedOut {
            // The process exists and holds the socket, but is slow to answer: it is running.
            return .live(pid: file.pid)
        } catch {
            return .notRunning
        }
    }

    static func isOurHost(_ file: ControlFile) -> Bool { file.host == ControlFile.hostName }

    static func processExists(_ pid: Int32) -> Bool {
        pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)
    }

    /// Removes a stale endpoint's files, unless control.json changed since it was read (a new run has started).
    static func clean(_ session: Session, _ stale: ControlFile) {
        guard ControlFile.read(in: session) == stale else { return }
        // Only a socket: whatever else the path names (a copied session's control.json) is left alone.
        var info = stat()
        if lstat(stale.socket, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK { unlink(stale.socket) }
        try? FileManager.default.removeItem(at: ControlFile.url(in: session))
    }
}

/// An attached viewer's commands, sent through the run's control endpoint: connects at the first command and
/// again after a broken connection, and turns each refusal or failure into the message the status line shows.
public final class RemoteControl: RunControl {
    private let session: Session
    private let client = Mutex<ControlClient?>(nil)

    public init(session: Session) { self.session = session }

    public func send(_ command: TrainingCommand) -> String? {
        let request: ControlRequest
        switch command {
        case .pause: request = .pause
        case .resume: request = .resume
        case .saveCheckpoint: request = .save
        case .stop: request = .stop
        case .setLearningRate(let lr): request = .set(.learningRate, Double(lr))
        case let .set(field, value): request = .set(field, value)
        case .watchLayer(let watch):
            // The endpoint carries no layer views: they would have to be written for every viewer of the run.
            return watch == nil ? nil : "live layer views are shown in the terminal that runs the training"
        }
        let session = self.session
        return client.withLock { client -> String? in
            do {
                if client == nil { client = try ControlClient(session: session) }
                let reply = try client!.send(request)
                return reply.ok ? nil : reply.error ?? "refused"
            } catch {
                client = nil
                return "\(error)"
            }
        }
    }
}
