import Training

/// Everything the screens show, folded from the engine's events. A value: `apply` is the only mutation, and
/// every history is bounded, so a long run does not grow memory.
public struct DashboardModel: Sendable {
    public var run: RunDescription?
    public var state: TrainingState = .starting
    /// Progress and ETA.
    public var lastStep: StepEvent?
    /// The newest training figures (means over the record's steps) for the header.
    public private(set) var lastRecord: StepRecord?

    /// x = global step throughout. The train series are the step records as they are, so a session reopened
    /// from its metrics draws the same curves as the live run.
    public private(set) var trainLoss = BoundedSeries()
    public private(set) var testLoss = BoundedSeries(capacity: 512)
    public private(set) var trainAccuracy = BoundedSeries()
    public private(set) var testAccuracy = BoundedSeries(capacity: 512)
    public private(set) var learningRate = BoundedSeries()
    /// Global steps at which the learning rate was changed by hand (the newest `maxMarks`).
    public private(set) var manualLearningRateChanges: [Double] = []
    /// Global steps at which momentum, weight decay or the batch size was set by hand (the newest `maxMarks`).
    public private(set) var hyperparameterChanges: [Double] = []
    public let maxMarks = 64
    /// Momentum, weight decay and batch size as last set (the run's own at the start; a batch size set by hand
    /// is shown from when it was set, though it applies from the next epoch).
    public private(set) var steeredValues: [Hyperparameter: Double] = [:]

    public private(set) var lastEvaluation: EvaluationEvent?
    public private(set) var bestTestAccuracy: Float?
    public private(set) var lastCheckpoint: String?
    public private(set) var finalTestAccuracy: Float?
    public private(set) var failure: String?
    /// The newest notice from the engine (checkpoint saved, LR changed, failure), for the status line.
    public private(set) var notice: String?

    /// The newest output of the watched layer (the layers page), if it is being watched.
    public private(set) var layerView: LayerView?
    /// Per-layer health over recent records, oldest first (the health page's sparklines).
    public private(set) var health: [HealthRecord] = []
    public let maxHealthRecords = 120
    /// The NaN or infinity that stopped training, if one did.
    public private(set) var anomaly: Anomaly?
    /// An image folder's first decoding, while the run is being prepared.
    public private(set) var decoding: DecodingProgress?

    /// True when the model was read back from a session's files (no engine behind it).
    public var isHistory = false
    /// True when the run is another process's, followed through its events file (`cnntui attach`): commands go
    /// through its control endpoint, and leaving the viewer leaves the run going.
    public var isAttached = false

    /// Grad-CAM for the browser, from the explainer (`apply(_: ExplainerResult)`).
    public private(set) var explanations = Explanations()

    public init() {}

    /// An engine is behind this model and has not ended: commands reach it, and quitting stops it unless the
    /// viewer is attached to another process's run.
    public var isTrainingLive: Bool {
        !isHistory && (state == .starting || state == .running || state == .paused)
    }

    public static func folding(_ events: [TrainingEvent]) -> DashboardModel {
        var m = DashboardModel()
        for e in events { m.apply(e) }
        return m
    }

    public mutating func apply(_ event: TrainingEvent) {
        switch event {
        case .started(let run):
            self.run = run
            steeredValues = [.momentum: run.momentum, .weightDecay: run.weightDecay, .batchSize: Double(run.batchSize)]
            learningRate.append(x: Double(max(0, (run.startEpoch - 1) * run.stepsPerEpoch)), y: Double(run.learningRate))
        case .step(let s):
            lastStep = s
            if state == .starting { state = .running }
        case .record(let r):
            lastRecord = r
            let x = Double(r.globalStep)
            trainLoss.append(x: x, y: Double(r.loss))
            trainAccuracy.append(x: x, y: Double(r.accuracy))
            learningRate.append(x: x, y: Double(r.learningRate))
        case .evaluation(let e):
            lastEvaluation = e
            testLoss.append(x: Double(e.globalStep), y: Double(e.testLoss))
            testAccuracy.append(x: Double(e.globalStep), y: Double(e.testAccuracy))
            bestTestAccuracy = max(bestTestAccuracy ?? e.testAccuracy, e.testAccuracy)
        case .stateChanged(let s):
            state = s
            if s == .interrupted { notice = "interrupted: the run's process is gone; `cnntui resume` continues it" }
        case .learningRateChanged(let lr, let step, let manual):
            learningRate.append(x: Double(step), y: Double(lr))
            if manual {
                manualLearningRateChanges.append(Double(step))
                if manualLearningRateChanges.count > maxMarks { manualLearningRateChanges.removeFirst() }
            }
            notice = "learning rate set to \(Format.learningRate(lr)) at step \(step)" + (manual ? "" : " (schedule)")
        case let .hyperparameterChanged(field, value, step):
            steeredValues[field] = value
            hyperparameterChanges.append(Double(step))
            if hyperparameterChanges.count > maxMarks { hyperparameterChanges.removeFirst() }
            notice = "\(field.label) set to \(Format.steered(field, value)) at step \(step)"
                + (field.takesEffectNextEpoch ? " (from the next epoch)" : "")
        case .commandApplied:
            break  // the state and checkpoint events that follow a command say what it did
        case .checkpointSaved(let path, let step):
            lastCheckpoint = path
            notice = "checkpoint saved at step \(step): \(path)"
        case .finished(let accuracy):
            state = .finished
            finalTestAccuracy = accuracy
            notice = "finished: test accuracy \(Format.percent(accuracy))"
        case .failed(let message):
            state = .failed
            failure = message
            notice = "training failed: \(message)"
        case .decoding(let progress):
            decoding = progress
            notice = progress.text
        case .layerView(let view):
            layerView = view
        case .health(let record):
            health.append(record)
            if health.count > maxHealthRecords { health.removeFirst(health.count - maxHealthRecords) }
        case .anomaly(let found):
            anomaly = found
            notice = "stopped at step \(found.globalStep): \(found.message)"
        }
    }

    /// Folds one of the explainer's results: its weights and stages, a map, a failure, or (for a session read
    /// back from its files) the test set's images re-evaluated with the last checkpoint, the one whose weights
    /// made the last evaluation of a finished run.
    public mutating func apply(_ result: ExplainerResult) {
        switch result {
        case .ready(let setup):
            if explanations.setup?.globalStep != setup.globalStep { explanations.maps = [:] }
            explanations.setup = setup
            explanations.failure = nil
        case .map(let key, let map, let weights):
            guard weights == explanations.setup?.weights else { return }
            // Full: start again from this map (a user browsing that far will not come back to most of them).
            if explanations.maps.count >= Explanations.capacity { explanations.maps = [:] }
            explanations.maps[key] = map
            explanations.failure = nil
        case .images(let result):
            explanations.evaluating = false
            guard var evaluation = lastEvaluation else { return }
            evaluation.preview = result.preview
            evaluation.misclassified = result.misclassified
            evaluation.leastSure = result.leastSure
            lastEvaluation = evaluation
        case .failed(_, let message):
            explanations.evaluating = false
            explanations.failure = message
        }
    }

    /// Marks the re-evaluation of a reopened session's test set as under way (the browser says so).
    public mutating func noteEvaluatingForBrowser() { explanations.evaluating = true }

    // MARK: - Derived values for the header and panels

    public var classCount: Int {
        run?.classNames.count ?? lastEvaluation?.perClassAccuracy.count ?? 0
    }
    public func className(_ index: Int) -> String {
        if let names = run?.classNames, index >= 0, index < names.count { return names[index] }
        return String(index)
    }
    public var classNames: [String] { (0..<classCount).map(className) }

    /// Where the learning-rate chart marks a change made by hand: the rate's own and the other hyper-parameters'.
    public var manualChangeMarks: [Double] { (manualLearningRateChanges + hyperparameterChanges).sorted() }

    public var currentLearningRate: Float? {
        learningRate.last.map { Float($0.y) } ?? run?.learningRate
    }
    /// Fraction of the whole run done (0 before the first step).
    public var progress: Double {
        guard let s = lastStep, s.totalSteps > 0 else { return 0 }
        return Double(s.globalStep) / Double(s.totalSteps)
    }
    public var perClassAccuracy: [Float] { lastEvaluation?.perClassAccuracy ?? [] }
    public var confusion: [[Int]] { lastEvaluation?.confusion ?? [] }
    public var preview: [PredictedImage] { lastEvaluation?.preview ?? [] }
    public var misclassified: [PredictedImage] { lastEvaluation?.misclassified ?? [] }
    /// The correct predictions the model was least sure of (lowest probability of their class).
    public var leastSure: [PredictedImage] { lastEvaluation?.leastSure ?? [] }
}

/// What the explainer has told: the stages and weights it uses, the maps so far (at most `capacity`; a change
/// of weights empties them), and the last failure.
public struct Explanations: Sendable {
    public static let capacity = 64
    public var setup: CAMSetup?
    public var maps: [CAMKey: CAMMap] = [:]
    public var failure: String?
    /// A reopened session's test set is being re-evaluated for the browser.
    public var evaluating = false
    public init() {}
}
