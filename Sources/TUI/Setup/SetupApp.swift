import Data
import Foundation
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

/// One editable line of the recipe form.
public enum RecipeField: Int, CaseIterable, Sendable {
    case epochs, batchSize, optimizer, learningRate, schedule, seed
    public var label: String {
        switch self {
        case .epochs: return "Epochs"
        case .batchSize: return "Batch size"
        case .optimizer: return "Optimizer"
        case .learningRate: return "Learning rate"
        case .schedule: return "Schedule"
        case .seed: return "Seed"
        }
    }
    func value(_ c: TrainingConfig) -> String {
        switch self {
        case .epochs: return String(c.epochs)
        case .batchSize: return String(c.batchSize)
        case .optimizer: return c.optimizer.rawValue
        case .learningRate: return Format.learningRate(c.learningRate)
        case .schedule: return c.schedule
        case .seed: return String(c.seed)
        }
    }
}

/// The pickers that `cnntui` without arguments opens: dataset, model and variant, recipe, layer summary,
/// then start. It folds keys into its state and renders a grid, like `App`; `SetupLoop` runs it on a terminal.
/// What it reads from the machine (the dataset listing, model summaries, timings) is injected, so tests
/// drive it with fixed data.
public final class SetupApp {
    public var capabilities: TerminalCapabilities
    public private(set) var width: Int, height: Int
    public let painter: TerminalPainter?

    public private(set) var step = SetupStep.dataset
    public let datasets: [DatasetListing]
    public private(set) var datasetCursor = 0
    public let models: [String]
    public private(set) var modelCursor = 0
    public private(set) var recipeCursor = 0
    public private(set) var editing: TextInputState?
    public private(set) var summaryLines: [String] = []
    public private(set) var summaryScroll = 0
    public private(set) var message: String?
    public private(set) var messageIsError = false
    public private(set) var showingHelp = false
    /// Set when the user starts the run (the config) or leaves (`shouldQuit`).
    public private(set) var chosen: TrainingConfig?
    public private(set) var shouldQuit = false

    /// Estimates by `ModelEstimator.key`; `refreshEstimates` copies them from the estimator.
    public private(set) var estimates: [String: ModelEstimate] = [:]
    public let estimator: ModelEstimator?
    let dataDirectory: String?
    /// Command-line flags (limits, threads, ...) under the recipe edits.
    let base: TrainingOverrides
    public private(set) var overrides: TrainingOverrides
    public private(set) var config: TrainingConfig?
    let summarize: (TrainingConfig, DatasetListing) throws -> [String]

    public init(capabilities: TerminalCapabilities, width: Int, height: Int, painter: TerminalPainter? = nil,
                datasets: [DatasetListing]? = nil, models: [String] = ModelZoo.names,
                estimator: ModelEstimator? = ModelEstimator(), dataDirectory: String? = nil,
                base: TrainingOverrides = TrainingOverrides(), preselectedModel: String? = nil,
                preselectedDataset: String? = nil,
                summarize: ((TrainingConfig, DatasetListing) throws -> [String])? = nil) {
        self.capabilities = capabilities; self.width = width; self.height = height; self.painter = painter
        let listed = datasets ?? DatasetCatalog.list(dataDir: dataDirectory)
        // Found datasets first, each group in the catalog's order.
        self.datasets = listed.filter(\.found) + listed.filter { !$0.found }
        self.models = models
        self.estimator = estimator
        self.dataDirectory = dataDirectory
        self.base = base
        self.overrides = base
        self.summarize = summarize ?? { config, dataset in
            try ModelSummary.make(model: config.model, inputShape: dataset.shape, classes: dataset.classes.count,
                                  batchSize: config.batchSize).renderText().split(separator: "\n", omittingEmptySubsequences: false)
                .map(String.init)
        }
        if let name = preselectedDataset, let i = self.datasets.firstIndex(where: { $0.name == name }) { datasetCursor = i }
        if let name = preselectedModel.flatMap(ModelZoo.canonicalName), let i = models.firstIndex(of: name) { modelCursor = i }
    }

    // MARK: - Derived

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

    /// Batches per epoch of `dataset` at `batchSize` (limits and the recipe's held-out fraction included).
    func stepsPerEpoch(batchSize: Int, model: String) -> Int? {
        guard let d = dataset, let train = d.train else { return nil }
        let recipe = Recipe.seed(family: ModelZoo.family(model))
        var n = Int(Double(train) * (1 - (overrides.validationFraction ?? recipe?.validationFraction ?? 0)))
        if let limit = base.limitTrain { n = min(n, limit) }
        return (recipe?.dropLast ?? false) ? n / batchSize : (n + batchSize - 1) / batchSize
    }

    // MARK: - Keys

    public func resize(width: Int, height: Int) { self.width = max(0, width); self.height = max(0, height) }

    public var isTooSmall: Bool { width < Chrome.minimumWidth || height < Chrome.minimumHeight }

    public func handle(key: Key) {
        if key == .resize { if let painter { resize(width: painter.width, height: painter.height) }; return }
        message = nil
        messageIsError = false
        if key == .interrupt { shouldQuit = true; return }
        if let input = editing { return handleEditing(key, input: input) }
        if showingHelp { showingHelp = false; return }
        switch key {
        case .character("q"), .character("Q"): shouldQuit = true; return
        case .character("?"): showingHelp = true; return
        case .escape, .backspace:
            if let previous = SetupStep(rawValue: step.rawValue - 1) { step = previous } else { message = "q quits" }
            return
        default: break
        }
        switch step {
        case .dataset: handleDatasetKey(key)
        case .model: handleModelKey(key)
        case .recipe: handleRecipeKey(key)
        case .summary: handleSummaryKey(key)
        }
        requestEstimates()
    }

    static func moved(_ cursor: Int, by key: Key, count: Int, page: Int = 10) -> Int? {
        let last = max(0, count - 1)
        switch key {
        case .up: return max(0, cursor - 1)
        case .down: return min(last, cursor + 1)
        case .pageUp: return max(0, cursor - page)
        case .pageDown: return min(last, cursor + page)
        case .home: return 0
        case .end: return last
        default: return nil
        }
    }

    func handleDatasetKey(_ key: Key) {
        if let c = Self.moved(datasetCursor, by: key, count: datasets.count) { datasetCursor = c; return }
        guard key == .enter || key == .tab || key == .right, let d = dataset else { return }
        guard d.found else {
            message = "\(d.name) is not on this machine: \(d.howToGet ?? "see `cnntui datasets`")"
            messageIsError = true
            return
        }
        step = .model
    }

    func handleModelKey(_ key: Key) {
        if let c = Self.moved(modelCursor, by: key, count: models.count) { modelCursor = c; return }
        guard key == .enter || key == .tab || key == .right, let model = modelName, let d = dataset else { return }
        if let error = estimate(model)?.error {
            message = error
            messageIsError = true
            return
        }
        if config?.model != model || config?.dataset != d.name { overrides = base }
        guard resolve() else { return }
        recipeCursor = 0
        step = .recipe
    }

    /// Resolves the recipe with the edits; on failure keeps the previous config and says why.
    @discardableResult
    func resolve() -> Bool {
        guard let model = modelName, let d = dataset else { return false }
        do {
            config = try TrainingConfig.resolve(model: model, family: ModelZoo.family(model), dataset: d.name,
                                                dataDirectory: dataDirectory, overrides: overrides)
            return true
        } catch {
            message = "\(error)"
            messageIsError = true
            return false
        }
    }

    /// Rows of the recipe form: the fields, then "continue".
    var recipeRowCount: Int { RecipeField.allCases.count + 1 }

    func handleRecipeKey(_ key: Key) {
        if let c = Self.moved(recipeCursor, by: key, count: recipeRowCount) { recipeCursor = c; return }
        let field = RecipeField(rawValue: recipeCursor)
        if field == .optimizer, key == .left || key == .right || key == .character(" ") {
            let all = TrainingConfig.OptimizerKind.allCases
            let now = config.flatMap { all.firstIndex(of: $0.optimizer) } ?? 0
            let next = all[(now + (key == .left ? all.count - 1 : 1)) % all.count]
            apply(field: .optimizer, text: next.rawValue)
            return
        }
        switch key {
        case .enter:
            if let field, let c = config {
                editing = TextInputState(text: field == .learningRate ? "\(c.learningRate)" : field.value(c))
            } else {
                startSummary()
            }
        case .tab: startSummary()
        default: break
        }
    }

    func startSummary() {
        guard let c = config, let d = dataset else { return }
        do {
            summaryLines = try summarize(c, d)
            summaryScroll = 0
            step = .summary
        } catch {
            message = "\(error)"
            messageIsError = true
        }
    }

    func handleEditing(_ key: Key, input: TextInputState) {
        switch key {
        case .escape:
            editing = nil
            message = "unchanged"
        case .enter:
            guard let field = RecipeField(rawValue: recipeCursor) else { editing = nil; return }
            if apply(field: field, text: input.text.trimmingCharacters(in: " ")) { editing = nil }
        default:
            editing = input.editing(with: key) ?? input
        }
    }

    /// Sets one field from text; false (with a message, nothing changed) when the text is not valid.
    @discardableResult
    func apply(field: RecipeField, text: String) -> Bool {
        let saved = overrides
        func bad(_ what: String) -> Bool {
            message = "not \(what): \"\(text)\""
            messageIsError = true
            return false
        }
        switch field {
        case .epochs:
            guard let v = Int(text), v >= 1 else { return bad("a number of epochs (1 or more)") }
            overrides.epochs = v
        case .batchSize:
            guard let v = Int(text), v >= 1 else { return bad("a batch size (1 or more)") }
            overrides.batchSize = v
        case .optimizer:
            guard TrainingConfig.OptimizerKind(rawValue: text.lowercased()) != nil else { return bad("sgd, adam or adamw") }
            overrides.optimizer = text.lowercased()
        case .learningRate:
            guard let v = Float(text), v.isFinite, v > 0 else { return bad("a learning rate (a positive number)") }
            overrides.learningRate = v
        case .schedule:
            overrides.schedule = text
        case .seed:
            guard let v = UInt64(text) else { return bad("a seed (a whole number, 0 or more)") }
            overrides.seed = v
        }
        if resolve() { return true }
        overrides = saved
        return false
    }

    func handleSummaryKey(_ key: Key) {
        let page = max(1, height - 6)
        let maxScroll = max(0, summaryLines.count - page)
        switch key {
        case .enter:
            chosen = config
            estimator?.cancel()
        default:
            if let s = Self.moved(summaryScroll, by: key, count: maxScroll + 1, page: page) { summaryScroll = s }
        }
    }

    // MARK: - Estimates

    /// Asks the estimator to count every model at the chosen dataset's shape and to time the highlighted one.
    public func requestEstimates() {
        guard let estimator, step == .model || step == .dataset, let d = dataset, d.found, let model = modelName else { return }
        func job(_ m: String, time: Bool) -> ModelEstimator.Job {
            .init(model: m, inputShape: d.shape, classes: d.classes.count, batchSize: batchSize(for: m), timeSteps: time)
        }
        guard step == .model else { return }
        estimator.count(models.map { job($0, time: false) })
        estimator.time(job(model, time: true))
    }

    /// Copies new estimates in; true when something changed.
    @discardableResult
    public func refreshEstimates() -> Bool {
        guard let estimator else { return false }
        let new = estimator.results()
        if new == estimates { return false }
        estimates = new
        return true
    }

    /// For tests: estimates as if measured.
    public func setEstimates(_ e: [String: ModelEstimate]) { estimates = e }

    // MARK: - Drawing

    public func render() -> CellGrid {
        if isTooSmall { return Chrome.renderTooSmall(width: width, height: height, capabilities: capabilities) }
        var grid = SetupScreen(app: self).render()
        if showingHelp {
            HelpOverlay(title: "Keys (any key closes)", entries: setupKeyBindings)
                .render(into: &grid, area: grid.bounds, capabilities: capabilities)
        }
        return grid
    }

    public func draw() {
        guard let painter else { return }
        if painter.width != width || painter.height != height { resize(width: painter.width, height: painter.height) }
        painter.draw(render())
    }
}

public let setupKeyBindings: [(key: String, action: String)] = [
    ("up/down, PgUp/PgDn", "move in the list, scroll the summary"),
    ("Enter", "choose / edit the field / start training"),
    ("left/right", "recipe: change the optimizer"),
    ("tab", "recipe: go on to the layer summary"),
    ("Esc", "back one step, cancel an edit"),
    ("?", "this help"),
    ("q, Ctrl-C", "quit"),
]

/// The UI thread's loop over the pickers: sleeps in `poll()` on stdin and the estimator's wake descriptor.
public enum SetupLoop {
    /// Returns the chosen config, or nil when the user quit.
    public static func run(_ app: SetupApp, painter: TerminalPainter) -> TrainingConfig? {
        app.requestEstimates()
        while true {
            app.draw()
            if let config = app.chosen { return config }
            if app.shouldQuit { app.estimator?.cancel(); return nil }
            painter.waitForInput(alsoWatching: app.estimator.map { [$0.wakeFileDescriptor] } ?? [], timeoutMilliseconds: -1)
            for key in painter.pendingKeys() where app.chosen == nil && !app.shouldQuit { app.handle(key: key) }
            app.refreshEstimates()
        }
    }
}
