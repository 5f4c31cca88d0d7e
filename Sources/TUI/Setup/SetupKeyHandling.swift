import Data
import Models
import Training

/// Every key binding of the pickers, for the help overlay; `handleSetupKey` implements exactly these.
public let setupKeyBindings: [(key: String, action: String)] = [
    ("up/down, PgUp/PgDn", "move in the list, scroll the summary"),
    ("Enter", "choose / edit the field / start training"),
    ("left/right", "recipe: change the optimizer; LR finder: pick a suggestion"),
    ("e", "model: edit it as a spec file in $VISUAL/$EDITOR (a zoo model is copied to models/NAME.cnn first)"),
    ("f", "recipe: find a learning rate (sweep 1e-7 to 10, Enter takes the pick)"),
    ("tab", "recipe: go on to the layer summary"),
    ("r", "dataset step: the runs so far (open, resume, compare, delete)"),
    ("Esc", "back one step, cancel an edit"),
    ("?", "this help"),
    ("q, Ctrl-C", "quit"),
]

/// What a key asks of the pickers beyond a new `SetupState`: work the state cannot do as a value.
public enum SetupAction: Equatable, Sendable {
    /// Make the layer summary of this config and dataset; `SetupState.showSummary` shows it.
    case startSummary(TrainingConfig, DatasetListing)
    /// Count these models and time this one (the model step's estimates).
    case requestEstimates(counting: [ModelEstimator.Job], timing: ModelEstimator.Job)
    /// Run the learning-rate finder with this config, off the UI thread; its events go to `SetupState.finder`.
    case startFinder(TrainingConfig)
    /// Cancel the finder's sweep if it still runs, and drop its events.
    case stopFinder
    /// Start training with this config.
    case choose(TrainingConfig)
    /// Open this model's spec file in the user's editor (a zoo model's copied to `models/NAME.cnn` first),
    /// then check it: `SetupState.specProblem` when it does not build, its layer summary when it does.
    case editSpec(model: String)
    /// Leave the pickers for the runs screen.
    case showRuns
    case quit
}

/// The pickers' reaction to one key: the new state and what to do. Pure but for the recipe check (which
/// looks whether a `--data-dir` exists), so every binding is testable. `windowHeight` sets the summary's page.
public func handleSetupKey(_ key: Key, state: SetupState, windowHeight: Int) -> (SetupState, [SetupAction]) {
    if key == .resize { return (state, []) }
    var s = state
    s.message = nil
    s.messageIsError = false
    if key == .interrupt { return (s, [.quit]) }
    if let input = s.editing { return (handleRecipeEditing(key, input: input, state: s), []) }
    if s.showingHelp {
        s.showingHelp = false
        return (s, [])
    }
    let quitsOrHelps = key == .character("q") || key == .character("Q") || key == .character("?")
    if let finder = s.finder, !quitsOrHelps { return handleFinderKey(key, finder: finder, state: s) }
    if let problem = s.specProblem, !quitsOrHelps { return handleSpecProblemKey(key, problem: problem, state: s) }
    switch key {
    case .character("q"), .character("Q"): return (s, [.quit])
    case .character("?"):
        s.showingHelp = true
        return (s, [])
    case .escape, .backspace:
        if let previous = SetupStep(rawValue: s.step.rawValue - 1) { s.step = previous } else { s.message = "q quits" }
        return (s, [])
    default: break
    }
    if s.step == .dataset, key == .character("r") { return (s, [.showRuns]) }
    var actions: [SetupAction]
    switch s.step {
    case .dataset: (s, actions) = (handleDatasetKey(key, state: s), [])
    case .model where key == .character("e") || key == .character("E"):
        (s, actions) = (s, s.modelName.map { [.editSpec(model: $0)] } ?? [])
    case .model: (s, actions) = (handleModelKey(key, state: s), [])
    case .recipe: (s, actions) = handleRecipeKey(key, state: s)
    case .summary: (s, actions) = handleSummaryKey(key, state: s, windowHeight: windowHeight)
    }
    // Every key handled on the model step (arriving there, moving the cursor) asks for the estimates; the
    // estimator skips what it has already done.
    if let request = s.estimateRequest { actions.append(.requestEstimates(counting: request.counting, timing: request.timing)) }
    return (s, actions)
}

/// The keys that go on to the next step.
private func choosesNext(_ key: Key) -> Bool { key == .enter || key == .tab || key == .right }

func handleDatasetKey(_ key: Key, state: SetupState) -> SetupState {
    var s = state
    if let c = movedCursor(s.datasetCursor, by: key, count: s.datasets.count) { s.datasetCursor = c; return s }
    guard choosesNext(key), let d = s.dataset else { return s }
    guard d.found else {
        s.fail("\(d.name) is not on this machine: \(d.howToGet ?? "see `cnntui datasets`")")
        return s
    }
    s.step = .model
    return s
}

func handleModelKey(_ key: Key, state: SetupState) -> SetupState {
    var s = state
    if let c = movedCursor(s.modelCursor, by: key, count: s.models.count) { s.modelCursor = c; return s }
    guard choosesNext(key), let model = s.modelName, let d = s.dataset else { return s }
    if let error = s.estimate(model)?.error {
        s.fail(error)
        return s
    }
    if s.config?.model != model || s.config?.dataset != d.name { s.overrides = s.base }
    guard resolveRecipe(&s) else { return s }
    s.recipeCursor = 0
    s.step = .recipe
    return s
}

/// Over a spec that does not build: `e` reopens it in the editor, Esc (or Enter) goes back to the list.
func handleSpecProblemKey(_ key: Key, problem: SpecProblem, state: SetupState) -> (SetupState, [SetupAction]) {
    var s = state
    switch key {
    case .character("e"), .character("E"): return (s, [.editSpec(model: problem.file)])
    case .escape, .enter, .backspace: s.specProblem = nil
    default: s.message = "e edits \(problem.file) again, Esc goes back to the list"
    }
    return (s, [])
}

/// Resolves the recipe with the edits; on failure keeps the previous config and says why.
@discardableResult
func resolveRecipe(_ s: inout SetupState) -> Bool {
    guard let model = s.modelName, let d = s.dataset else { return false }
    do {
        s.config = try TrainingConfig.resolve(model: model, family: ModelZoo.family(model), dataset: d.name,
                                              dataDirectory: s.dataDirectory, overrides: s.overrides)
        return true
    } catch {
        s.fail("\(error)")
        return false
    }
}

func handleRecipeKey(_ key: Key, state: SetupState) -> (SetupState, [SetupAction]) {
    var s = state
    if let c = movedCursor(s.recipeCursor, by: key, count: s.recipeRowCount) { s.recipeCursor = c; return (s, []) }
    let field = s.recipeField(at: s.recipeCursor)
    // The fields with a few values step through them with left/right (or space).
    if let field, let values = choices(field), key == .left || key == .right || key == .character(" ") {
        let now = s.config.flatMap { values.firstIndex(of: field.value($0)) } ?? 0
        let next = values[(now + (key == .left ? values.count - 1 : 1)) % values.count]
        applyRecipeField(field, text: next, to: &s)
        return (s, [])
    }
    switch key {
    case .enter:
        if let field, let c = s.config {
            s.editing = TextInputState(text: field == .learningRate ? "\(c.learningRate)" : field.value(c))
            return (s, [])
        }
        return (s, startSummary(s))
    case .tab: return (s, startSummary(s))
    case .character("f"), .character("F"):
        guard let c = s.config else { return (s, []) }
        s.finder = LRFinderState(config: c)
        return (s, [.startFinder(c)])
    default: return (s, [])
    }
}

/// The values a field steps through with left/right, or nil for a typed one.
func choices(_ field: RecipeField) -> [String]? {
    switch field {
    case .optimizer: return TrainingConfig.OptimizerKind.allCases.map(\.rawValue)
    case .resize: return ResizeMode.allCases.map(\.rawValue)
    default: return nil
    }
}

func startSummary(_ s: SetupState) -> [SetupAction] {
    guard let c = s.config, let d = s.dataset else { return [] }
    return [.startSummary(c, d)]
}

func handleRecipeEditing(_ key: Key, input: TextInputState, state: SetupState) -> SetupState {
    var s = state
    switch key {
    case .escape:
        s.editing = nil
        s.message = "unchanged"
    case .enter:
        guard let field = s.recipeField(at: s.recipeCursor) else { s.editing = nil; return s }
        if applyRecipeField(field, text: input.text.trimmingCharacters(in: " "), to: &s) { s.editing = nil }
    default:
        s.editing = input.editing(with: key) ?? input
    }
    return s
}

/// Sets one field from text; false (with a message, nothing changed) when the text is not valid.
@discardableResult
func applyRecipeField(_ field: RecipeField, text: String, to s: inout SetupState) -> Bool {
    let saved = s.overrides
    func bad(_ what: String) -> Bool {
        s.fail("not \(what): \"\(text)\"")
        return false
    }
    switch field {
    case .epochs:
        guard let v = Int(text), v >= 1 else { return bad("a number of epochs (1 or more)") }
        s.overrides.epochs = v
    case .batchSize:
        guard let v = Int(text), v >= 1 else { return bad("a batch size (1 or more)") }
        s.overrides.batchSize = v
    case .optimizer:
        guard TrainingConfig.OptimizerKind(rawValue: text.lowercased()) != nil else { return bad("sgd, adam or adamw") }
        s.overrides.optimizer = text.lowercased()
    case .learningRate:
        guard let v = Float(text), v.isFinite, v > 0 else { return bad("a learning rate (a positive number)") }
        s.overrides.learningRate = v
    case .schedule:
        s.overrides.schedule = text
    case .seed:
        guard let v = UInt64(text) else { return bad("a seed (a whole number, 0 or more)") }
        s.overrides.seed = v
    case .imageSize:
        let range = ImageFolderOptions.sideRange
        if text.lowercased() == "auto" {
            s.overrides.imageSize = nil
        } else {
            guard let v = Int(text), range.contains(v) else { return bad("an image size (auto, or \(range.lowerBound) to \(range.upperBound))") }
            s.overrides.imageSize = v
        }
    case .resize:
        guard let mode = ResizeMode(rawValue: text.lowercased()) else { return bad("stretch or crop") }
        s.overrides.resize = mode.rawValue
    }
    if resolveRecipe(&s) { return true }
    s.overrides = saved
    return false
}

func handleSummaryKey(_ key: Key, state: SetupState, windowHeight: Int) -> (SetupState, [SetupAction]) {
    var s = state
    if key == .enter { return (s, s.config.map { [.choose($0)] } ?? []) }
    let page = max(1, windowHeight - 6)
    let maxScroll = max(0, s.summaryLines.count - page)
    if let scroll = movedCursor(s.summaryScroll, by: key, count: maxScroll + 1, page: page) { s.summaryScroll = scroll }
    return (s, [])
}
