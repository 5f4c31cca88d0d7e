import Data
import Foundation
import Models
import Training

/// The pickers that `cnntui` without arguments opens (dataset, model and variant, recipe, layer summary, then
/// start), as `App` is the dashboard: it folds keys into its `SetupState` with `handleSetupKey`, carries out the
/// actions (the layer summary, the estimator's jobs), and renders with `SetupScreen`. `SetupLoop` runs it on a
/// terminal. What it reads from the machine (the dataset listing, model summaries, timings) is injected, so
/// tests drive it with fixed data.
public final class SetupApp: FullScreenView {
    public private(set) var state: SetupState
    public var capabilities: TerminalCapabilities
    public private(set) var width: Int, height: Int
    public let painter: TerminalPainter?
    /// Counts and times models off the UI thread; nil in tests, which set the estimates themselves.
    public let estimator: ModelEstimator?
    let summarize: (TrainingConfig, DatasetListing) throws -> [String]
    /// Starts a learning-rate sweep on its own thread; tests start none and feed `LRFinderState` themselves.
    let startFinder: (TrainingConfig) -> LRFinderHandle?
    /// The sweep the finder is showing, while it is open.
    public private(set) var finderHandle: LRFinderHandle?
    /// Set when the user starts the run (the config) or leaves (`shouldQuit`).
    public private(set) var chosen: TrainingConfig?
    public private(set) var shouldQuit = false
    /// Set when the user asks for the runs screen; `returnFromRuns` clears it.
    public private(set) var wantsRuns = false
    /// Where `e` copies a zoo model's spec (`models/NAME.cnn`, relative to where cnntui was started).
    let specDirectory: String
    /// Opens a file in the user's editor and waits; tests put a function that edits the file in its place.
    let editFile: (String) -> ExternalEditor.Outcome
    /// The folder and options `state.folderReport` was read for.
    private var folderReportKey: String?

    public init(capabilities: TerminalCapabilities, width: Int, height: Int, painter: TerminalPainter? = nil,
                datasets: [DatasetListing]? = nil, models: [String] = ModelZoo.names,
                estimator: ModelEstimator? = ModelEstimator(), dataDirectory: String? = nil,
                base: TrainingOverrides = TrainingOverrides(), preselectedModel: String? = nil,
                preselectedDataset: String? = nil,
                summarize: ((TrainingConfig, DatasetListing) throws -> [String])? = nil,
                startFinder: ((TrainingConfig) -> LRFinderHandle?)? = nil,
                specDirectory: String = "models", editFile: ((String) -> ExternalEditor.Outcome)? = nil) {
        self.capabilities = capabilities; self.width = width; self.height = height; self.painter = painter
        state = SetupState(datasets: datasets ?? DatasetCatalog.list(dataDir: dataDirectory), models: models,
                           dataDirectory: dataDirectory, base: base, preselectedModel: preselectedModel,
                           preselectedDataset: preselectedDataset)
        self.estimator = estimator
        self.startFinder = startFinder ?? { LRFinderRun.start($0) }
        self.specDirectory = specDirectory
        self.editFile = editFile ?? { [painter] file in
            guard let painter else { return .failed("no terminal to run an editor in") }
            guard let command = ExternalEditor.command(environment: ProcessInfo.processInfo.environment) else {
                return .failed("no editor found: set $VISUAL or $EDITOR (the spec is \(file))")
            }
            return painter.handOver { ExternalEditor.run(command, file: file) }
        }
        self.summarize = summarize ?? { config, dataset in
            try ModelEstimator.summaryLines(model: config.model, inputShape: dataset.shape, classes: dataset.classes.count,
                                            batchSize: config.batchSize)
        }
    }

    public func resize(width: Int, height: Int) { self.width = max(0, width); self.height = max(0, height) }

    public func handle(key: Key) {
        if key == .resize { followWindowSize() }
        let (next, actions) = handleSetupKey(key, state: state, windowHeight: height)
        state = next
        for action in actions { perform(action) }
        refreshFolderReport()
    }

    /// Reads the chosen image folder's cached report (only its header) when the recipe step shows a folder
    /// whose options changed; nothing is decoded here.
    private func refreshFolderReport() {
        guard state.step == .recipe, let d = state.dataset, d.trainPerClass != nil, let path = d.path, let c = state.config else {
            return
        }
        let key = "\(path)|\(c.imageSize.map(String.init) ?? "auto")|\((c.resize ?? .stretch).rawValue)"
        guard key != folderReportKey else { return }
        folderReportKey = key
        state.folderReport = ImageFolder.cachedReport(root: path, options: c.folderOptions)
    }

    private func perform(_ action: SetupAction) {
        switch action {
        case let .startSummary(config, dataset):
            do { state.showSummary(try summarize(config, dataset)) } catch { state.fail("\(error)") }
        case let .requestEstimates(counting, timing):
            estimator?.count(counting)
            estimator?.time(timing)
        case let .startFinder(config):
            finderHandle?.cancel()
            finderHandle = startFinder(config)
        case .stopFinder:
            // The UI does not wait: the sweep ends before its next batch and its thread goes on its own.
            finderHandle?.cancel()
            finderHandle = nil
        case let .choose(config):
            chosen = config
            estimator?.cancel()
        case .quit:
            shouldQuit = true
            estimator?.cancel()
            finderHandle?.cancel()
        case .showRuns:
            wantsRuns = true
        case let .editSpec(model):
            editSpec(model)
        }
    }

    /// `e` on the model step: the spec file in the editor, then checked by building it at the dataset's shape.
    /// A zoo model is first written to `models/NAME.cnn` (an existing copy is opened, never overwritten);
    /// a spec that builds goes on to its layer summary, one that does not is shown with its lines.
    private func editSpec(_ model: String) {
        guard let dataset = state.dataset else { return }
        let file: String
        if NetworkSpec.isPath(model) {
            file = model
        } else {
            file = specDirectory + "/" + model + "." + NetworkSpec.fileExtension
            if !FileManager.default.fileExists(atPath: file) {
                do {
                    let text = try ModelZoo.specText(model, inputShape: dataset.shape, classes: dataset.classes.count)
                    try FileManager.default.createDirectory(atPath: specDirectory, withIntermediateDirectories: true)
                    try AtomicFile.write(Data(text.utf8), to: URL(fileURLWithPath: file))
                } catch {
                    state.fail("cannot write \(file): \(error)")
                    return
                }
            }
        }
        let outcome = editFile(file)
        followWindowSize()
        if case .failed(let why) = outcome {
            state.fail(why)
            return
        }
        state.select(model: file)
        // The file changed under its old counts and timing: measure it again.
        estimator?.forget(model: file)
        state.estimates = state.estimates.filter { !$0.key.hasPrefix(file + "|") }
        do {
            _ = try ModelZoo.build(file, inputShape: dataset.shape, classes: dataset.classes.count, seed: 0)
        } catch {
            let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
            state.specProblem = SpecProblem(file: file, message: "\(error)", line: (error as? NetworkSpecError)?.line, text: text)
            return
        }
        state.specProblem = nil
        state.overrides = state.base
        guard resolveRecipe(&state), let config = state.config else { return }
        perform(.startSummary(config, dataset))
        guard state.step == .summary else { return }
        state.message = "\(file) builds: its layer summary. Enter trains it, Esc goes to its recipe"
    }

    /// Back on the pickers after the runs screen, where the user left them.
    public func returnFromRuns() { wantsRuns = false }

    /// Asks the estimator for the current step's estimates (the model step's; nothing on the others).
    public func requestEstimates() {
        guard let request = state.estimateRequest else { return }
        perform(.requestEstimates(counting: request.counting, timing: request.timing))
    }

    /// Copies new estimates in from the estimator; true when something changed.
    @discardableResult
    public func refreshEstimates() -> Bool {
        guard let estimator else { return false }
        let new = estimator.results()
        if new == state.estimates { return false }
        state.estimates = new
        return true
    }

    /// Copies the sweep's new events into the finder; true when something changed.
    @discardableResult
    public func refreshFinder() -> Bool {
        guard let handle = finderHandle else { return false }
        return receiveFinderEvents(handle.drain())
    }

    /// Folds a sweep's events into the open finder (tests call it with made-up events); true when it changed.
    @discardableResult
    public func receiveFinderEvents(_ events: [LRFinderEvent]) -> Bool {
        guard !events.isEmpty, state.finder != nil else { return false }
        for event in events { state.finder?.apply(event) }
        return true
    }

    /// The descriptors the UI loop sleeps on besides stdin: the estimator's and the running sweep's.
    public var wakeFileDescriptors: [Int32] {
        [estimator?.wakeFileDescriptor, finderHandle?.wakeFileDescriptor].compactMap { $0 }
    }

    /// For tests: estimates as if measured.
    public func setEstimates(_ estimates: [String: ModelEstimate]) { state.estimates = estimates }

    public func render() -> CellGrid {
        frame(help: state.showingHelp ? setupKeyBindings : nil) {
            SetupScreen(state: state, width: width, height: height, caps: capabilities,
                        busyModel: estimator?.busyModel).render()
        }
    }
}
