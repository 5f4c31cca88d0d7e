import ArgumentParser
import Training

/// `cnntui train`: one run, headless, in a new session.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model headless, in a new session.",
        discussion: """
            The model's seed recipe (--recipe seed) sets every default; each flag overrides it.
            Ctrl-C saves a checkpoint at the next batch boundary and exits 130; a second Ctrl-C quits at once.
            With --detach the run goes on in the background (its own session, output in the session's train.log,
            immune to the terminal closing): the command prints the session ID and how to attach, and returns.
            """)

    @Option(help: "Model name (see the zoo).") var model: String
    @Option(help: "Dataset name or path.") var dataset: String
    @OptionGroup var recipe: RecipeOptions
    @Flag(help: "JSON lines on stdout: one per epoch and a last one.") var json = false
    @Flag(help: "Train in the background; print the session ID and return.") var detach = false

    func resolvedConfig() throws -> TrainingConfig { try recipe.resolve(model: model, dataset: dataset) }

    func validate() throws {
        _ = try resolvedConfig()
    }

    func run() throws {
        let config = try resolvedConfig()
        let store = SessionStore(override: recipe.sessionsDir)
        if detach { return try runDetached(config, store: store) }
        let request = RunRequest(.new(config), sessions: store)
        let code = HeadlessRun(json: json).run(request)
        if code != 0 { throw ExitCode(code) }
    }

    /// The session is made here, so its ID is known before the background process starts training it.
    private func runDetached(_ config: TrainingConfig, store: SessionStore) throws {
        let session = try store.create(config: config)
        let pid = try Detach.start(session: session, json: json)
        // A run that cannot start (a missing dataset) usually fails within a moment: say so here, not only in the log.
        if let status = Detach.earlyExit(of: pid, session: session, seconds: 3), status != 0 {
            let log = (try? String(contentsOf: Detach.logURL(of: session), encoding: .utf8)) ?? ""
            stderrLine(log.split(separator: "\n").suffix(5).joined(separator: "\n"))
            stderrLine("error: the background run ended at once (status \(status)); log: \(Detach.logURL(of: session).path)")
            throw ExitCode(status)
        }
        let sessionsFlag = recipe.sessionsDir.map { " --sessions-dir \($0)" } ?? ""
        print("session \(session.id) training in the background (pid \(pid)), log: \(Detach.logURL(of: session).path)")
        print("attach: cnntui attach \(session.id)\(sessionsFlag)")
        print("steer:  cnntui control \(session.id)\(sessionsFlag) pause|resume|save|stop|set FIELD VALUE")
    }
}
