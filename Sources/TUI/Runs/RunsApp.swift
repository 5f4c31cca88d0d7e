import Foundation
import Training

/// The runs screen as one object: folds keys into its `RunsState` with `handleRunsKey`, deletes what the
/// user confirmed, re-lists the sessions directory (`refresh`), and hands the actions that leave this
/// screen (open, resume, attach, compare, back, quit) to whoever runs it, as `outcome`.
public final class RunsApp: FullScreenView {
    public private(set) var state: RunsState
    public let store: SessionStore
    public var capabilities: TerminalCapabilities
    public private(set) var width: Int, height: Int
    public let painter: TerminalPainter?
    /// What the user chose that this screen does not do itself; `RunsLoop` returns when it is set.
    public private(set) var outcome: RunsAction?
    /// Lists the runs; tests give fixed rows.
    let list: () -> [RunInfo]

    public init(store: SessionStore, capabilities: TerminalCapabilities, width: Int, height: Int,
                painter: TerminalPainter? = nil, list: (() -> [RunInfo])? = nil) {
        self.store = store; self.capabilities = capabilities; self.width = width; self.height = height
        self.painter = painter
        let listing = list ?? { RunInfo.list(store) }
        self.list = listing
        state = RunsState(runs: listing())
    }

    public func resize(width: Int, height: Int) { self.width = max(0, width); self.height = max(0, height) }

    public func handle(key: Key) {
        if key == .resize { followWindowSize() }
        let (next, actions) = handleRunsKey(key, state: state, windowHeight: height)
        state = next
        for action in actions {
            if case .delete(let session) = action { delete(session) } else { outcome = action }
        }
    }

    /// Ready for another round after the caller carried out `outcome` (a comparison closed, an attach
    /// refused): the listing is read again and `message`, if any, shows on the status line.
    public func resume(saying message: String? = nil, isError: Bool = false) {
        outcome = nil
        refresh()
        if let message { if isError { state.fail(message) } else { state.say(message) } }
    }

    /// Lists the sessions directory again (status and sizes change while runs train).
    public func refresh() { state.replaceRuns(list()) }

    private func delete(_ session: Session) {
        // Asked again at the last moment: the run may have started since the question.
        if RunProcess.live(session) != nil {
            state.fail("\(session.id) is running now; not deleted")
            return
        }
        do {
            try FileManager.default.removeItem(at: session.url)
            refresh()
            state.say("deleted \(session.id)")
        } catch {
            state.fail("cannot delete \(session.id): \(error.localizedDescription)")
        }
    }

    public func render() -> CellGrid {
        frame(help: state.showingHelp ? runsKeyBindings : nil) {
            RunsScreen(state: state, root: store.root.path, width: width, height: height, caps: capabilities).render()
        }
    }
}
