import Training

/// Every key binding, for the help overlay; `handleKey` implements exactly these.
public let keyBindings: [(key: String, action: String)] = [
    ("1 2 3 4", "pages: overview, layers, health, misclassified"),
    ("p, space", "pause / resume training"),
    ("l", "steer: lr, momentum, weight decay, batch size"),
    ("s", "save a checkpoint now"),
    ("m", "misclassified browser (again: back)"),
    ("tab, shift-tab", "overview: move focus between panels"),
    ("arrows", "move in the focused panel / browser"),
    ("Enter", "open the browser at the selected class or cell"),
    ("t / c / a", "browser: filter by true / predicted class / all"),
    ("o / u", "browser: by loss or index / least sure correct"),
    ("g", "browser: Grad-CAM over the picture (again: off)"),
    ("[ / ]", "browser: Grad-CAM at an earlier / later layer"),
    ("v", "browser: Grad-CAM for the predicted / true class"),
    ("up/down, PgUp/PgDn", "layers: choose the layer; health: scroll"),
    ("[ / ]", "layers: previous / next input image"),
    ("left/right", "layers: previous / next page of channels"),
    ("x / o", "layers: scale per channel / sort by mean"),
    (", / .", "layers: kernels of the previous / next output"),
    ("Esc", "back, close prompt or help"),
    ("?", "this help"),
    ("q / d", "quit (training: asks y, saves) / detach (it trains on)"),
    ("Ctrl-C", "quit now (saves a checkpoint)"),
]

/// The UI's reaction to one key: the new state and what to do. Pure, so every binding is testable.
/// While the layers page is open the engine is asked to watch its layer and image: entering the page or
/// changing either sends `.watchLayer(watch)`, leaving it `.watchLayer(nil)`.
public func handleKey(_ key: Key, state: UIState, model: DashboardModel) -> (UIState, [UIAction]) {
    var (s, actions) = handleKeyIgnoringWatch(key, state: state, model: model)
    s.layers = clamped(s.layers, model: model)
    if actions.contains(.send(.stop)) { return (s, actions) }
    let before = activeWatch(state, model), after = activeWatch(s, model)
    if before != after { actions.insert(.send(.watchLayer(after)), at: 0) }
    return (s, actions)
}

/// What the engine should be watching for this state: the layers page's layer and image, else nothing.
public func activeWatch(_ s: UIState, _ model: DashboardModel) -> LayerWatch? {
    guard s.screen == .layers, model.isTrainingLive, let layers = model.run?.layers, !layers.isEmpty else { return nil }
    let layer = layers[min(max(0, s.layers.layer), layers.count - 1)]
    return LayerWatch(layer: layer.path, testIndex: selectedLayerImage(s, model)?.testIndex ?? 0)
}

/// The input image of the layers page (nil before the first evaluation: test image 0 is watched).
public func selectedLayerImage(_ s: UIState, _ model: DashboardModel) -> PredictedImage? {
    let images = layerImages(model)
    return images.isEmpty ? nil : images[min(max(0, s.layers.image), images.count - 1)]
}

func clamped(_ l: LayersState, model: DashboardModel) -> LayersState {
    var l = l
    l.layer = min(max(0, l.layer), max(0, (model.run?.layers.count ?? 0) - 1))
    l.image = min(max(0, l.image), max(0, layerImages(model).count - 1))
    l.channelPage = max(0, l.channelPage)
    l.filterOutput = max(0, l.filterOutput)
    return l
}

/// A transient message ("pausing…", "resuming…", "saving checkpoint…") goes once the engine's events show
/// it no longer holds.
public func expireMessage(_ state: UIState, after event: TrainingEvent, model: DashboardModel) -> UIState {
    guard let m = state.message, !state.messageIsError else { return state }
    var s = state
    let ended = model.state == .finished || model.state == .failed || model.state == .interrupted
    switch m {
    case "pausing…": if model.state == .paused || ended { s.message = nil }
    case "resuming…": if model.state == .running || ended { s.message = nil }
    case "saving checkpoint…":
        if case .checkpointSaved = event { s.message = nil } else if ended { s.message = nil }
    default: break
    }
    return s
}

/// Switches page; the browser remembers where it was opened from, and the layers page opened from the
/// browser takes the browser's image as its input.
func go(_ s: inout UIState, to target: ScreenID, model: DashboardModel) {
    guard target != s.screen else { return }
    if target == .misclassified { s.returnScreen = s.screen }
    if target == .layers, s.screen == .misclassified {
        let items = s.browser.items(in: model)
        if !items.isEmpty {
            let testIndex = items[min(max(0, s.browser.selected), items.count - 1)].testIndex
            if let k = layerImages(model).firstIndex(where: { $0.testIndex == testIndex }) { s.layers.image = k }
        }
    }
    s.screen = target
}

func handleKeyIgnoringWatch(_ key: Key, state: UIState, model: DashboardModel) -> (UIState, [UIAction]) {
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
        s.steeringForm = nil; s.showingHelp = false
        return (s, quitActions(model))
    }
    if let form = s.steeringForm {
        return handleSteeringForm(key, form: form, state: s, model: model)
    }
    if s.showingHelp {
        s.showingHelp = false
        return (s, [])
    }

    switch key {
    case .character("q"), .character("Q"):
        // Only a live run of this process asks first: quitting it stops training.
        if model.isTrainingLive && !model.isAttached { s.confirmingQuit = true; return (s, []) }
        return (s, [.quit])
    case .character("d"), .character("D"):
        // A viewer just leaves. A live run of this process saves a checkpoint at the next batch boundary and goes
        // on in a background process resumed from it (resume is bit-exact, so detaching changes no number).
        if model.isAttached { return (s, [.quit]) }
        guard model.isTrainingLive else {
            s.message = "nothing to detach: the run has ended"
            s.messageIsError = true
            return (s, [])
        }
        return (s, [.send(.stop), .detach])
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
        case .finished, .failed, .interrupted:
            s.message = "\(endedText(model.state)); nothing to pause"; s.messageIsError = true
            return (s, [])
        }
    case .character("l"), .character("L"), .character("s"), .character("S"):
        guard model.isTrainingLive else {
            s.message = model.isHistory ? "this session has ended; `cnntui open ID --epochs N` trains further"
                : "\(endedText(model.state)); nothing to change"
            s.messageIsError = true
            return (s, [])
        }
        if key == .character("s") || key == .character("S") {
            s.message = "saving checkpoint…"
            return (s, [.send(.saveCheckpoint)])
        }
        s.steeringForm = SteeringForm(fields: model.run?.steering?.fields ?? [.learningRate])
        return (s, [])
    case .character("m"), .character("M"):
        if s.screen == .misclassified { s.screen = s.returnScreen } else { openBrowser(&s, filter: .all) }
        return (s, [])
    case .character(let c) where c.isASCII && c.isNumber:
        if let n = c.wholeNumberValue, let target = ScreenID(rawValue: n) { go(&s, to: target, model: model) }
        return (s, [])
    default:
        break
    }
    switch s.screen {
    case .dashboard: return (handleDashboardKey(key, state: s, model: model), [])
    case .layers: return (handleLayersKey(key, state: s, model: model), [])
    case .health: return (handleHealthKey(key, state: s, model: model), [])
    case .misclassified: return (handleBrowserKey(key, state: s, model: model), [])
    }
}

/// Leaving a live run of this process stops it (the engine saves a checkpoint); anything else, an attached viewer
/// included, just closes the UI.
func quitActions(_ model: DashboardModel) -> [UIAction] {
    model.isTrainingLive && !model.isAttached ? [.send(.stop), .quit] : [.quit]
}

/// "training has finished", "training was interrupted".
func endedText(_ state: TrainingState) -> String {
    state == .interrupted ? "training was interrupted" : "training has \(state.rawValue)"
}

func openBrowser(_ s: inout UIState, filter: BrowserFilter) {
    if s.screen != .misclassified { s.returnScreen = s.screen }
    s.screen = .misclassified
    s.browser = BrowserState(filter: filter)
}

func handleSteeringForm(_ key: Key, form: SteeringForm, state: UIState, model: DashboardModel) -> (UIState, [UIAction]) {
    var s = state
    var form = form
    switch key {
    case .escape:
        s.steeringForm = nil
        s.message = form.fields.count == 1 ? "learning rate unchanged" : "nothing changed"
        return (s, [])
    case .tab, .backTab:
        let n = form.fields.count
        form.focus = (form.focus + (key == .tab ? 1 : n - 1)) % n
        s.steeringForm = form
        return (s, [])
    case .enter:
        var actions: [UIAction] = []
        var applied: [String] = []
        for (k, field) in form.fields.enumerated() {
            let text = form.inputs[k].text.trimmingCharacters(in: " ")
            // The learning rate is the one field that must be given when it is the only one.
            if text.isEmpty && (field != .learningRate || form.fields.count > 1) { continue }
            if field == .learningRate {
                guard let lr = Float(text), lr.isFinite, lr > 0, lr <= SteeringRules.maxLearningRate else {
                    form.focus = k
                    s.steeringForm = form
                    s.message = "not a learning rate: \"\(text)\" (want a number in (0, \(Int(SteeringRules.maxLearningRate))], "
                        + "e.g. 0.01 or 1e-3)"
                    s.messageIsError = true
                    return (s, [])
                }
                actions.append(.send(.setLearningRate(lr)))
                applied.append("learning rate → \(Format.learningRate(lr))")
                continue
            }
            let problem: String?
            if let value = Double(text) {
                problem = model.run?.steering?.problem(field, value)
                if problem == nil {
                    actions.append(.send(.set(field, value)))
                    applied.append("\(field.label) → \(Format.steered(field, value))"
                                   + (field.takesEffectNextEpoch ? " (next epoch)" : ""))
                }
            } else {
                problem = "not a number: \"\(text)\""
            }
            if let problem {
                form.focus = k
                s.steeringForm = form
                s.message = "\(field.label): \(problem)"
                s.messageIsError = true
                return (s, [])
            }
        }
        s.steeringForm = nil
        s.message = applied.isEmpty ? "nothing changed" : applied.joined(separator: ", ")
        return (s, actions)
    default:
        form.inputs[form.focus] = form.focusedInput.editing(with: key) ?? form.focusedInput
        s.steeringForm = form
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
            s.browser.filter = t + 1 < classes ? .trueClass(t + 1) : .all
        } else {
            s.browser.filter = .trueClass(0)
        }
        s.browser.selected = 0
    case .character("c"), .character("C"):
        if case .predictedClass(let p) = s.browser.filter {
            s.browser.filter = p + 1 < classes ? .predictedClass(p + 1) : .all
        } else {
            s.browser.filter = .predictedClass(0)
        }
        s.browser.selected = 0
    case .character("a"), .character("A"):
        s.browser.filter = .all
        s.browser.selected = 0
    case .character("o"), .character("O"):
        s.browser.order = s.browser.order == .loss ? .testIndex : .loss
        s.browser.selected = 0
    case .character("u"), .character("U"):
        s.browser.view = s.browser.view == .mistakes ? .leastSure : .mistakes
        s.browser.selected = 0
    case .character("g"), .character("G"):
        s.browser.gradCAM.toggle()
    case .character("["), .character("]"):
        // Earlier or later stage, wrapping around; turns Grad-CAM on. Before the explainer has told its stages
        // there is nothing to move through yet.
        s.browser.gradCAM = true
        guard let setup = model.explanations.setup, !setup.layers.isEmpty else { break }
        let n = setup.layers.count
        let current = min(max(0, s.browser.camLayer ?? setup.defaultLayer), n - 1)
        s.browser.camLayer = (current + (key == .character("[") ? n - 1 : 1)) % n
    case .character("v"), .character("V"):
        s.browser.gradCAM = true
        s.browser.camClass = s.browser.camClass == .predicted ? .truth : .predicted
    case .escape, .backspace: s.screen = s.returnScreen
    default: break
    }
    return s
}

/// Layer up/down (PgUp/PgDn by 10), image [ ], channel pages left/right, x per-channel scale, o sort by
/// mean, , . the output channel whose kernels the filters view shows, Esc back to the overview.
func handleLayersKey(_ key: Key, state: UIState, model: DashboardModel) -> UIState {
    var s = state
    var l = s.layers
    let layerCount = model.run?.layers.count ?? 0
    let imageCount = layerImages(model).count
    if let n = movedCursor(l.layer, by: key, count: layerCount) {
        if n != l.layer { l.layer = n; l.channelPage = 0; l.filterOutput = 0 }
        s.layers = l
        return s
    }
    switch key {
    case .character("["): if imageCount > 0 { l.image = (l.image + imageCount - 1) % imageCount }
    case .character("]"): if imageCount > 0 { l.image = (l.image + 1) % imageCount }
    case .left: l.channelPage = max(0, l.channelPage - 1)
    case .right: l.channelPage = min(l.channelPage + 1, max(0, l.pageCount - 1))
    case .character("x"), .character("X"): l.perChannelScale.toggle()
    case .character("o"), .character("O"): l.sortByMean.toggle(); l.channelPage = 0
    case .character(","): l.filterOutput = max(0, l.filterOutput - 1)
    case .character("."):
        let outputs = model.layerView?.filters?.shape.first ?? Int.max
        l.filterOutput = min(l.filterOutput + 1, max(0, outputs - 1))
    case .escape: s.screen = .dashboard
    default: break
    }
    s.layers = l
    return s
}

/// The health table's cursor: up/down, PgUp/PgDn by 10, Home/End; Esc back to the overview.
func handleHealthKey(_ key: Key, state: UIState, model: DashboardModel) -> UIState {
    var s = state
    if let n = movedCursor(s.healthCursor, by: key, count: HealthScreen.rows(model).count) {
        s.healthCursor = n
        return s
    }
    switch key {
    case .escape: s.screen = .dashboard
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

/// A list cursor after a movement key (nil for any other key): arrows (and vi's j/k), a page, either end.
/// Every list of the UI moves with it: the pickers, the layer tree, the health table.
func movedCursor(_ cursor: Int, by key: Key, count: Int, page: Int = 10) -> Int? {
    let last = max(0, count - 1)
    switch key {
    case .up, .character("k"): return max(0, cursor - 1)
    case .down, .character("j"): return min(last, cursor + 1)
    case .pageUp: return max(0, cursor - page)
    case .pageDown: return min(last, cursor + page)
    case .home: return 0
    case .end: return last
    default: return nil
    }
}
