import Foundation
import Training

/// The runs screen as a value: every run of the sessions directory, how they are sorted and filtered, the
/// cursor, the runs marked for a comparison, an open filter prompt or delete question, and the last
/// message. `handleRunsKey` makes the next state; `RunsApp` carries out the actions.
public struct RunsState: Equatable, Sendable {
    public private(set) var runs: [RunInfo]
    public var sort = RunSortField.start
    public var reversed = false
    public var filter = ""
    /// The filter being typed, if the prompt is open.
    public var filterInput: TextInputState?
    /// The row of `visible` under the cursor.
    public var cursor = 0
    /// IDs marked with space for a comparison, in the order they were marked.
    public var marked: [String] = []
    /// The run the delete question is about.
    public var confirmingDelete: String?
    public var message: String?
    public var messageIsError = false
    public var showingHelp = false

    public init(runs: [RunInfo]) {
        self.runs = runs
        // The newest run is where the eye lands first: the last row of the start order.
        cursor = max(0, runs.count - 1)
    }

    /// The runs the table shows: filtered, sorted.
    public var visible: [RunInfo] { sort.sorted(runs.filter { $0.matches(filter) }, reversed: reversed) }

    public var selected: RunInfo? {
        let v = visible
        return v.indices.contains(cursor) ? v[cursor] : nil
    }

    /// Takes a fresh listing, keeping the cursor on the same run (or the same row when it went) and only
    /// the marks of runs that still exist.
    public mutating func replaceRuns(_ new: [RunInfo]) {
        let id = selected?.id
        runs = new
        let ids = Set(new.map(\.id))
        marked = marked.filter(ids.contains)
        if let id, let row = visible.firstIndex(where: { $0.id == id }) { cursor = row }
        clampCursor()
    }

    mutating func clampCursor() { cursor = min(max(0, cursor), max(0, visible.count - 1)) }

    mutating func fail(_ why: String) {
        message = why
        messageIsError = true
    }

    mutating func say(_ what: String) {
        message = what
        messageIsError = false
    }
}

/// What a key asks beyond a new `RunsState`: things done outside the state (files, other screens).
public enum RunsAction: Equatable, Sendable {
    /// Show the session as `cnntui open` does: its history, or training resumed when it can go on.
    case open(Session)
    /// Train on from the last checkpoint, in the dashboard.
    case resume(Session)
    /// Follow a run another process executes.
    case attach(Session)
    case compare([Session])
    /// Remove the session's directory (the user said yes, the run is not live).
    case delete(Session)
    /// Back to the pickers.
    case back
    case quit
}

/// Every key of the runs screen, for the help overlay; `handleRunsKey` implements exactly these.
public let runsKeyBindings: [(key: String, action: String)] = [
    ("up/down, PgUp/PgDn", "move"),
    ("Enter", "open: a finished run's dashboard, or resume an unfinished one"),
    ("r", "resume training from the last checkpoint"),
    ("a", "attach to a running run"),
    ("space", "mark for comparing (several)"),
    ("c", "compare the marked runs"),
    ("d", "delete the run (asks first; not while it runs)"),
    ("s / S", "sort by the next field / reverse the order"),
    ("/", "filter by words of the ID, model, dataset, status"),
    ("Esc", "back to the pickers (clears a filter first)"),
    ("?", "this help"),
    ("q, Ctrl-C", "quit"),
]

public func handleRunsKey(_ key: Key, state: RunsState, windowHeight: Int) -> (RunsState, [RunsAction]) {
    var s = state
    if key == .resize { return (s, []) }
    s.message = nil
    s.messageIsError = false
    if key == .interrupt { return (s, [.quit]) }
    if let input = s.filterInput { return (handleFilterKey(key, input: input, state: s), []) }
    if let id = s.confirmingDelete {
        s.confirmingDelete = nil
        guard key == .character("y") || key == .character("Y"), let run = s.runs.first(where: { $0.id == id }) else {
            s.say("kept \(id)")
            return (s, [])
        }
        return (s, [.delete(run.session)])
    }
    if s.showingHelp {
        s.showingHelp = false
        return (s, [])
    }
    let count = s.visible.count
    if let c = movedCursor(s.cursor, by: key, count: count, page: max(1, windowHeight - 9)) {
        s.cursor = c
        return (s, [])
    }
    switch key {
    case .character("q"), .character("Q"): return (s, [.quit])
    case .character("?"): s.showingHelp = true
    case .escape, .backspace:
        if s.filter.isEmpty { return (s, [.back]) }
        s.filter = ""
        s.clampCursor()
    case .character("/"): s.filterInput = TextInputState(text: s.filter)
    case .character("s"):
        let all = RunSortField.allCases
        s.sort = all[((all.firstIndex(of: s.sort) ?? 0) + 1) % all.count]
        s.reversed = false
        s.cursor = 0
        s.say("sorted by \(s.sort.rawValue)")
    case .character("S"):
        s.reversed.toggle()
        s.cursor = 0
        s.say("sorted by \(s.sort.rawValue), \(s.reversed ? "reversed" : "usual order")")
    case .character(" "):
        guard let run = s.selected else { break }
        if let k = s.marked.firstIndex(of: run.id) { s.marked.remove(at: k) } else { s.marked.append(run.id) }
        s.cursor = min(s.cursor + 1, max(0, count - 1))
    case .character("c"):
        let sessions = s.marked.compactMap { id in s.runs.first { $0.id == id }?.session }
        guard sessions.count >= 2 else {
            s.fail("mark two or more runs with space, then c (\(sessions.count) marked)")
            break
        }
        guard sessions.count <= compareMaxRuns else {
            s.fail("compare takes at most \(compareMaxRuns) runs, \(sessions.count) are marked")
            break
        }
        return (s, [.compare(sessions)])
    case .enter:
        guard let run = s.selected else { break }
        // Opening a run another process trains would train it twice: follow it instead.
        return (s, [run.status.isLive ? .attach(run.session) : .open(run.session)])
    case .character("r"):
        guard let run = s.selected else { break }
        switch run.status {
        case .running, .paused: s.fail("\(run.id) is \(run.status.text): attach (a) to follow it")
        case .new: s.fail("\(run.id) has no checkpoint to resume from")
        case .finished: s.fail("\(run.id) is finished (`cnntui resume \(run.id) --epochs N` trains further)")
        case .interrupted, .stopped: return (s, [.resume(run.session)])
        }
    case .character("a"):
        guard let run = s.selected else { break }
        guard run.status.isLive else {
            s.fail("\(run.id) is \(run.status.name), nothing to attach to (Enter opens it)")
            break
        }
        return (s, [.attach(run.session)])
    case .character("d"), .delete:
        guard let run = s.selected else { break }
        guard !run.status.isLive else {
            s.fail("\(run.id) is \(run.status.text); stop it before deleting")
            break
        }
        s.confirmingDelete = run.id
    default: break
    }
    return (s, [])
}

func handleFilterKey(_ key: Key, input: TextInputState, state: RunsState) -> RunsState {
    var s = state
    switch key {
    case .escape:
        s.filterInput = nil
    case .enter:
        s.filterInput = nil
        s.filter = input.text.trimmingCharacters(in: .whitespaces)
        s.cursor = 0
        s.clampCursor()
        if !s.filter.isEmpty && s.visible.isEmpty { s.fail("no run matches \"\(s.filter)\"") }
    default:
        s.filterInput = input.editing(with: key) ?? input
    }
    return s
}
