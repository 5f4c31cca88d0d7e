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
    @Option(name: .customLong("data-dir"), help: "Where datasets are looked for.") var dataDir: String?
    @Option(help: "Recipe for the defaults.") var recipe = "seed"
    @Option(help: "Epochs to train.") var epochs: Int?
    @Option(name: .customLong("batch-size")) var batchSize: Int?
    @Option(help: "sgd, adam or adamw.") var optimizer: String?
    @Option(help: "Learning rate.") var lr: Float?
    @Option var momentum: Float?
    @Option(name: .customLong("weight-decay")) var weightDecay: Float?
    @Option(help: "Learning-rate schedule spec.") var schedule: String?
    @Option(name: .customLong("label-smoothing")) var labelSmoothing: Float?
    @Option(help: "none, crop, flip or crop+flip.") var augment: String?
    @Option(help: "Seed for weights, shuffling, augmentation, dropout.") var seed: UInt64?
    @Option(help: "OpenBLAS threads (default 2).") var threads: Int?
    @Option(name: .customLong("limit-train"), help: "Train on the first N images only.") var limitTrain: Int?
    @Option(name: .customLong("limit-test"), help: "Test on the first N images only.") var limitTest: Int?
    @Option(name: .customLong("sessions-dir"), help: "Sessions directory (default $CNNTUI_SESSIONS or ./Sessions).")
    var sessionsDir: String?
    @Flag(help: "JSON lines on stdout: one per epoch and a last one.") var json = false

    func resolvedConfig() throws -> TrainingConfig {
        var overrides = TrainingOverrides()
        overrides.epochs = epochs
        overrides.batchSize = batchSize
        overrides.optimizer = optimizer
        overrides.learningRate = lr
        overrides.momentum = momentum
        overrides.weightDecay = weightDecay
        overrides.schedule = schedule
        overrides.labelSmoothing = labelSmoothing
        overrides.augmentation = augment
        overrides.seed = seed
        overrides.threads = threads
        overrides.limitTrain = limitTrain
        overrides.limitTest = limitTest
        do {
            return try TrainingConfig.resolve(model: model, dataset: dataset, dataDirectory: dataDir, recipe: recipe,
                                              overrides: overrides)
        } catch let error as TrainingError {
            throw ValidationError(error.description)
        }
    }

    func validate() throws {
        _ = try resolvedConfig()
    }

    func run() throws {
        let config = try resolvedConfig()
        let request = RunRequest(.new(config), sessions: SessionStore(override: sessionsDir))
        let code = HeadlessRun(json: json).run(request)
        if code != 0 { throw ExitCode(code) }
    }
}
