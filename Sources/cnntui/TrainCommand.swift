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
            """)

    @Option(help: "Model name (see the zoo).") var model: String
    @Option(help: "Dataset name or path.") var dataset: String
    @OptionGroup var recipe: RecipeOptions
    @Flag(help: "JSON lines on stdout: one per epoch and a last one.") var json = false

    func resolvedConfig() throws -> TrainingConfig { try recipe.resolve(model: model, dataset: dataset) }

    func validate() throws {
        _ = try resolvedConfig()
    }

    func run() throws {
        let config = try resolvedConfig()
        let request = RunRequest(.new(config), sessions: SessionStore(override: recipe.sessionsDir))
        let code = HeadlessRun(json: json).run(request)
        if code != 0 { throw ExitCode(code) }
    }
}
