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

    /// Folds an event; returns the commands it makes due (the layers page's watch when the image it names
    /// arrives or the run ends). A transient status message goes once the event shows it no longer holds.
    @discardableResult
    public func handle(event: TrainingEvent) -> [TrainingCommand] {
        let before = activeWatch(ui, model)
        model.apply(event)
        ui = expireMessage(ui, after: event, model: model)
        ui.layers = clamped(ui.layers, model: model)
        let after = activeWatch(ui, model)
        return before != after ? [.watchLayer(after)] : []
    }

    /// Shows a model read back from a session (`SessionHistory`) instead of a live run.
    public func show(history: DashboardModel) { model = history }

    /// True once the user asked to quit a live run: the engine is saving and stopping.
    public private(set) var isStopping = false

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
            }
        }
        if commands.contains(.stop) {
            isStopping = true
            ui.message = "stopping: saving a checkpoint at the next batch boundary…"
        }
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
