import Training

/// Every key binding, for the help overlay; `handleKey` implements exactly these.
public let keyBindings: [(key: String, action: String)] = [
    ("p, space", "pause / resume training"),
    ("l", "set the learning rate (Enter applies, Esc cancels)"),
    ("s", "save a checkpoint now"),
    ("m", "misclassified browser (again: back)"),
    ("tab, shift-tab", "move focus between panels"),
    ("arrows", "move in the focused panel / browser"),
    ("Enter", "open the browser at the selected class or cell"),
    ("t / c", "browser: filter by true / predicted class"),
    ("a", "browser: clear the filter"),
    ("Esc", "back, close prompt or help"),
    ("?", "this help"),
    ("q", "quit (while training: asks y, then saves)"),
    ("Ctrl-C", "quit now (saves a checkpoint)"),
]

/// The largest learning rate the prompt accepts; anything above is almost surely a typo.
let maxLearningRate: Float = 10

/// The UI's reaction to one key: the new state and what to do. Pure, so every binding is testable.
public func handleKey(_ key: Key, state: UIState, model: DashboardModel) -> (UIState, [UIAction]) {
    var s = state
    s.message = nil
    s.messageIsError = false
    if key == .resize { s.message = state.message; s.messageIsError = state.messageIsError; return (s, []) }

    // Prompts and overlays take every key first.
    if s.confirmingQuit {
        s.confirmingQuit = false
        if key == .character("y") || key == .character("Y") || key == .interrupt { return (s, quitActions(model)) }
        s.message = "quit cancelled"
        return (s, [])
    }
    // Ctrl-C (or SIGTERM) quits at once, the same way a confirmed q does (the engine saves a checkpoint first).
    if key == .interrupt {
        s.learningRateInput = nil; s.showingHelp = false
        return (s, quitActions(model))
    }
    if let input = s.learningRateInput {
        return handleLearningRateInput(key, input: input, state: s)
    }
    if s.showingHelp {
        s.showingHelp = false
        return (s, [])
    }

    switch key {
    case .character("q"), .character("Q"):
        // Only a live run asks first: quitting it stops training.
        if model.isTrainingLive { s.confirmingQuit = true; return (s, []) }
        return (s, [.quit])
    case .character("?"):
        s.showingHelp = true
        return (s, [])
    case .character("p"), .character(" "):
        if model.isHistory {
            s.message = "this session has ended; nothing to pause"; s.messageIsError = true
            return (s, [])
        }
        switch model.state {
        case .running, .starting: s.message = "pausing…"; return (s, [.send(.pause)])
        case .paused: s.message = "resuming…"; return (s, [.send(.resume)])
        case .finished, .failed:
            s.message = "training has \(model.state.rawValue); nothing to pause"; s.messageIsError = true
            return (s, [])
        }
    case .character("l"), .character("L"), .character("s"), .character("S"):
        guard model.isTrainingLive else {
            s.message = model.isHistory ? "this session has ended; `cnntui open ID --epochs N` trains further"
                : "training has \(model.state.rawValue); nothing to change"
            s.messageIsError = true
            return (s, [])
        }
        if key == .character("s") || key == .character("S") {
            s.message = "saving checkpoint…"
            return (s, [.send(.saveCheckpoint)])
        }
        s.learningRateInput = TextInputState()
        return (s, [])
    case .character("m"), .character("M"):
        if s.screen == .misclassified { s.screen = .dashboard } else { openBrowser(&s, filter: .all) }
        return (s, [])
    default:
        break
    }
    switch s.screen {
    case .dashboard: return (handleDashboardKey(key, state: s, model: model), [])
    case .misclassified: return (handleBrowserKey(key, state: s, model: model), [])
    }
}

/// Leaving a live run stops it (the engine saves a checkpoint); anything else just closes the UI.
func quitActions(_ model: DashboardModel) -> [UIAction] {
    model.isTrainingLive ? [.send(.stop), .quit] : [.quit]
}

func openBrowser(_ s: inout UIState, filter: BrowserFilter) {
    s.screen = .misclassified
    s.browser = BrowserState(filter: filter)
}

func handleLearningRateInput(_ key: Key, input: TextInputState, state: UIState) -> (UIState, [UIAction]) {
    var s = state
    switch key {
    case .escape:
        s.learningRateInput = nil
        s.message = "learning rate unchanged"
        return (s, [])
    case .enter:
        let text = input.text.trimmingCharacters(in: " ")
        guard let lr = Float(text), lr.isFinite, lr > 0, lr <= maxLearningRate else {
            s.message = "not a learning rate: \"\(text)\" (want a number in (0, \(Int(maxLearningRate))], e.g. 0.01 or 1e-3)"
            s.messageIsError = true
            return (s, [])
        }
        s.learningRateInput = nil
        s.message = "learning rate → \(Format.learningRate(lr))"
        return (s, [.send(.setLearningRate(lr))])
    default:
        s.learningRateInput = input.editing(with: key) ?? input
        return (s, [])
    }
}

func handleDashboardKey(_ key: Key, state: UIState, model: DashboardModel) -> UIState {
    var s = state
    let panels = DashboardPanel.allCases
    let n = max(1, model.classCount)
    switch key {
    case .tab: s.focus = panels[(s.focus.rawValue + 1) % panels.count]
    case .backTab: s.focus = panels[(s.focus.rawValue + panels.count - 1) % panels.count]
    case .up, .down, .left, .right:
        let (dr, dc) = key == .up ? (-1, 0) : key == .down ? (1, 0) : key == .left ? (0, -1) : (0, 1)
        switch s.focus {
        case .confusion:
            s.confusionCursor = (min(n - 1, max(0, s.confusionCursor.row + dr)), min(n - 1, max(0, s.confusionCursor.column + dc)))
        case .perClass:
            s.confusionCursor.row = min(n - 1, max(0, s.confusionCursor.row + dr))
        default:
            // Arrows elsewhere move between panels, like Tab.
            let step = dr + dc
            s.focus = panels[(s.focus.rawValue + panels.count + step) % panels.count]
        }
    case .enter:
        switch s.focus {
        case .confusion:
            openBrowser(&s, filter: .cell(trueClass: s.confusionCursor.row, predictedClass: s.confusionCursor.column))
        case .perClass: openBrowser(&s, filter: .trueClass(s.confusionCursor.row))
        case .images: openBrowser(&s, filter: .all)
        default: break
        }
    case .escape: s.focus = .loss
    default: break
    }
    return s
}

func handleBrowserKey(_ key: Key, state: UIState, model: DashboardModel) -> UIState {
    var s = state
    let count = s.browser.items(in: model).count
    let classes = max(1, model.classCount)
    switch key {
    case .left, .up: s.browser.selected = max(0, s.browser.selected - 1)
    case .right, .down: s.browser.selected = min(max(0, count - 1), s.browser.selected + 1)
    case .pageUp: s.browser.selected = max(0, s.browser.selected - 10)
    case .pageDown: s.browser.selected = min(max(0, count - 1), s.browser.selected + 10)
    case .home: s.browser.selected = 0
    case .end: s.browser.selected = max(0, count - 1)
    case .character("t"), .character("T"):
        if case .trueClass(let t) = s.browser.filter {
            s.browser = BrowserState(filter: t + 1 < classes ? .trueClass(t + 1) : .all)
        } else {
            s.browser = BrowserState(filter: .trueClass(0))
        }
    case .character("c"), .character("C"):
        if case .predictedClass(let p) = s.browser.filter {
            s.browser = BrowserState(filter: p + 1 < classes ? .predictedClass(p + 1) : .all)
        } else {
            s.browser = BrowserState(filter: .predictedClass(0))
        }
    case .character("a"), .character("A"): s.browser = BrowserState()
    case .escape, .backspace: s.screen = .dashboard
    default: break
    }
    return s
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var t = Substring(self)
        while t.first == set { t = t.dropFirst() }
        while t.last == set { t = t.dropLast() }
        return String(t)
    }
}
