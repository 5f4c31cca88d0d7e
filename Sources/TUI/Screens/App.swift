import Foundation
import Training

/// The whole UI as one object: folds engine events into the model, turns keys into commands, renders a grid,
/// and (when it has a painter) draws it. `DashboardLoop.run` connects it to the engine and the terminal.
public final class App: FullScreenView {
    public private(set) var model = DashboardModel()
    public private(set) var ui = UIState()
    public var capabilities: TerminalCapabilities
    public private(set) var width: Int, height: Int
    public private(set) var shouldQuit = false
    public let painter: TerminalPainter?

    public init(capabilities: TerminalCapabilities, width: Int, height: Int, painter: TerminalPainter? = nil) {
        self.capabilities = capabilities; self.width = width; self.height = height; self.painter = painter
    }

    /// Computes the browser's Grad-CAM maps, when the app has one (`startExplainer`); tests feed results instead.
    public private(set) var explainer: Explainer?
    /// Whether `.started` should start an explainer for the run's session (the dashboard does, tests do not).
    public var explainsLiveRuns = false
    /// The map last asked for, so a redraw does not ask again while the explainer works on it.
    private var requested: CAMKey?

    /// Folds an event; returns the commands it makes due (the layers page's watch when the image it names
    /// arrives or the run ends). A transient status message goes once the event shows it no longer holds.
    /// The checkpoint written right after an evaluation holds the weights that made it: the explainer loads it.
    @discardableResult
    public func handle(event: TrainingEvent) -> [TrainingCommand] {
        let before = activeWatch(ui, model)
        model.apply(event)
        ui = expireMessage(ui, after: event, model: model)
        ui.layers = clamped(ui.layers, model: model)
        switch event {
        case .started(let run) where explainsLiveRuns && explainer == nil:
            explainer = Explainer(sessionPath: run.sessionPath)
        // An attached viewer folds old lines too: a checkpoint pruned since is not there to load.
        case .checkpointSaved(let path, let step) where step == model.lastEvaluation?.globalStep
            && FileManager.default.fileExists(atPath: path):
            explainer?.load(checkpoint: path)
        default: break
        }
        requestExplanation()
        let after = activeWatch(ui, model)
        return before != after ? [.watchLayer(after)] : []
    }

    /// Folds one of the explainer's results and asks for the next map if the browser still wants one.
    public func handle(explanation result: ExplainerResult) {
        if case .map(let key, _, _) = result, key == requested { requested = nil }
        if case .failed(let request, _) = result, request?.key == requested { requested = nil }
        model.apply(result)
        requestExplanation()
    }

    /// Shows a model read back from a session (`SessionHistory`) instead of a live run; with `explainer`, Grad-CAM
    /// comes from the last checkpoint, and so do the browser's images when the history has none (the metrics of
    /// sessions from before events files keep no images: the test set is run again).
    public func show(history: DashboardModel, explainer: Explainer? = nil) {
        model = history
        if let explainer {
            self.explainer = explainer
            explainer.loadLast()
            if history.preview.isEmpty && history.misclassified.isEmpty {
                explainer.evaluate()
                model.noteEvaluatingForBrowser()
            }
        }
    }

    /// Shows a run another process executes, from the events its file holds (`DashboardLoop`'s attached feed):
    /// keys work as in a run of this process, commands go to its control endpoint, and q or d leave it going.
    public func attach() {
        model.isAttached = true
        explainsLiveRuns = true
    }

    /// Starts the fold over (the followed file was truncated by a resume, or replaced): the pages stay where they are.
    public func restartFold() {
        var fresh = DashboardModel()
        fresh.isAttached = model.isAttached
        model = fresh
    }

    /// Puts an error on the status line (a command the run refused, a line of its events file that is not an event).
    public func showError(_ message: String) {
        ui.message = message
        ui.messageIsError = true
    }

    /// Ends the explainer's thread (after the job in progress; nothing waits for it).
    public func stopExplainer() { explainer?.stop() }

    /// Sends the explainer the map the browser shows, unless it is cached or already asked for.
    private func requestExplanation() {
        guard let explainer, ui.screen == .misclassified, let key = ui.browser.camKey(in: model),
              model.explanations.maps[key] == nil, key != requested,
              let image = ui.browser.selectedItem(in: model) else { return }
        requested = key
        explainer.explain(ExplainRequest(testIndex: key.testIndex, layer: key.layer, classIndex: key.classIndex,
                                         pixels: image.pixels))
    }

    /// True once the user asked to quit a live run: the engine is saving and stopping.
    public private(set) var isStopping = false
    /// True once the user asked to detach a live run of this process: once it has stopped at its checkpoint,
    /// the caller resumes it in a background process.
    public private(set) var detachRequested = false

    /// Applies a key; returns the commands to send to the engine.
    @discardableResult
    public func handle(key: Key) -> [TrainingCommand] {
        if key == .resize { followWindowSize() }
        ui.layers.pageCount = channelPageCount()
        let (newState, actions) = handleKey(key, state: ui, model: model)
        ui = newState
        var commands: [TrainingCommand] = []
        for action in actions {
            switch action {
            case .send(let command): commands.append(command)
            case .quit: shouldQuit = true
            case .detach:
                shouldQuit = true
                detachRequested = true
            }
        }
        if commands.contains(.stop) {
            isStopping = true
            ui.message = detachRequested ? "detaching: saving a checkpoint at the next batch boundary…"
                : "stopping: saving a checkpoint at the next batch boundary…"
        }
        requestExplanation()
        return commands
    }

    /// Pages of channel tiles the layers page shows in this window (so → stops at the last).
    func channelPageCount() -> Int {
        guard ui.screen == .layers, let view = LayersScreen.currentView(model, ui) else { return 1 }
        let layout = LayersScreen.Layout(width: width, height: height, hasFilters: view.filters != nil)
        let inside = layout.output.inset(1)
        var tiles = inside
        if let image = selectedLayerImage(ui, model), let column = LayersScreen.pictureColumn(outside: inside, image: image) {
            tiles = inside.inset(left: column.width + 1)
        }
        return LayersScreen.pageCount(view: view, area: tiles)
    }

    public func resize(width: Int, height: Int) { self.width = max(0, width); self.height = max(0, height) }

    public func render() -> CellGrid {
        frame(confirmingQuit: ui.confirmingQuit, help: ui.showingHelp ? keyBindings : nil) {
            switch ui.screen {
            case .dashboard:
                DashboardScreen().render(model: model, ui: ui, width: width, height: height, capabilities: capabilities)
            case .layers:
                LayersScreen().render(model: model, ui: ui, width: width, height: height, capabilities: capabilities)
            case .health:
                HealthScreen().render(model: model, ui: ui, width: width, height: height, capabilities: capabilities)
            case .misclassified:
                MisclassifiedScreen().render(model: model, ui: ui, width: width, height: height, capabilities: capabilities)
            }
        }
    }
}
