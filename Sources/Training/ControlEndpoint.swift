import Foundation
import Synchronization

/// A session's `control.json`, written atomically by the training process once its endpoint listens and
/// removed when it ends: `{"v":1,"pid":N,"socket":"<path>","started":<unix seconds>,"host":"<name>"}`.
/// The socket path is recorded rather than derived, so a reader never needs to know how it was chosen.
public struct ControlFile: Codable, Sendable, Equatable {
    public static let version = 1
    public var v: Int
    public var pid: Int32
    public var socket: String
    public var started: Double
    public var host: String

    public init(pid: Int32, socket: String, started: Double, host: String) {
        v = Self.version; self.pid = pid; self.socket = socket; self.started = started; self.host = host
    }

    public static func url(in session: Session) -> URL { session.url.appendingPathComponent("control.json") }

    /// The session's control file, if there is a readable one.
    public static func read(in session: Session) -> ControlFile? {
        guard let data = try? Data(contentsOf: url(in: session)) else { return nil }
        return try? JSONDecoder().decode(ControlFile.self, from: data)
    }

    static var hostName: String { ProcessInfo.processInfo.hostName }
}

/// Where a session's socket lives. Unix socket paths are limited to about 100 bytes, so the socket is not in
/// the session (whose path can be any length) but in a short private directory, named by a hash of the
/// session directory's real path: `$XDG_RUNTIME_DIR/cnntui/<16 hex>.sock`, else `/tmp/cnntui-<uid>/<16 hex>.sock`.
enum ControlSocketPath {
    /// The directory, created 0700 if missing; refused if it is not ours or others can enter it (a directory
    /// someone else prepared could hand our commands to their listener).
    static func directory() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        let directory: String
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty, runtime.hasPrefix("/") {
            directory = runtime + "/cnntui"
        } else {
            directory = "/tmp/cnntui-\(getuid())"
        }
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw TrainingError.setup(message: "control endpoint: cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        var info = stat()
        guard lstat(directory, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, info.st_uid == getuid(),
              info.st_mode & 0o077 == 0 else {
            throw TrainingError.setup(message: "control endpoint: \(directory) is not a private directory of this user")
        }
        return directory
    }

    /// The socket path for a session directory.
    static func path(for session: Session) throws -> String {
        let directory = try directory()
        removeDeadSockets(in: directory)
        return directory + "/" + name(for: session) + ".sock"
    }

    /// Sockets of runs that were killed, or whose session went away with them, stay behind with nobody
    /// listening: a connection to one is refused. They are removed whenever a run starts, so the directory
    /// does not fill up.
    static func removeDeadSockets(in directory: String) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in names where name.hasSuffix(".sock") {
            let path = directory + "/" + name
            do { Foundation.close(try UnixSocket.connect(path: path)) } catch {
                if error.code == ECONNREFUSED { unlink(path) }
            }
        }
    }

    /// 16 hex digits of FNV-1a over the real path: short, stable for one directory, and distinct for distinct
    /// ones in practice (only names within one user's directory must differ).
    static func name(for session: Session) -> String {
        let real = session.url.resolvingSymlinksInPath().standardizedFileURL.path
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in real.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// What a reply reports about the run: kept current by the engine thread, read by the endpoint's threads.
public struct EngineStatus: Sendable, Equatable {
    public var state: TrainingState = .starting
    public var epoch = 1
    public var globalStep = 0
    public init() {}
}

final class EngineStatusBoard: Sendable {
    private let status = Mutex(EngineStatus())
    func update(_ change: (inout EngineStatus) -> Void) { status.withLock { change(&$0) } }
    var current: EngineStatus { status.withLock { $0 } }
}

/// A run's control endpoint: a Unix domain socket that takes one JSON request per line (`ControlRequest`) and
/// answers each with one line (`ControlReply`), plus the session's `control.json` that says where it is.
///
/// One thread accepts; each connection gets a thread of its own, so several clients can be connected at once
/// and a slow one holds up nobody. The engine is never waited on: accepted commands go to its `CommandQueue`,
/// which it drains at batch boundaries. Only the run's own user gets in: the directory is 0700, the socket
/// 0600, and the peer's uid is checked.
public final class ControlEndpoint: Sendable {
    public let socketPath: String
    private let controlURL: URL
    private let listener: Int32
    private let wake = WakePipe()
    private let session: Session
    private let commands: CommandQueue
    private let rules: SteeringRules
    private let status: EngineStatusBoard
    private let state = Mutex(Connections())
    private let acceptorDone = DispatchSemaphore(value: 0)

    private struct Connections {
        var open: Set<Int32> = []
        var closing = false
    }

    /// More connections than this at once are answered with an error and closed.
    static let maxConnections = 32

    /// Listens for `session` and writes its control.json. A socket already at the path is taken over when
    /// nothing answers there (left by a killed run); a live one means another process trains this session.
    static func open(session: Session, commands: CommandQueue, rules: SteeringRules, status: EngineStatusBoard) throws
        -> ControlEndpoint {
        let path = try ControlSocketPath.path(for: session)
        if let probe = try? UnixSocket.connect(path: path) {
            Foundation.close(probe)
            throw TrainingError.session(path: session.url.path, message: "another process serves its control endpoint \(path)")
        }
        unlink(path)
        let listener: Int32
        do { listener = try UnixSocket.listen(path: path, mode: 0o600) } catch {
            throw TrainingError.setup(message: "control endpoint: \(error)")
        }
        let endpoint = ControlEndpoint(socketPath: path, listener: listener, session: session, commands: commands,
                                       rules: rules, status: status)
        do {
            let file = ControlFile(pid: getpid(), socket: path, started: Date().timeIntervalSince1970, host: ControlFile.hostName)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            try AtomicFile.write(try encoder.encode(file), to: endpoint.controlURL)
        } catch {
            endpoint.close()
            throw TrainingError.setup(message: "control endpoint: cannot write control.json: \(error)")
        }
        endpoint.startAccepting()
        return endpoint
    }

    private init(socketPath: String, listener: Int32, session: Session, commands: CommandQueue, rules: SteeringRules,
                 status: EngineStatusBoard) {
        self.socketPath = socketPath
        self.listener = listener
        self.session = session
        self.controlURL = ControlFile.url(in: session)
        self.commands = commands
        self.rules = rules
        self.status = status
    }

    private func startAccepting() {
        let thread = Thread { [self] in
            while let fd = UnixSocket.accept(listener, wake: wake.readEnd) {
                let admitted = state.withLock { connections -> Bool in
                    guard !connections.closing, connections.open.count < Self.maxConnections else { return false }
                    connections.open.insert(fd)
                    return true
                }
                guard admitted else {
                    UnixSocket.sendLine(fd, ControlReply.refused("too many connections").jsonLine)
                    Foundation.close(fd)
                    continue
                }
                let connection = Thread { [self] in serve(fd) }
                connection.name = "cnntui-control-connection"
                connection.start()
            }
            acceptorDone.signal()
        }
        thread.name = "cnntui-control"
        thread.start()
    }

    /// Stops listening, ends every connection, and removes the socket and control.json. Idempotent.
    public func close() {
        let open = state.withLock { connections -> Set<Int32>? in
            guard !connections.closing else { return nil }
            connections.closing = true
            return connections.open
        }
        guard let open else { return }
        wake.signal()
        acceptorDone.wait()
        Foundation.close(listener)
        // Each connection's thread closes its own descriptor once its read fails.
        for fd in open { shutdown(fd, Int32(SHUT_RDWR)) }
        unlink(socketPath)
        try? FileManager.default.removeItem(at: controlURL)
    }

    private func serve(_ fd: Int32) {
        defer {
            state.withLock { _ = $0.open.remove(fd) }
            Foundation.close(fd)
        }
        guard let uid = UnixSocket.peerUID(fd), uid == getuid() else {
            UnixSocket.sendLine(fd, ControlReply.refused("permission denied: this run belongs to another user").jsonLine)
            return
        }
        var reader = SocketLineReader(fd: fd)
        while true {
            switch reader.nextLine(timeout: nil) {
            case .line(let line):
                if line.allSatisfy(\.isWhitespace) { continue }
                guard UnixSocket.sendLine(fd, reply(to: line).jsonLine) else { return }
            case .tooLong:
                UnixSocket.sendLine(fd, ControlReply.refused("request line too long").jsonLine)
                return
            case .closed, .timedOut:
                return
            }
        }
    }

    /// Checks one request line and, when it is acceptable, hands its command to the engine.
    func reply(to line: String) -> ControlReply {
        let request: ControlRequest
        do { request = try ControlRequest.parse(line) } catch { return .refused(error.message) }
        let now = status.current
        if now.state == .finished || now.state == .failed, request != .ping {
            return .refused("the run has \(now.state.rawValue)")
        }
        if case let .set(field, value) = request, let problem = rules.problem(field, value) {
            return .refused(problem)
        }
        if let command = request.command { commands.send(command) }
        return ControlReply(ok: true, state: now.state.rawValue, epoch: now.epoch, globalStep: now.globalStep,
                            session: session.id)
    }
}
