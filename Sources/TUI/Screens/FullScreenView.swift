/// What the dashboard (`App`) and the pickers (`SetupApp`) do alike as whole-window views: follow the
/// painter's window size, show the size they need instead of a cramped screen, lay the key help over the
/// screen while it is open, and paint only the cells that changed.
public protocol FullScreenView: AnyObject {
    var capabilities: TerminalCapabilities { get }
    var width: Int { get }
    var height: Int { get }
    /// Nil in tests, which only render.
    var painter: TerminalPainter? { get }
    func resize(width: Int, height: Int)
    /// The whole window as it is now.
    func render() -> CellGrid
}

extension FullScreenView {
    public var isTooSmall: Bool { width < Chrome.minimumWidth || height < Chrome.minimumHeight }

    /// Takes the painter's window size when it changed (a resize key, or a resize noticed while drawing).
    func followWindowSize() {
        guard let painter, painter.width != width || painter.height != height else { return }
        resize(width: painter.width, height: painter.height)
    }

    /// The too-small notice when the window is too small (answering a pending quit question there too);
    /// otherwise `screen()`, with the key help over it when `help` is given.
    func frame(confirmingQuit: Bool = false, help: [(key: String, action: String)]?, screen: () -> CellGrid) -> CellGrid {
        if isTooSmall {
            return Chrome.renderTooSmall(width: width, height: height, confirmingQuit: confirmingQuit, capabilities: capabilities)
        }
        var grid = screen()
        if let help {
            HelpOverlay(title: "Keys (any key closes)", entries: help).render(into: &grid, area: grid.bounds, capabilities: capabilities)
        }
        return grid
    }

    /// Renders and paints the changed cells (no-op without a painter); picks up a new window size first.
    public func draw() {
        guard let painter else { return }
        followWindowSize()
        painter.draw(render())
    }
}
