/// What crosses the channel between the engine thread and its consumers (the UI, the headless CLI).
/// Everything here is a value, so it crosses threads under Swift 6 strict concurrency as it is.

/// Where a dashboard's commands go: the engine in this process (`TrainingHandle`), or a run in another process
/// through its control endpoint.
public protocol RunControl: Sendable {
    /// Hands `command` over; nil when it was accepted, else what went wrong (the status line shows it).
    func send(_ command: TrainingCommand) -> String?
}

/// Commands a consumer sends; the engine reads them at every batch boundary and never blocks on them.
public enum TrainingCommand: Sendable, Equatable {
    case pause
    case resume
    case setLearningRate(Float)
    /// Momentum or weight decay from the next step, a batch size from the next epoch. Values are checked by
    /// `SteeringRules` before they are sent (the engine ignores one that slipped through); a learning rate goes
    /// as `setLearningRate`.
    case set(Hyperparameter, Double)
    case saveCheckpoint
    /// Save a checkpoint, then finish.
    case stop
    /// Post a `LayerView` of this layer and image about once a second (nil: stop looking, which costs nothing).
    case watchLayer(LayerWatch?)
}

public enum TrainingState: String, Sendable, Codable {
    case starting, running, paused, finished, failed
    /// The run's process is gone without a last event (killed, crashed, the machine went down). No engine posts
    /// it: a viewer following the run from another process (`RunFollower`) finds it out.
    case interrupted
}

/// Where training is, after each step: the header's progress and ETA (coalesced: a slow consumer sees
/// only the newest). The training figures come in `StepRecord`s.
public struct StepEvent: Sendable, Equatable, Codable {
    public var epoch: Int            // 1-based
    public var step: Int             // 1-based within the epoch
    public var stepsPerEpoch: Int
    public var globalStep: Int       // 1-based over the whole run
    public var totalSteps: Int
    public var etaSeconds: Double?   // nil while warming up
    public init(epoch: Int, step: Int, stepsPerEpoch: Int, globalStep: Int, totalSteps: Int, etaSeconds: Double?) {
        self.epoch = epoch; self.step = step; self.stepsPerEpoch = stepsPerEpoch; self.globalStep = globalStep
        self.totalSteps = totalSteps; self.etaSeconds = etaSeconds
    }
    // The events file's fields (`SessionEvents`).
    enum CodingKeys: String, CodingKey {
        case epoch, step
        case stepsPerEpoch = "steps_per_epoch", globalStep = "global_step", totalSteps = "total_steps"
        case etaSeconds = "eta_seconds"
    }
}

/// The training figures of the steps since the previous record, taken every `metricsEvery` steps: means over
/// all of those steps, not one sampled batch. Never dropped, and the same values as the `step` line of the
/// metrics, so a session reopened from its files draws the curves the live run drew.
public struct StepRecord: Sendable, Equatable, Codable {
    public var epoch: Int            // of the record's last step
    public var step: Int             // the last step's number within its epoch
    public var globalStep: Int       // the last step's number over the whole run
    public var loss: Float           // mean loss per image over the steps
    public var accuracy: Float       // fraction of their images right
    public var imagesPerSecond: Double  // their images over their training time
    public var learningRate: Float   // the rate the last step used
    public init(epoch: Int, step: Int, globalStep: Int, loss: Float, accuracy: Float, imagesPerSecond: Double,
                learningRate: Float) {
        self.epoch = epoch; self.step = step; self.globalStep = globalStep; self.loss = loss; self.accuracy = accuracy
        self.imagesPerSecond = imagesPerSecond; self.learningRate = learningRate
    }
    // The events file's fields (`SessionEvents`).
    enum CodingKeys: String, CodingKey {
        case epoch, step, loss, accuracy
        case globalStep = "global_step", imagesPerSecond = "images_per_second", learningRate = "lr"
    }
}

/// A test image with the model's view of it, for the preview grid and the misclassified browser.
public struct PredictedImage: Sendable, Equatable {
    public var testIndex: Int
    public var channels: Int, height: Int, width: Int
    public var pixels: [UInt8]          // raw C*H*W bytes, as stored in the dataset
    public var trueClass: Int
    public var predictedClass: Int
    public var topK: [ClassProbability] // best first
    /// The softmax probability the model gave the true class (listed in `topK` only when it ranked there).
    public var trueProbability: Float
    /// Cross-entropy of the true class, -log `trueProbability` (computed from the logits, so it stays finite
    /// when the probability rounds to 0). The evaluator uses no label smoothing, so this is exactly the
    /// per-image term the test loss averages (fastai's "top losses").
    public var loss: Float
    public var isCorrect: Bool { trueClass == predictedClass }
    /// The probability of the predicted class.
    public var predictedProbability: Float { topK.first?.probability ?? 0 }
    public init(testIndex: Int, channels: Int, height: Int, width: Int, pixels: [UInt8], trueClass: Int,
                predictedClass: Int, topK: [ClassProbability], trueProbability: Float, loss: Float) {
        self.testIndex = testIndex; self.channels = channels; self.height = height; self.width = width
        self.pixels = pixels; self.trueClass = trueClass; self.predictedClass = predictedClass; self.topK = topK
        self.trueProbability = trueProbability; self.loss = loss
    }
}

public struct ClassProbability: Sendable, Equatable, Codable {
    public var classIndex: Int
    public var probability: Float
    public init(classIndex: Int, probability: Float) { self.classIndex = classIndex; self.probability = probability }
    enum CodingKeys: String, CodingKey {
        case probability
        case classIndex = "class_index"
    }
}

/// The result of one evaluation (end of each epoch): never dropped.
public struct EvaluationEvent: Sendable, Equatable, Codable {
    public var epoch: Int
    public var globalStep: Int
    public var trainLoss: Float, trainAccuracy: Float     // means over the epoch just trained
    public var testLoss: Float, testAccuracy: Float
    public var perClassAccuracy: [Float]
    public var confusion: [[Int]]                         // [true][predicted]
    public var preview: [PredictedImage]                  // fixed preview set of test images
    /// The misclassified images with the highest loss (at most 500), highest loss first.
    public var misclassified: [PredictedImage]
    /// The correct predictions with the lowest probability of their class (at most 100), least sure first.
    public var leastSure: [PredictedImage]
    public var learningRate: Float
    public var seconds: Double                            // wall time of the epoch
    public var imagesPerSecond: Double
    public init(epoch: Int, globalStep: Int, trainLoss: Float, trainAccuracy: Float, testLoss: Float,
                testAccuracy: Float, perClassAccuracy: [Float], confusion: [[Int]], preview: [PredictedImage],
                misclassified: [PredictedImage], leastSure: [PredictedImage] = [], learningRate: Float, seconds: Double,
                imagesPerSecond: Double) {
        self.epoch = epoch; self.globalStep = globalStep; self.trainLoss = trainLoss; self.trainAccuracy = trainAccuracy
        self.testLoss = testLoss; self.testAccuracy = testAccuracy; self.perClassAccuracy = perClassAccuracy
        self.confusion = confusion; self.preview = preview; self.misclassified = misclassified
        self.leastSure = leastSure
        self.learningRate = learningRate; self.seconds = seconds; self.imagesPerSecond = imagesPerSecond
    }
    // The events file's fields (`SessionEvents`).
    enum CodingKeys: String, CodingKey {
        case epoch, confusion, preview, misclassified, seconds
        case globalStep = "global_step", trainLoss = "train_loss", trainAccuracy = "train_accuracy"
        case testLoss = "test_loss", testAccuracy = "test_accuracy", perClassAccuracy = "per_class_accuracy"
        case leastSure = "least_sure", learningRate = "lr", imagesPerSecond = "images_per_second"
    }

    /// What disagrees with the class count `per_class_accuracy` gives, if anything: a confusion matrix of
    /// another size, a negative count, an image's class out of range. Viewers index class names, bars and
    /// matrix cells by these, so a line from a foreign writer or a damaged file is refused when it is read.
    public var inconsistency: String? {
        let classes = perClassAccuracy.count
        guard confusion.count == classes, confusion.allSatisfy({ $0.count == classes }) else {
            return "confusion is not \(classes)x\(classes) (per_class_accuracy has \(classes) classes)"
        }
        guard confusion.allSatisfy({ $0.allSatisfy { $0 >= 0 } }) else { return "negative count in confusion" }
        for image in preview + misclassified + leastSure {
            let classIndices = [image.trueClass, image.predictedClass] + image.topK.map(\.classIndex)
            if let bad = classIndices.first(where: { !(0..<classes).contains($0) }) {
                return "test image \(image.testIndex) names class \(bad) of \(classes)"
            }
        }
        return nil
    }
}

/// Everything a consumer is told, each fact once. Step events coalesce; the rest are delivered in order,
/// never dropped.
public enum TrainingEvent: Sendable, Equatable {
    /// Once, before the first step: what is being trained.
    case started(RunDescription)
    case step(StepEvent)
    case record(StepRecord)
    case evaluation(EvaluationEvent)
    /// Starting, running, paused. A run ends with `.finished` or `.failed`, which are its last event and
    /// imply the state: no `stateChanged` precedes them.
    case stateChanged(TrainingState)
    case learningRateChanged(Float, globalStep: Int, manual: Bool)
    /// Momentum, weight decay or batch size set by hand (a batch size applies from the next epoch).
    case hyperparameterChanged(Hyperparameter, Double, globalStep: Int)
    /// A pause, resume, save or stop command was carried out, for the record (the metrics' `command` lines).
    case commandApplied(AppliedCommand, globalStep: Int)
    case checkpointSaved(path: String, globalStep: Int)
    case finished(testAccuracy: Float)
    case failed(message: String)
    /// The watched layer's output (coalesced like steps: a slow consumer sees only the newest).
    case layerView(LayerView)
    /// Per-layer health, every `stepsPerRecord` steps; never dropped.
    case health(HealthRecord)
    /// A NaN or an infinity was caught before the update: a run with a dashboard pauses (the event comes
    /// before its `stateChanged(.paused)`), a headless one ends with `.failed`.
    case anomaly(Anomaly)
    /// An image folder's pictures being decoded, before `started` (the first use of a folder; later starts
    /// read its cache). About a hundred per decode.
    case decoding(DecodingProgress)
}

/// How far an image folder's first decoding has got.
public struct DecodingProgress: Sendable, Equatable, Codable {
    public var done: Int
    public var total: Int
    /// Since the decoding began.
    public var seconds: Double
    public init(done: Int, total: Int, seconds: Double) { self.done = done; self.total = total; self.seconds = seconds }

    /// "decoding pictures: 25000 of 50000 (50%), 7.4 s (cached for the next start)", as the CLI and the
    /// dashboard say it.
    public var text: String {
        let percent = total > 0 ? done * 100 / total : 100
        return String(format: "decoding pictures: %d of %d (%d%%), %.1f s (cached for the next start)", done, total, percent, seconds)
    }
}

/// The commands that land in a session's records when carried out (steering has its own events).
public enum AppliedCommand: String, Sendable, Codable {
    case pause, resume, save, stop
}

/// A run as the consumers show it.
public struct RunDescription: Sendable, Equatable, Codable {
    public var sessionID: String
    public var sessionPath: String
    public var model: String
    public var dataset: String
    public var classNames: [String]
    public var epochs: Int
    public var batchSize: Int
    public var stepsPerEpoch: Int
    /// Steps each `StepRecord` covers (`metricsEvery`).
    public var stepsPerRecord: Int
    public var startEpoch: Int           // > 1 when resumed
    public var optimizer: String
    public var schedule: String
    public var learningRate: Float
    public var parameterCount: Int
    /// The layer tree in forward order (empty for a session read back from its files).
    public var layers: [LayerInfo]
    /// Momentum and weight decay in force at the start (steered values when resumed).
    public var momentum: Double
    public var weightDecay: Double
    /// What can be steered and within which bounds (nil for a session read back from its files).
    public var steering: SteeringRules?
    /// The control endpoint's socket, or nil with `controlProblem` saying why there is none.
    public var controlSocket: String?
    public var controlProblem: String?
    public init(sessionID: String, sessionPath: String, model: String, dataset: String, classNames: [String],
                epochs: Int, batchSize: Int, stepsPerEpoch: Int, stepsPerRecord: Int, startEpoch: Int, optimizer: String,
                schedule: String, learningRate: Float, parameterCount: Int, layers: [LayerInfo] = [],
                momentum: Double = 0, weightDecay: Double = 0, steering: SteeringRules? = nil,
                controlSocket: String? = nil, controlProblem: String? = nil) {
        self.momentum = momentum; self.weightDecay = weightDecay; self.steering = steering
        self.controlSocket = controlSocket; self.controlProblem = controlProblem
        self.sessionID = sessionID; self.sessionPath = sessionPath; self.model = model; self.dataset = dataset
        self.classNames = classNames; self.epochs = epochs; self.batchSize = batchSize
        self.stepsPerEpoch = stepsPerEpoch; self.stepsPerRecord = stepsPerRecord; self.startEpoch = startEpoch; self.optimizer = optimizer
        self.schedule = schedule; self.learningRate = learningRate; self.parameterCount = parameterCount
        self.layers = layers
    }
    // The events file's fields (`SessionEvents`).
    enum CodingKeys: String, CodingKey {
        case model, dataset, epochs, optimizer, schedule, layers
        case sessionID = "session_id", sessionPath = "session_path", classNames = "class_names"
        case batchSize = "batch_size", stepsPerEpoch = "steps_per_epoch", stepsPerRecord = "steps_per_record"
        case startEpoch = "start_epoch", learningRate = "lr", parameterCount = "parameter_count"
        case momentum, steering, weightDecay = "weight_decay"
        case controlSocket = "control_socket", controlProblem = "control_problem"
    }
}
