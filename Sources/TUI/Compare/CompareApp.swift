import Foundation
import Training

/// A comparison of runs as one object, like `App` for a run: folds keys into `CompareUIState`, re-reads the
/// runs whose files changed (`refresh`), renders with `CompareScreen`. `CompareLoop` runs it on a terminal.
public final class CompareApp: FullScreenView {
    public private(set) var runs: [ComparedRun]
    public private(set) var ui = CompareUIState()
    public var capabilities: TerminalCapabilities
    public private(set) var width: Int, height: Int
    public let painter: TerminalPainter?
    /// Opened from the runs screen: Esc goes back there.
    public let canGoBack: Bool
    /// Set when the user leaves: `quit` ends the program, otherwise back to the runs screen.
    public private(set) var isDone = false
    public private(set) var quits = false

    public init(runs: [ComparedRun], capabilities: TerminalCapabilities, width: Int, height: Int,
                painter: TerminalPainter? = nil, canGoBack: Bool = false) {
        self.runs = runs; self.capabilities = capabilities; self.width = width; self.height = height
        self.painter = painter; self.canGoBack = canGoBack
    }

    /// Reads the sessions into a comparison; at least two and at most `compareMaxRuns`, each once.
    public static func load(_ sessions: [Session]) throws -> [ComparedRun] {
        var seen = Set<String>()
        let distinct = sessions.filter { seen.insert($0.url.standardizedFileURL.path).inserted }
        guard distinct.count >= 2 else {
            throw TrainingError.setup(message: distinct.count == sessions.count
                ? "compare needs at least two runs, got \(sessions.count)"
                : "compare needs at least two different runs; the IDs name \(distinct.count)")
        }
        guard distinct.count <= compareMaxRuns else {
            throw TrainingError.setup(message: "compare takes at most \(compareMaxRuns) runs (one colour and mark each), got \(distinct.count)")
        }
        return try distinct.map { try ComparedRun(session: $0) }
    }

    public func resize(width: Int, height: Int) { self.width = max(0, width); self.height = max(0, height) }

    public func handle(key: Key) {
        if key == .resize { followWindowSize() }
        let (next, actions) = handleCompareKey(key, state: ui, runCount: runs.count)
        ui = next
        for action in actions {
            switch action {
            case .close:
                isDone = true
                quits = !canGoBack
            case .quit:
                isDone = true
                quits = true
            }
        }
    }

    /// Re-reads every run whose files changed; true when the screen may look different.
    @discardableResult
    public func refresh() -> Bool {
        var changed = false
        for k in runs.indices where runs[k].reload() { changed = true }
        return changed
    }

    public func render() -> CellGrid {
        frame(help: ui.showingHelp ? compareKeyBindings : nil) {
            CompareScreen(runs: runs, ui: ui, canGoBack: canGoBack, width: width, height: height, caps: capabilities).render()
        }
    }
}
