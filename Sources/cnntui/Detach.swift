import ArgumentParser
import Foundation
import Training

/// Starts `cnntui run-session PATH` as a background process that outlives this one and the terminal: its own
/// session and process group (POSIX_SPAWN_SETSID, so no controlling terminal sends it SIGHUP), stdin from
/// /dev/null, stdout and stderr appended to the session's `train.log`.
enum Detach {
    static func logURL(of session: Session) -> URL { session.url.appendingPathComponent("train.log") }

    /// The background process's pid.
    static func start(session: Session, json: Bool) throws -> pid_t {
        guard let executable = Bundle.main.executablePath else {
            throw TrainingError.setup(message: "--detach: cannot find the cnntui executable")
        }
        let arguments = [executable, RunSessionCommand.configuration.commandName!, session.url.path] + (json ? ["--json"] : [])
        keepDescriptorsFromChild()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logURL(of: session).path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Signals back to their defaults and none blocked: the child must take SIGTERM like any headless run.
        var defaults = sigset_t(), mask = sigset_t()
        sigemptyset(&defaults)
        for signalNumber in [SIGINT, SIGTERM, SIGPIPE] { sigaddset(&defaults, signalNumber) }
        sigemptyset(&mask)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setflags(&attributes, Int16(setsidFlag | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let environment = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        var argv = arguments.map { strdup($0) } + [nil]
        var envp = environment.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid = pid_t()
        let status = posix_spawn(&pid, executable, &actions, &attributes, &argv, &envp)
        guard status == 0 else {
            throw TrainingError.setup(message: "--detach: cannot start \(executable): \(String(cString: strerror(status)))")
        }
        return pid
    }

    /// Marks every descriptor above stderr close-on-exec. Whatever this process inherited (the write end of a
    /// pipe that a `$(cnntui train --detach)` or a test harness reads to its end) must not stay open in the
    /// background run, or the reader would wait for the whole training.
    private static func keepDescriptorsFromChild() {
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/dev/fd")) ?? []
        for fd in open.compactMap({ Int32($0) }) where fd > 2 {
            _ = fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC)
        }
    }

    #if os(Linux)
    private static let setsidFlag = Int32(0x80)  // glibc's POSIX_SPAWN_SETSID, hidden behind _GNU_SOURCE
    #else
    private static let setsidFlag = Int32(POSIX_SPAWN_SETSID)
    #endif

    /// Waits up to `seconds` for the background run to serve its endpoint; nil when it does (or is still
    /// preparing), else the exit status it ended with.
    static func earlyExit(of pid: pid_t, session: Session, seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            }
            if ControlFile.read(in: session) != nil { return nil }
            usleep(50_000)
        }
        return nil
    }
}

/// The hidden command `train --detach` and a dashboard's `d` start in the background: trains a session the
/// parent created, or resumes one the parent's dashboard stopped at a checkpoint.
struct RunSessionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run-session", abstract: "Train or resume a session in the background (started by --detach and d).", shouldDisplay: false)

    @Argument(help: "The session directory.") var path: String
    @Flag(help: "JSON lines on stdout (into the log).") var json = false

    func run() throws {
        // The terminal that started `train --detach` may close at any time; this run goes on.
        signal(SIGHUP, SIG_IGN)
        let session = Session(id: URL(fileURLWithPath: path).lastPathComponent, url: URL(fileURLWithPath: path))
        let store = SessionStore(root: session.url.deletingLastPathComponent())
        // A session `train --detach` created starts training; one detached from a dashboard resumes at its checkpoint.
        let origin: RunRequest.Origin = session.checkpoint(.last) == nil ? .created(session) : .resume(id: session.url.path, epochs: nil)
        let code = HeadlessRun(json: json).run(RunRequest(origin, sessions: store))
        if code != 0 { throw ExitCode(code) }
    }
}
