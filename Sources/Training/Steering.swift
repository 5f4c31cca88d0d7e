import Engine
import Foundation

/// A hyper-parameter a live run can be steered by: from the dashboard's form (`l`) or through the control
/// endpoint (`{"cmd":"set","field":"momentum","value":0.5}`). The raw values are the protocol's field names.
public enum Hyperparameter: String, Sendable, CaseIterable, Codable {
    case learningRate = "lr"
    case momentum
    case weightDecay = "weight_decay"
    case batchSize = "batch_size"

    /// How people say it: "learning rate", "weight decay".
    public var label: String {
        switch self {
        case .learningRate: return "learning rate"
        case .momentum: return "momentum"
        case .weightDecay: return "weight decay"
        case .batchSize: return "batch size"
        }
    }

    /// The rate, momentum and weight decay apply from the next step; a batch size from the next epoch (an
    /// epoch's batches are laid out when it starts, and a resumed run must find them where they were).
    public var takesEffectNextEpoch: Bool { self == .batchSize }
}

/// What a run lets a user steer, and within which bounds: fixed once the run is prepared. The endpoint checks
/// every `set` with it before anything is queued, and the dashboard's form before it sends, so a refused
/// value changes nothing anywhere.
public struct SteeringRules: Sendable, Equatable, Codable {
    public var optimizer: TrainingConfig.OptimizerKind
    /// The schedule spec; a per-batch one (cosine) lays its curve out in batches of the starting size.
    public var schedule: String
    public var trainImages: Int
    public var dropLast: Bool

    // The events file's fields (the `steering` object of a `started` line).
    enum CodingKeys: String, CodingKey {
        case optimizer, schedule, trainImages = "train_images", dropLast = "drop_last"
    }

    /// The largest learning rate accepted: anything above is almost surely a typo.
    public static let maxLearningRate: Float = 10

    public init(optimizer: TrainingConfig.OptimizerKind, schedule: String, trainImages: Int, dropLast: Bool) {
        self.optimizer = optimizer; self.schedule = schedule; self.trainImages = trainImages; self.dropLast = dropLast
    }

    var schedulesPerBatch: Bool { schedule.hasPrefix("cosine") }

    /// The fields this run can change, in the form's order.
    public var fields: [Hyperparameter] {
        Hyperparameter.allCases.filter { field in
            switch field {
            case .momentum: return optimizer == .sgd
            case .batchSize: return !schedulesPerBatch
            default: return true
            }
        }
    }

    /// Why `value` cannot be set for `field` in this run, naming both; nil when it can.
    public func problem(_ field: Hyperparameter, _ value: Double) -> String? {
        let name = field.rawValue
        guard value.isFinite else { return "\(name) must be a finite number, got \(value)" }
        switch field {
        case .learningRate:
            guard value > 0 else { return "lr must be a positive number, got \(value)" }
            guard value <= Double(Self.maxLearningRate) else {
                return "lr \(value) is above \(Int(Self.maxLearningRate)) (a typo?)"
            }
        case .momentum:
            guard optimizer == .sgd else {
                return "momentum applies to SGD only: \(optimizer.rawValue) keeps its own moving average of the gradients "
                    + "(beta1), which is not steered"
            }
            guard value >= 0, value < 1 else { return "momentum must be in [0, 1), got \(value)" }
        case .weightDecay:
            guard value >= 0 else { return "weight_decay must be >= 0, got \(value)" }
        case .batchSize:
            guard value >= 1, value == value.rounded(), value <= Double(Int32.max) else {
                return "batch_size must be a whole number >= 1, got \(value)"
            }
            guard !schedulesPerBatch else {
                return "batch_size cannot change under the schedule '\(schedule)': its curve is laid out in batches "
                    + "of the size the run started with"
            }
            if dropLast, Int(value) > trainImages {
                return "batch_size \(Int(value)) with the last batch dropped leaves no batch of the \(trainImages) training images"
            }
        }
        return nil
    }
}

/// The steered values in force besides the learning rate (which the optimizer and the schedule keep): what a
/// checkpoint saves so that a resumed run goes on with them, without replaying the changes.
public struct SteeredValues: Codable, Sendable, Equatable {
    public var momentum: Double
    public var weightDecay: Double
    /// The batch size of the epoch in progress (a resumed run skips its done batches at this size).
    public var batchSize: Int
    /// A batch size set during the epoch, for the next one.
    public var nextBatchSize: Int?

    public init(momentum: Double, weightDecay: Double, batchSize: Int, nextBatchSize: Int? = nil) {
        self.momentum = momentum; self.weightDecay = weightDecay; self.batchSize = batchSize
        self.nextBatchSize = nextBatchSize
    }

    /// What a config starts a run with.
    init(_ config: TrainingConfig) {
        self.init(momentum: Double(config.momentum), weightDecay: Double(config.weightDecay), batchSize: config.batchSize)
    }

    enum CodingKeys: String, CodingKey {
        case momentum
        case weightDecay = "weight_decay", batchSize = "batch_size", nextBatchSize = "next_batch_size"
    }
}

extension SteeredValues {
    /// Sets momentum (SGD) and weight decay (all three optimizers) on an optimizer. Setting the values it already
    /// has changes nothing, so an unsteered run trains exactly as before.
    func apply(to optimizer: any Optimizer) {
        if let sgd = optimizer as? SGD {
            sgd.momentum = momentum
            sgd.weightDecay = weightDecay
        } else if let adam = optimizer as? Adam {
            adam.weightDecay = weightDecay
        }
    }
}
