import Data
import Models
import Training

/// The steps before a run starts, in order.
public enum SetupStep: Int, CaseIterable, Sendable {
    case dataset, model, recipe, summary
    public var title: String {
        switch self {
        case .dataset: return "Dataset"
        case .model: return "Model"
        case .recipe: return "Recipe"
        case .summary: return "Summary"
        }
    }
}

/// One editable line of the recipe form, in form order. The image-folder fields come last and show only for
/// an image folder, so a field's `rawValue` is its row either way.
public enum RecipeField: Int, CaseIterable, Sendable {
    case epochs, batchSize, optimizer, learningRate, schedule, seed
    case imageSize, resize

    /// The fields the form shows for a dataset.
    static func shown(imageFolder: Bool) -> [RecipeField] { imageFolder ? allCases : allCases.filter { !$0.isImageFolderOnly } }
    var isImageFolderOnly: Bool { self == .imageSize || self == .resize }

    /// Everything the form knows of a field in one place: its label, its value as the form shows it, and
    /// whether the user's edits (or the command line) set it.
    private var row: (label: String, value: (TrainingConfig) -> String, isSet: (TrainingOverrides) -> Bool) {
        switch self {
        case .epochs: return ("Epochs", { String($0.epochs) }, { $0.epochs != nil })
        case .batchSize: return ("Batch size", { String($0.batchSize) }, { $0.batchSize != nil })
        case .optimizer: return ("Optimizer", { $0.optimizer.rawValue }, { $0.optimizer != nil })
        case .learningRate: return ("Learning rate", { Format.learningRate($0.learningRate) }, { $0.learningRate != nil })
        case .schedule: return ("Schedule", { $0.schedule }, { $0.schedule != nil })
        case .seed: return ("Seed", { String($0.seed) }, { $0.seed != nil })
        case .imageSize: return ("Image size", { $0.imageSize.map(String.init) ?? "auto" }, { $0.imageSize != nil })
        case .resize: return ("Resize", { ($0.resize ?? .stretch).rawValue }, { $0.resize != nil })
        }
    }

    public var label: String { row.label }
    func value(_ config: TrainingConfig) -> String { row.value(config) }
    func isSet(in overrides: TrainingOverrides) -> Bool { row.isSet(overrides) }
}

/// The pickers as a value: the step, the cursors, the recipe edits and the config they resolve to, the layer
/// summary, the estimates so far and the last message. `handleSetupKey` makes the next state, `SetupScreen`
/// draws it, `SetupApp` carries out the actions; what comes from the machine (the dataset listing, summaries,
/// timings) arrives as data, so tests drive it with fixed data.
public struct SetupState: Equatable, Sendable {
    public var step = SetupStep.dataset
    /// Found datasets first, each group in the catalog's order.
    public let datasets: [DatasetListing]
    public var datasetCursor = 0
    /// The zoo's names, then spec files (`models/tiny.cnn`); the editor adds the files it writes.
    public var models: [String]
    public var modelCursor = 0
    /// The spec file the editor left unbuildable, shown over the model list until it is fixed or dismissed.
    public var specProblem: SpecProblem?
    /// The recipe form's row: a field's `rawValue`, or `RecipeField.allCases.count` for "continue".
    public var recipeCursor = 0
    /// The recipe field being edited, if one is.
    public var editing: TextInputState?
    public var summaryLines: [String] = []
    public var summaryScroll = 0
    public var message: String?
    public var messageIsError = false
    public var showingHelp = false
    /// Estimates by `ModelEstimator.key`, as the estimator last reported them.
    public var estimates: [String: ModelEstimate] = [:]
    /// Where `--data-dir` points, if it does (the resolved config records it).
    public let dataDirectory: String?
    /// Command-line flags (limits, threads, ...) under the recipe edits.
    public let base: TrainingOverrides
    public var overrides: TrainingOverrides
    /// The recipe with the edits, resolved; nil until a model is chosen.
    public var config: TrainingConfig?
    /// The chosen image folder's report (side, mean, std, skipped pictures) when its decoding is cached; the
    /// app reads it (`SetupApp.refreshFolderReport`), tests set it.
    public var folderReport: ImageFolderReport?
    /// The learning-rate finder, while it is open over the recipe screen.
    public var finder: LRFinderState?

    public init(datasets: [DatasetListing], models: [String], dataDirectory: String? = nil,
                base: TrainingOverrides = TrainingOverrides(), preselectedModel: String? = nil,
                preselectedDataset: String? = nil) {
        self.datasets = datasets.filter(\.found) + datasets.filter { !$0.found }
        self.models = models
        self.dataDirectory = dataDirectory
        self.base = base
        overrides = base
        if let name = preselectedDataset, let i = self.datasets.firstIndex(where: { $0.name == name }) { datasetCursor = i }
        if let name = preselectedModel.flatMap(ModelZoo.canonicalName), let i = models.firstIndex(of: name) { modelCursor = i }
    }

    public var dataset: DatasetListing? { datasets.indices.contains(datasetCursor) ? datasets[datasetCursor] : nil }
    public var modelName: String? { models.indices.contains(modelCursor) ? models[modelCursor] : nil }

    public func estimate(_ model: String) -> ModelEstimate? {
        guard let d = dataset else { return nil }
        return estimates[ModelEstimator.key(model: model, inputShape: d.shape, classes: d.classes.count)]
    }

    /// The seed recipe's batch size for a model (what its timing uses until the recipe is edited).
    func batchSize(for model: String) -> Int {
        if model == config?.model, let c = config { return c.batchSize }
        return base.batchSize ?? Recipe.seed(family: ModelZoo.family(model))?.batchSize ?? 100
    }

    /// Batches per epoch of the chosen dataset for `model` at `batchSize`, as the run will count them.
    func stepsPerEpoch(batchSize: Int, model: String) -> Int? {
        guard let d = dataset, let train = d.train else { return nil }
        let recipe = Recipe.seed(family: ModelZoo.family(model))
        return EpochSize.batches(datasetSize: train,
                                 heldOutFraction: overrides.validationFraction ?? recipe?.validationFraction ?? 0,
                                 limit: base.limitTrain, batchSize: batchSize,
                                 dropLast: overrides.dropLast ?? recipe?.dropLast ?? false)
    }

    /// The recipe form's fields for the chosen dataset (the image size and resize rule for a folder).
    var recipeFields: [RecipeField] { RecipeField.shown(imageFolder: dataset?.trainPerClass != nil) }
    /// The field on the recipe form's row `row`; nil on "continue".
    func recipeField(at row: Int) -> RecipeField? { recipeFields.indices.contains(row) ? recipeFields[row] : nil }
    /// Rows of the recipe form: the fields, then "continue".
    var recipeRowCount: Int { recipeFields.count + 1 }

    /// What the estimator should do for the model step: count every model at the chosen dataset's shape and
    /// time the highlighted one. Nil on the other steps, and while the dataset is missing.
    var estimateRequest: (counting: [ModelEstimator.Job], timing: ModelEstimator.Job)? {
        guard step == .model, let d = dataset, d.found, let model = modelName else { return nil }
        func job(_ m: String, time: Bool) -> ModelEstimator.Job {
            .init(model: m, inputShape: d.shape, classes: d.classes.count, batchSize: batchSize(for: m), timeSteps: time)
        }
        return (models.map { job($0, time: false) }, job(model, time: true))
    }

    /// Shows the layer summary `startSummary` asked for.
    mutating func showSummary(_ lines: [String]) {
        summaryLines = lines
        summaryScroll = 0
        step = .summary
    }

    /// Puts `model` in the list (a spec file the editor wrote) and the cursor on it.
    mutating func select(model: String) {
        if !models.contains(model) { models.append(model) }
        modelCursor = models.firstIndex(of: model) ?? modelCursor
    }

    mutating func fail(_ why: String) {
        message = why
        messageIsError = true
    }
}

/// A spec file that does not build, as the model step shows it after the editor: the error, and the file's
/// lines around the one it names, so the mistake is seen in place.
public struct SpecProblem: Equatable, Sendable {
    public struct SourceLine: Equatable, Sendable {
        public var number: Int
        public var text: String
    }
    public var file: String
    /// The error as the CLI prints it ("models/x.cnn: line 12: conv expects 32 input channels, ...").
    public var message: String
    public var line: Int?
    /// Up to `context` lines either side of `line`; the file's first lines when the error names none.
    public var excerpt: [SourceLine]

    public init(file: String, message: String, line: Int?, text: String, context: Int = 3) {
        self.file = file
        self.message = message
        self.line = line
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let range: Range<Int>
        if let line, line >= 1, line <= lines.count {
            range = max(0, line - 1 - context)..<min(lines.count, line + context)
        } else {
            range = 0..<min(lines.count, 2 * context + 1)
        }
        excerpt = range.map { SourceLine(number: $0 + 1, text: lines[$0]) }
    }
}
