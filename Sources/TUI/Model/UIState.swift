import Training

public enum ScreenID: Sendable, Equatable { case dashboard, misclassified }

/// The dashboard's panels in focus order (Tab moves forward).
public enum DashboardPanel: Int, CaseIterable, Sendable {
    case loss, accuracy, learningRate, perClass, confusion, images
    public var title: String {
        switch self {
        case .loss: return "Loss"
        case .accuracy: return "Accuracy"
        case .learningRate: return "Learning rate"
        case .perClass: return "Per-class accuracy"
        case .confusion: return "Confusion (true x predicted, % of row)"
        case .images: return "Test images"
        }
    }
}

/// Which misclassified images the browser shows.
public enum BrowserFilter: Equatable, Sendable {
    case all
    case trueClass(Int)
    case predictedClass(Int)
    case cell(trueClass: Int, predictedClass: Int)

    public func matches(_ image: PredictedImage) -> Bool {
        switch self {
        case .all: return true
        case .trueClass(let t): return image.trueClass == t
        case .predictedClass(let p): return image.predictedClass == p
        case .cell(let t, let p): return image.trueClass == t && image.predictedClass == p
        }
    }

    public func describe(_ model: DashboardModel) -> String {
        switch self {
        case .all: return "all"
        case .trueClass(let t): return "true = \(model.className(t))"
        case .predictedClass(let p): return "predicted = \(model.className(p))"
        case .cell(let t, let p): return "true = \(model.className(t)), predicted = \(model.className(p))"
        }
    }
}

public struct BrowserState: Equatable, Sendable {
    public var filter: BrowserFilter = .all
    public var selected = 0
    public init(filter: BrowserFilter = .all, selected: Int = 0) { self.filter = filter; self.selected = selected }

    public func items(in model: DashboardModel) -> [PredictedImage] { model.misclassified.filter(filter.matches) }
}

/// What the UI shows besides the model: screen, focus, cursors, open prompts, the last message.
public struct UIState: Equatable, Sendable {
    public var screen: ScreenID = .dashboard
    public var focus: DashboardPanel = .loss
    /// Selected confusion-matrix cell (row = true class, column = predicted); the row is also the per-class cursor.
    public var confusionCursor = (row: 0, column: 0)
    public var browser = BrowserState()
    public var learningRateInput: TextInputState?
    public var confirmingQuit = false
    public var showingHelp = false
    public var message: String?
    public var messageIsError = false

    public init() {}

    public static func == (a: UIState, b: UIState) -> Bool {
        a.screen == b.screen && a.focus == b.focus && a.confusionCursor == b.confusionCursor && a.browser == b.browser
            && a.learningRateInput == b.learningRateInput && a.confirmingQuit == b.confirmingQuit
            && a.showingHelp == b.showingHelp && a.message == b.message && a.messageIsError == b.messageIsError
    }
}

/// What a key asks the app to do beyond changing `UIState`.
public enum UIAction: Equatable, Sendable {
    case send(TrainingCommand)
    case quit
}
