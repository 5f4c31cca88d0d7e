import Training

/// The dashboard's pages, switched with the number keys: 1 overview (`dashboard`), 2 layers, 3 health,
/// 4 the misclassified browser (also `m`).
public enum ScreenID: Int, CaseIterable, Sendable, Equatable {
    case dashboard = 1, layers, health, misclassified

    public var pageName: String {
        switch self {
        case .dashboard: return "overview"
        case .layers: return "layers"
        case .health: return "health"
        case .misclassified: return "misclassified"
        }
    }
}

/// The layers page's choices: which layer of the tree, which test image, how the channels are scaled,
/// paged and ordered, and whose kernels the filters view shows.
public struct LayersState: Equatable, Sendable {
    /// Row of `RunDescription.layers`.
    public var layer = 0
    /// Index into `layerImages(model)`: the overview's test images, then the misclassified ones.
    public var image = 0
    /// Scale each channel to its own range instead of the layer's (channels then no longer compare).
    public var perChannelScale = false
    /// Order channels by mean activation, largest first, instead of by index.
    public var sortByMean = false
    /// First page of channels shown is `channelPage * tiles per page`.
    public var channelPage = 0
    /// The output channel whose kernels a deep convolution's filters view shows.
    public var filterOutput = 0
    /// How many pages of channels the window shows for the current layer (set by `App` from the layout,
    /// so right stops at the last page).
    public var pageCount = 1
    public init() {}
}

/// The test images the layers page can feed the network: the overview's preview, then the misclassified.
public func layerImages(_ model: DashboardModel) -> [PredictedImage] {
    let preview = model.preview
    let seen = Set(preview.map(\.testIndex))
    return preview + model.misclassified.filter { !seen.contains($0.testIndex) }
}

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

/// Which images the browser lists: the mistakes, or the correct predictions the model was least sure of.
public enum BrowserView: Equatable, Sendable {
    case mistakes, leastSure
}

/// The browser's order: by loss, highest first (most confident mistakes, least sure correct ones), or by
/// test index.
public enum BrowserOrder: Equatable, Sendable {
    case loss, testIndex
}

/// Whose score Grad-CAM explains: the class the model predicted, or the true one.
public enum CAMClass: Equatable, Sendable {
    case predicted, truth
}

public struct BrowserState: Equatable, Sendable {
    public var filter: BrowserFilter = .all
    public var selected = 0
    public var view: BrowserView = .mistakes
    public var order: BrowserOrder = .loss
    /// Grad-CAM over the large picture (`g`).
    public var gradCAM = false
    /// The stage Grad-CAM looks at, an index into the explainer's stages; nil: its default.
    public var camLayer: Int?
    public var camClass: CAMClass = .predicted
    public init(filter: BrowserFilter = .all, selected: Int = 0, view: BrowserView = .mistakes,
                order: BrowserOrder = .loss) {
        self.filter = filter; self.selected = selected; self.view = view; self.order = order
    }

    /// The image the large picture shows, if any.
    public func selectedItem(in model: DashboardModel) -> PredictedImage? {
        let items = items(in: model)
        return items.isEmpty ? nil : items[min(max(0, selected), items.count - 1)]
    }

    /// The map the large picture wants, when Grad-CAM is on and the explainer has weights.
    public func camKey(in model: DashboardModel) -> CAMKey? {
        guard gradCAM, let setup = model.explanations.setup, !setup.layers.isEmpty,
              let image = selectedItem(in: model) else { return nil }
        let layer = min(max(0, camLayer ?? setup.defaultLayer), setup.layers.count - 1)
        return CAMKey(testIndex: image.testIndex, layer: layer,
                      classIndex: camClass == .predicted ? image.predictedClass : image.trueClass)
    }

    public func items(in model: DashboardModel) -> [PredictedImage] {
        let images = (view == .mistakes ? model.misclassified : model.leastSure).filter(filter.matches)
        switch order {
        case .loss: return images.sorted { ($0.loss, -$0.testIndex) > ($1.loss, -$1.testIndex) }
        case .testIndex: return images.sorted { $0.testIndex < $1.testIndex }
        }
    }
}

/// What the UI shows besides the model: screen, focus, cursors, open prompts, the last message.
public struct UIState: Equatable, Sendable {
    public var screen: ScreenID = .dashboard
    /// The page the browser returns to (m again, Esc).
    public var returnScreen: ScreenID = .dashboard
    public var layers = LayersState()
    /// Selected row of the health table.
    public var healthCursor = 0
    public var focus: DashboardPanel = .loss
    /// Selected confusion-matrix cell (row = true class, column = predicted); the row is also the per-class cursor.
    public var confusionCursor = (row: 0, column: 0)
    public var browser = BrowserState()
    /// The steering form on `l`, while it is open.
    public var steeringForm: SteeringForm?
    /// The form's learning-rate field (its first), while the form is open.
    public var learningRateInput: TextInputState? { steeringForm?.inputs.first }
    public var confirmingQuit = false
    public var showingHelp = false
    public var message: String?
    public var messageIsError = false

    public init() {}

    public static func == (a: UIState, b: UIState) -> Bool {
        a.screen == b.screen && a.returnScreen == b.returnScreen && a.layers == b.layers
            && a.healthCursor == b.healthCursor && a.focus == b.focus && a.confusionCursor == b.confusionCursor && a.browser == b.browser
            && a.steeringForm == b.steeringForm && a.confirmingQuit == b.confirmingQuit
            && a.showingHelp == b.showingHelp && a.message == b.message && a.messageIsError == b.messageIsError
    }
}

/// The form on `l`: the learning rate first, then whatever else the run can steer (momentum for SGD, weight
/// decay, the batch size unless the schedule counts batches). Tab and Shift-Tab move between the fields, Enter
/// applies the fields that were filled in (all checked first: one bad value applies nothing), Esc cancels.
public struct SteeringForm: Equatable, Sendable {
    public var fields: [Hyperparameter]
    public var inputs: [TextInputState]
    public var focus = 0

    public init(fields: [Hyperparameter]) {
        self.fields = fields.isEmpty ? [.learningRate] : fields
        inputs = self.fields.map { _ in TextInputState() }
    }

    public var focusedField: Hyperparameter { fields[focus] }
    public var focusedInput: TextInputState { inputs[focus] }
}

/// What a key asks the app to do beyond changing `UIState`.
public enum UIAction: Equatable, Sendable {
    case send(TrainingCommand)
    case quit
    /// Leave a run of this process going in the background: it stops at a checkpoint (sent with this), and
    /// the caller starts a background process that resumes it there.
    case detach
}
