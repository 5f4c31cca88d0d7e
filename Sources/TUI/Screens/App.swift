import Training

/// The whole UI as one object: folds engine events into the model, turns keys into commands, renders a grid,
/// and (when it has a painter) draws it. The loop that connects it to the engine is:
///
///     let painter = try TerminalPainter.start()
///     let app = App(capabilities: painter.capabilities, width: painter.width, height: painter.height, painter: painter)
///     while !app.shouldQuit {
///         for event in channel.drainEvents() { app.handle(event: event) }
///         if let key = painter.readKey(timeoutMilliseconds: 50) { app.handle(key: key).forEach(channel.send) }
///         app.draw()
///     }
///     painter.stop()
public final class App {
    public private(set) var model = DashboardModel()
    public private(set) var ui = UIState()
    public var capabilities: TerminalCapabilities
    public private(set) var width: Int, height: Int
    public private(set) var shouldQuit = false
    public let painter: TerminalPainter?

    public init(capabilities: TerminalCapabilities, width: Int, height: Int, painter: TerminalPainter? = nil) {
        self.capabilities = capabilities; self.width = width; self.height = height; self.painter = painter
    }

    public func handle(event: TrainingEvent) { model.apply(event) }

    /// Applies a key; returns the commands to send to the engine.
    @discardableResult
    public func handle(key: Key) -> [TrainingCommand] {
        if key == .resize, let painter { resize(width: painter.width, height: painter.height) }
        let (newState, actions) = handleKey(key, state: ui, model: model)
        ui = newState
        var commands: [TrainingCommand] = []
        for action in actions {
            switch action {
            case .send(let command): commands.append(command)
            case .quit: shouldQuit = true
            }
        }
        return commands
    }

    public func resize(width: Int, height: Int) { self.width = max(0, width); self.height = max(0, height) }

    public var isTooSmall: Bool { width < Chrome.minimumWidth || height < Chrome.minimumHeight }

    public func render() -> CellGrid {
        if isTooSmall { return Chrome.renderTooSmall(width: width, height: height, confirmingQuit: ui.confirmingQuit, capabilities: capabilities) }
        var grid: CellGrid
        switch ui.screen {
        case .dashboard: grid = DashboardScreen().render(model: model, ui: ui, width: width, height: height, capabilities: capabilities)
        case .misclassified:
            grid = MisclassifiedScreen().render(model: model, ui: ui, width: width, height: height, capabilities: capabilities)
        }
        if ui.showingHelp {
            HelpOverlay(title: "Keys (any key closes)", entries: keyBindings)
                .render(into: &grid, area: grid.bounds, capabilities: capabilities)
        }
        return grid
    }

    /// Renders and paints the changed cells (no-op without a painter); picks up a new window size first.
    public func draw() {
        guard let painter else { return }
        if painter.width != width || painter.height != height { resize(width: painter.width, height: painter.height) }
        painter.draw(render())
    }
}
