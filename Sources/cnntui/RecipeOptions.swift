import ArgumentParser
import Training

/// The flags that override a model's seed recipe, shared by `cnntui train` and the UI entry
/// (`cnntui --model M --dataset D ...`), so both accept the same names with the same meanings.
struct RecipeOptions: ParsableArguments {
    // Numbers parse `.unconditional`ly so that `--lr -1` reaches our check ("--lr: must be a positive
    // number") instead of reading -1 as a flag and reporting a missing value.
    @Option(name: .customLong("data-dir"), help: "Where datasets are looked for.") var dataDir: String?
    @Option(help: "Recipe for the defaults.") var recipe = "seed"
    @Option(parsing: .unconditional, help: "Epochs to train.") var epochs: Int?
    @Option(name: .customLong("batch-size"), parsing: .unconditional) var batchSize: Int?
    @Option(help: "sgd, adam or adamw.") var optimizer: String?
    @Option(parsing: .unconditional, help: "Learning rate.") var lr: Float?
    @Option(parsing: .unconditional) var momentum: Float?
    @Option(name: .customLong("weight-decay"), parsing: .unconditional) var weightDecay: Float?
    @Option(help: "Learning-rate schedule spec, e.g. constant, step:10:0.5, cosine:warmup=5:min=0.0005.")
    var schedule: String?
    @Option(name: .customLong("label-smoothing"), parsing: .unconditional) var labelSmoothing: Float?
    @Option(help: "none, crop, flip or crop+flip (default: the dataset's; crop for an image folder, which is not mirrored).")
    var augment: String?
    @Option(name: .customLong("image-size"), parsing: .unconditional,
            help: "Image folders: the side pictures are resized to (default: their own when all share one up to 64, else 32).")
    var imageSize: Int?
    @Option(help: "Image folders: stretch (both sides to the square) or crop (shorter side, then the centre).")
    var resize: String?
    @Flag(help: "Image folders: refuse unreadable pictures instead of skipping them.") var strict = false
    @Option(parsing: .unconditional, help: "Seed for weights, shuffling, augmentation, dropout.") var seed: UInt64?
    @Option(parsing: .unconditional, help: "Engine threads (default: one per processor, at most 16).") var threads: Int?
    @Option(name: .customLong("limit-train"), parsing: .unconditional, help: "Train on the first N images only.") var limitTrain: Int?
    @Option(name: .customLong("limit-test"), parsing: .unconditional, help: "Test on the first N images only.") var limitTest: Int?
    @Option(name: .customLong("sessions-dir"), help: "Sessions directory (default $CNNTUI_SESSIONS or ./Sessions).")
    var sessionsDir: String?

    var overrides: TrainingOverrides {
        var o = TrainingOverrides()
        o.epochs = epochs
        o.batchSize = batchSize
        o.optimizer = optimizer
        o.learningRate = lr
        o.momentum = momentum
        o.weightDecay = weightDecay
        o.schedule = schedule
        o.labelSmoothing = labelSmoothing
        o.augmentation = augment
        o.seed = seed
        o.threads = threads
        o.limitTrain = limitTrain
        o.limitTest = limitTest
        o.imageSize = imageSize
        o.resize = resize
        o.strict = strict ? true : nil
        return o
    }

    /// The seed recipe of `model` with every flag applied; a bad flag is a ValidationError naming it.
    func resolve(model: String, dataset: String) throws -> TrainingConfig {
        do {
            return try TrainingConfig.resolve(model: model, dataset: dataset, dataDirectory: dataDir, recipe: recipe,
                                              overrides: overrides)
        } catch let error as TrainingError {
            throw ValidationError(error.description)
        }
    }
}
