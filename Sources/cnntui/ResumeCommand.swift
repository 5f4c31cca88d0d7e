import ArgumentParser
import Training

/// `cnntui resume ID`: continue a session from its last checkpoint.
struct ResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Continue a session from its last checkpoint.")

    @Argument(help: "Session ID (or a unique part of it, or its path).") var id: String
    @Option(help: "Change the total number of epochs (e.g. to train further).") var epochs: Int?
    @Option(name: .customLong("sessions-dir")) var sessionsDir: String?
    @Flag(help: "JSON lines on stdout: one per epoch and a last one.") var json = false

    func validate() throws {
        if let epochs, epochs < 1 { throw ValidationError("--epochs: must be at least 1, got \(epochs)") }
    }

    func run() throws {
        let store = SessionStore(override: sessionsDir)
        let session: Session
        do { session = try store.open(id) } catch { throw ValidationError("\(error)") }
        let request = RunRequest(.resume(id: session.url.path, epochs: epochs), sessions: store)
        let code = HeadlessRun(json: json).run(request)
        if code != 0 { throw ExitCode(code) }
    }
}
