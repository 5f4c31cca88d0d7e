import Data

/// Everything that decides a run, fully resolved (recipe applied, every flag folded in). It is what
/// `config.json` holds, what a resumed run reads back, and the only thing that crosses to the engine
/// thread besides commands: the engine builds the model, loader and optimizer from it itself.
public struct TrainingConfig: Codable, Sendable, Equatable {
    public enum OptimizerKind: String, Codable, Sendable, CaseIterable {
        case sgd, adam, adamw
    }

    public var model: String
    public var dataset: String
    public var dataDirectory: String?
    /// The recipe the defaults came from (`seed`: the model's seed recipe).
    public var recipe: String
    public var epochs: Int
    public var batchSize: Int
    /// Drop the last, smaller batch of each epoch (ShuffleNetV1's seed does).
    public var dropLast: Bool
    public var optimizer: OptimizerKind
    public var learningRate: Float
    public var momentum: Float
    public var weightDecay: Float
    /// Schedule spec in `ScheduleSpec`'s grammar (`constant`, `step:10:0.5`, `cosine:warmup=4:min=0.0005`, ...).
    public var schedule: String
    public var labelSmoothing: Float
    /// `none`, `crop`, `flip`, `crop+flip`; nil until the dataset's default is known (the engine fills it in).
    public var augmentation: String?
    /// Fraction of the training set held out (never trained on); MobileNetV1's seed holds out 10 %.
    public var validationFraction: Double
    /// Seeds the weights, the shuffling, the augmentation, dropout and the validation split.
    public var seed: UInt64
    /// The engine's threads (`Parallel.setThreads`), set at the start of the run.
    public var threads: Int
    /// Image folders: the side pictures are resized to (`--image-size`); nil: the pictures' own side when they
    /// all share one square size up to 64, else 32.
    public var imageSize: Int?
    /// Image folders: `stretch` (nil) or `crop` (shorter side, then the centre), `--resize`.
    public var resize: ResizeMode?
    /// Image folders: refuse unreadable pictures instead of skipping them (`--strict`); nil: skip.
    public var strict: Bool?
    /// Train and test on the first N images only (quick runs, tests).
    public var limitTrain: Int?
    public var limitTest: Int?
    /// Every how many steps a step line goes into the metrics files.
    public var metricsEvery: Int
    /// Versions that produced the run (`cnntui`, `session_format`, `blas_core`), for the record.
    public var versions: [String: String]

    public init(model: String, dataset: String, dataDirectory: String? = nil, recipe: String = "seed",
                epochs: Int, batchSize: Int, dropLast: Bool = false, optimizer: OptimizerKind, learningRate: Float,
                momentum: Float = 0, weightDecay: Float = 0, schedule: String = "constant",
                labelSmoothing: Float = 0, augmentation: String? = "none", validationFraction: Double = 0,
                seed: UInt64 = 0, threads: Int = 2, limitTrain: Int? = nil, limitTest: Int? = nil,
                metricsEvery: Int = 10, versions: [String: String] = TrainingConfig.currentVersions) {
        self.model = model; self.dataset = dataset; self.dataDirectory = dataDirectory; self.recipe = recipe
        self.epochs = epochs; self.batchSize = batchSize; self.dropLast = dropLast; self.optimizer = optimizer
        self.learningRate = learningRate; self.momentum = momentum; self.weightDecay = weightDecay
        self.schedule = schedule; self.labelSmoothing = labelSmoothing; self.augmentation = augmentation
        self.validationFraction = validationFraction; self.seed = seed; self.threads = threads
        self.limitTrain = limitTrain; self.limitTest = limitTest; self.metricsEvery = metricsEvery
        self.versions = versions
    }

    public static let version = "0.1.0"
    /// Bumped when the layout of a session directory changes.
    public static let sessionFormat = "1"
    public static let currentVersions = ["cnntui": version, "session_format": sessionFormat]

    enum CodingKeys: String, CodingKey {
        case model, dataset, recipe, epochs, optimizer, momentum, schedule, augmentation, seed, threads, versions
        case dataDirectory = "data_dir", batchSize = "batch_size", dropLast = "drop_last"
        case learningRate = "lr", weightDecay = "weight_decay", labelSmoothing = "label_smoothing"
        case validationFraction = "validation_fraction", limitTrain = "limit_train", limitTest = "limit_test"
        case metricsEvery = "metrics_every"
        case imageSize = "image_size", resize, strict
    }

    /// How an image folder's pictures are read for this run (ignored by the other datasets).
    public var folderOptions: ImageFolderOptions {
        ImageFolderOptions(imageSize: imageSize, resize: resize ?? .stretch, strict: strict ?? false)
    }

    /// Checks ranges; the error names the flag a user would change.
    public func validate() throws {
        func bad(_ flag: String, _ message: String) -> TrainingError { .invalidFlag(flag: flag, message: message) }
        if model.isEmpty { throw bad("--model", "is empty") }
        if dataset.isEmpty { throw bad("--dataset", "is empty") }
        if epochs < 1 { throw bad("--epochs", "must be at least 1, got \(epochs)") }
        if batchSize < 1 { throw bad("--batch-size", "must be at least 1, got \(batchSize)") }
        if !(learningRate.isFinite && learningRate > 0) { throw bad("--lr", "must be a positive number, got \(learningRate)") }
        if !(momentum.isFinite && momentum >= 0 && momentum < 1) { throw bad("--momentum", "must be in [0, 1), got \(momentum)") }
        if !(weightDecay.isFinite && weightDecay >= 0) { throw bad("--weight-decay", "must be >= 0, got \(weightDecay)") }
        if !(labelSmoothing >= 0 && labelSmoothing < 1) {
            throw bad("--label-smoothing", "must be in [0, 1), got \(labelSmoothing)")
        }
        if let augmentation {
            do { _ = try Augmentation.parse(augmentation) } catch {
                throw bad("--augment", "'\(augmentation)' is not one of none, crop, flip, crop+flip")
            }
        }
        if !(validationFraction >= 0 && validationFraction < 1) {
            throw bad("--validation", "must be in [0, 1), got \(validationFraction)")
        }
        if threads < 1 { throw bad("--threads", "must be at least 1, got \(threads)") }
        if let limitTrain, limitTrain < 1 { throw bad("--limit-train", "must be at least 1, got \(limitTrain)") }
        if let limitTest, limitTest < 1 { throw bad("--limit-test", "must be at least 1, got \(limitTest)") }
        if let imageSize, !ImageFolderOptions.sideRange.contains(imageSize) {
            throw bad("--image-size", "must be in \(ImageFolderOptions.sideRange.lowerBound)...\(ImageFolderOptions.sideRange.upperBound), got \(imageSize)")
        }
        if metricsEvery < 1 { throw bad("--metrics-every", "must be at least 1, got \(metricsEvery)") }
        try ScheduleFactory.validate(schedule, epochs: epochs)
    }
}

/// Errors of the training layer; messages name the flag, file or session at fault.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    case invalidFlag(flag: String, message: String)
    case session(path: String, message: String)
    case checkpoint(file: String, message: String)
    case setup(message: String)

    public var description: String {
        switch self {
        case let .invalidFlag(flag, message): return "\(flag): \(message)"
        case let .session(path, message): return "session \(path): \(message)"
        case let .checkpoint(file, message): return "\(file): \(message)"
        case let .setup(message): return message
        }
    }
}
