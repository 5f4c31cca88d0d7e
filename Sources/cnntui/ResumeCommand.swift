import ArgumentParser
import Training

/// `cnntui resume ID`: continue a session from its last checkpoint.
struct ResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Continue a session from its last checkpoint.")

    @OptionGroup var session: SessionArguments
    @Flag(help: "JSON lines on stdout: one per epoch and a last one.") var json = false

    func run() throws {
        let (store, opened) = try session.open()
        let request = RunRequest(.resume(id: opened.url.path, epochs: session.epochs), sessions: store)
        let code = HeadlessRun(json: json).run(request)
        if code != 0 { throw ExitCode(code) }
    }
}
