import Foundation
import Data
import Engine
import Models

/// The training recipes the seeds use, and the resolution of a recipe plus command-line flags into a
/// `TrainingConfig` (every flag overrides the recipe).
///
/// Seed recipes, by model family:
/// - MyCNN, ResNet, SE-ResNet, VGG (seed 003): Adam, lr 0.01 for MyCNN and 0.001 for the rest, batch 100,
///   10 epochs, constant learning rate.
/// - MobileNetV1 (seed 001): Adam 0.01, StepLR(step 10, gamma 0.5) per epoch, batch 64, 50 epochs, 10 %
///   of the training set held out (never trained on; every epoch still reports the test set), seed 42,
///   random crop (pad 4) + horizontal flip.
/// - ShuffleNetV1 (seed 002): SGD with momentum 0.9, weight decay 4e-5, label smoothing 0.1, cosine decay
///   from 0.05 to 0.0005 per step after a 4-epoch linear warm-up (from 10 % of 0.05), batch 128 with the last partial batch
///   dropped, 250 epochs.
/// - ShuffleNetV2 (seed 000): SGD 0.1, momentum 0.9, weight decay 5e-4, ReduceLROnPlateau on the test
///   loss (mode min, factor 0.94, patience 1, min_lr 1e-6), batch 128, 20 epochs.
/// - EfficientNetV2-S (seed 004) shows no optimizer. We use AdamW, lr 0.001, weight decay 0.05, with
///   cosine decay to 1e-5 over 30 epochs after a 2-epoch warm-up, batch 128. Why: the paper's recipe
///   (RMSProp, batch 4096, 350 epochs, EMA of weights) is built for TPU pods; on a CPU a run is a few
///   dozen epochs at a small batch, where Adam-family optimizers converge fast without a tuned
///   momentum-SGD schedule. Decoupled weight decay (AdamW rather than Adam's L2 term) keeps the
///   regularisation independent of the adaptive step, which matters for this BatchNorm/SiLU/SE-heavy
///   net, and the warm-up protects the freshly initialised SE gates and BN statistics from Adam's
///   large early steps.
public struct Recipe: Sendable, Equatable {
    public var family: String
    public var epochs: Int
    public var batchSize: Int
    public var dropLast = false
    public var optimizer: TrainingConfig.OptimizerKind
    public var learningRate: Float
    public var momentum: Float = 0
    public var weightDecay: Float = 0
    public var schedule = "constant"
    public var labelSmoothing: Float = 0
    /// nil: the dataset's default augmentation.
    public var augmentation: String?
    public var validationFraction = 0.0
    public var seed: UInt64 = 0

    /// The recipe names `--recipe` accepts.
    public static let names = ["seed"]

    /// The seed recipe of a model family (as `ModelZoo.family` names it: "ResNet", "ShuffleNetV2"); nil when unknown.
    public static func seed(family: String) -> Recipe? {
        switch normalized(family) {
        case "mycnn":
            return Recipe(family: "mycnn", epochs: 10, batchSize: 100, optimizer: .adam, learningRate: 0.01)
        case "resnet", "seresnet", "vgg":
            return Recipe(family: normalized(family), epochs: 10, batchSize: 100, optimizer: .adam, learningRate: 0.001)
        case "spec":
            // A spec file without a `family` line: seed 003's plain recipe (Adam at 0.001, 10 epochs, batch 100),
            // which suits any small network; `family NAME` in the file picks that family's instead.
            return Recipe(family: "spec", epochs: 10, batchSize: 100, optimizer: .adam, learningRate: 0.001)
        case "mobilenetv1", "mobilenet":
            return Recipe(family: "mobilenetv1", epochs: 50, batchSize: 64, optimizer: .adam, learningRate: 0.01,
                          schedule: "step:10:0.5", augmentation: "crop+flip", validationFraction: 0.1, seed: 42)
        case "shufflenetv1":
            return Recipe(family: "shufflenetv1", epochs: 250, batchSize: 128, dropLast: true, optimizer: .sgd,
                          learningRate: 0.05, momentum: 0.9, weightDecay: 4e-5, schedule: "cosine:warmup=4:min=0.0005",
                          labelSmoothing: 0.1)
        case "shufflenetv2":
            return Recipe(family: "shufflenetv2", epochs: 20, batchSize: 128, optimizer: .sgd, learningRate: 0.1,
                          momentum: 0.9, weightDecay: 5e-4, schedule: "plateau:factor=0.94:patience=1:min=1e-6")
        case "efficientnetv2", "efficientnet":
            return Recipe(family: "efficientnetv2", epochs: 30, batchSize: 128, optimizer: .adamw,
                          learningRate: 0.001, weightDecay: 0.05, schedule: "cosine:warmup=2:min=1e-5")
        default:
            return nil
        }
    }

    /// `SE-ResNet` -> `seresnet`, `ShuffleNet_V2` -> `shufflenetv2`.
    static func normalized(_ family: String) -> String {
        String(family.lowercased().filter { $0.isLetter || $0.isNumber })
    }
}

/// Flags a user gave; nil means "take the recipe's value".
public struct TrainingOverrides: Sendable, Equatable {
    public var epochs: Int?
    public var batchSize: Int?
    public var dropLast: Bool?
    public var optimizer: String?
    public var learningRate: Float?
    public var momentum: Float?
    public var weightDecay: Float?
    public var schedule: String?
    public var labelSmoothing: Float?
    public var augmentation: String?
    public var validationFraction: Double?
    public var seed: UInt64?
    public var threads: Int?
    public var limitTrain: Int?
    public var limitTest: Int?
    public var imageSize: Int?
    /// `stretch` or `crop`, as typed (checked by `resolve`).
    public var resize: String?
    public var strict: Bool?
    public init() {}
}

extension TrainingConfig {
    /// Resolves a model of the zoo (any name or alias `ModelZoo` accepts) with its family's seed recipe
    /// and the given overrides: what `cnntui train` and the UI's "new run" call.
    public static func resolve(model: String, dataset: String, dataDirectory: String?, recipe: String = "seed",
                               overrides: TrainingOverrides) throws -> TrainingConfig {
        guard let canonical = ModelZoo.canonicalName(model) else {
            throw TrainingError.invalidFlag(
                flag: "--model", message: "unknown model '\(model)'; known: \(ModelZoo.acceptedNames.joined(separator: ", "))")
        }
        return try resolve(model: canonical, family: ModelZoo.family(canonical), dataset: dataset,
                           dataDirectory: dataDirectory, recipe: recipe, overrides: overrides)
    }

    /// Applies `recipe` for `model`'s family, then every override, and validates the result.
    /// - Parameters:
    ///   - family: the model's family (`ModelZoo.family(model)`), which picks the seed recipe.
    public static func resolve(model: String, family: String, dataset: String, dataDirectory: String?,
                               recipe recipeName: String = "seed", overrides o: TrainingOverrides) throws -> TrainingConfig {
        guard Recipe.names.contains(recipeName) else {
            throw TrainingError.invalidFlag(flag: "--recipe", message: "'\(recipeName)' is not one of \(Recipe.names.joined(separator: ", "))")
        }
        // A data directory that is not there would silently fall back to the standard places.
        var isDirectory: ObjCBool = false
        if let dataDirectory, !dataDirectory.isEmpty,
           !(FileManager.default.fileExists(atPath: (dataDirectory as NSString).expandingTildeInPath, isDirectory: &isDirectory)
             && isDirectory.boolValue) {
            throw TrainingError.invalidFlag(flag: "--data-dir", message: "'\(dataDirectory)' is not a directory")
        }
        guard let recipe = Recipe.seed(family: family) else {
            throw TrainingError.invalidFlag(flag: "--model", message: "no seed recipe for model family '\(family)'")
        }
        var optimizer = recipe.optimizer
        if let name = o.optimizer {
            guard let kind = OptimizerKind(rawValue: name.lowercased()) else {
                throw TrainingError.invalidFlag(flag: "--optimizer", message: "'\(name)' is not one of sgd, adam, adamw")
            }
            optimizer = kind
        }
        let epochs = o.epochs ?? recipe.epochs
        // A recipe's warm-up is sized for its own run length; a shorter run (--epochs 3) keeps a
        // quarter of itself for warm-up instead of failing.
        var schedule = o.schedule ?? recipe.schedule
        if o.schedule == nil, case let .warmupCosine(warmup, minimum, start)? = try? ScheduleSpec.parse(schedule),
           warmup >= epochs {
            schedule = ScheduleSpec.warmupCosine(warmupEpochs: epochs / 4, minLearningRate: minimum, startFactor: start).description
        }
        var resize: ResizeMode?
        if let name = o.resize {
            guard let mode = ResizeMode(rawValue: name.lowercased()) else {
                throw TrainingError.invalidFlag(flag: "--resize", message: "'\(name)' is not one of "
                    + ResizeMode.allCases.map(\.rawValue).joined(separator: ", "))
            }
            resize = mode
        }
        // A recipe's momentum belongs to its optimizer: switching optimizer without --momentum drops it.
        let momentum = o.momentum ?? (optimizer == recipe.optimizer ? recipe.momentum : 0)
        var config = TrainingConfig(
            model: model, dataset: dataset, dataDirectory: dataDirectory, recipe: recipeName,
            epochs: epochs, batchSize: o.batchSize ?? recipe.batchSize,
            dropLast: o.dropLast ?? recipe.dropLast, optimizer: optimizer,
            learningRate: o.learningRate ?? recipe.learningRate, momentum: momentum,
            weightDecay: o.weightDecay ?? recipe.weightDecay, schedule: schedule,
            labelSmoothing: o.labelSmoothing ?? recipe.labelSmoothing,
            augmentation: o.augmentation ?? recipe.augmentation,
            validationFraction: o.validationFraction ?? recipe.validationFraction, seed: o.seed ?? recipe.seed,
            threads: o.threads ?? Parallel.defaultThreads, limitTrain: o.limitTrain, limitTest: o.limitTest)
        config.imageSize = o.imageSize
        config.resize = resize
        config.strict = o.strict
        try config.validate()
        return config
    }
}
