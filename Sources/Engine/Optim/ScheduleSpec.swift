import Foundation

/// A learning-rate schedule as the CLI's `--schedule` names it, parsed before the run's sizes are known.
///
/// Grammar (fields separated by `:`, names case-insensitive, defaults are PyTorch's unless noted):
///
///     constant
///     step:<epochs>[:<gamma>]                       StepLR, gamma 0.1           step:10:0.5
///     multistep:<epoch>,<epoch>,...[:<gamma>]       MultiStepLR, gamma 0.1      multistep:30,60:0.1
///     cosine[:warmup=<epochs>][:min=<lr>][:start=<factor>]
///                                                   per batch; warmup 0, min 0, start 0.1 (ours)
///                                                   cosine:warmup=5:min=0.0005
///     plateau[:mode=min|max][:factor=<f>][:patience=<n>][:threshold=<t>][:threshold_mode=rel|abs]
///            [:cooldown=<n>][:min=<lr>][:eps=<e>]   ReduceLROnPlateau           plateau:factor=0.94:patience=1:min=1e-6
public enum ScheduleSpec: Equatable, Sendable, CustomStringConvertible {
    case constant
    case step(epochs: Int, gamma: Double)
    case multiStep(milestones: [Int], gamma: Double)
    case warmupCosine(warmupEpochs: Int, minLearningRate: Double, startFactor: Double)
    case plateau(ReduceLROnPlateau.Options)

    /// Parses a spec; throws `EngineError.invalidArgument` naming the spec and what is wrong with it.
    public static func parse(_ text: String) throws -> ScheduleSpec {
        let fields = text.trimmingCharacters(in: .whitespaces).split(separator: ":", omittingEmptySubsequences: false)
            .map { String($0).trimmingCharacters(in: .whitespaces) }
        let kind = fields[0].lowercased()
        let rest = Array(fields.dropFirst())
        func fail(_ problem: String, _ usage: String) -> EngineError {
            .invalidArgument(layer: "schedule '\(text)'", message: "\(problem) (expected \(usage))")
        }
        func whole(_ s: String, _ what: String, _ usage: String, minimum: Int) throws -> Int {
            guard let v = Int(s), v >= minimum else { throw fail("\(what) '\(s)' is not a whole number >= \(minimum)", usage) }
            return v
        }
        func number(_ s: String, _ what: String, _ usage: String) throws -> Double {
            guard let v = Double(s), v.isFinite, v >= 0 else { throw fail("\(what) '\(s)' is not a number >= 0", usage) }
            return v
        }
        /// `key=value` fields into a dictionary, rejecting unknown and repeated keys.
        func keyed(_ known: [String], _ usage: String) throws -> [String: String] {
            var out: [String: String] = [:]
            for field in rest {
                let parts = field.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[1].isEmpty else { throw fail("field '\(field)' is not key=value", usage) }
                let key = parts[0].lowercased()
                guard known.contains(key) else {
                    throw fail("unknown key '\(parts[0])'; known: \(known.joined(separator: ", "))", usage)
                }
                guard out[key] == nil else { throw fail("key '\(key)' given twice", usage) }
                out[key] = parts[1]
            }
            return out
        }

        switch kind {
        case "constant":
            guard rest.isEmpty else { throw fail("constant takes no fields", "constant") }
            return .constant
        case "step":
            let usage = "step:<epochs>[:<gamma>], e.g. step:10:0.5"
            guard (1...2).contains(rest.count) else { throw fail("step takes 1 or 2 fields, got \(rest.count)", usage) }
            let epochs = try whole(rest[0], "step size", usage, minimum: 1)
            let gamma = rest.count > 1 ? try number(rest[1], "gamma", usage) : 0.1
            guard gamma > 0 else { throw fail("gamma must be positive", usage) }
            return .step(epochs: epochs, gamma: gamma)
        case "multistep":
            let usage = "multistep:<epoch>,<epoch>,...[:<gamma>], e.g. multistep:30,60:0.1"
            guard (1...2).contains(rest.count) else { throw fail("multistep takes 1 or 2 fields, got \(rest.count)", usage) }
            let milestones = try rest[0].split(separator: ",", omittingEmptySubsequences: false).map {
                try whole(String($0).trimmingCharacters(in: .whitespaces), "milestone", usage, minimum: 1)
            }
            let gamma = rest.count > 1 ? try number(rest[1], "gamma", usage) : 0.1
            guard gamma > 0 else { throw fail("gamma must be positive", usage) }
            return .multiStep(milestones: milestones, gamma: gamma)
        case "cosine":
            let usage = "cosine[:warmup=<epochs>][:min=<lr>][:start=<factor>], e.g. cosine:warmup=5:min=0.0005"
            let keys = try keyed(["warmup", "min", "start"], usage)
            let warmup = try keys["warmup"].map { try whole($0, "warmup", usage, minimum: 0) } ?? 0
            let minimum = try keys["min"].map { try number($0, "min", usage) } ?? 0
            let start = try keys["start"].map { try number($0, "start", usage) } ?? 0.1
            guard start > 0, start <= 1 else { throw fail("start factor \(start) must lie in (0, 1]", usage) }
            return .warmupCosine(warmupEpochs: warmup, minLearningRate: minimum, startFactor: start)
        case "plateau":
            let usage = "plateau[:mode=min|max][:factor=<f>][:patience=<n>][:threshold=<t>][:threshold_mode=rel|abs]"
                + "[:cooldown=<n>][:min=<lr>][:eps=<e>], e.g. plateau:factor=0.94:patience=1:min=1e-6"
            let keys = try keyed(["mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "min", "eps"], usage)
            var o = ReduceLROnPlateau.Options()
            if let s = keys["mode"] {
                guard let m = ReduceLROnPlateau.Mode(rawValue: s.lowercased()) else { throw fail("mode '\(s)' is not min or max", usage) }
                o.mode = m
            }
            if let s = keys["threshold_mode"] {
                guard let m = ReduceLROnPlateau.ThresholdMode(rawValue: s.lowercased()) else {
                    throw fail("threshold_mode '\(s)' is not rel or abs", usage)
                }
                o.thresholdMode = m
            }
            if let s = keys["factor"] { o.factor = try number(s, "factor", usage) }
            guard o.factor > 0, o.factor < 1 else { throw fail("factor \(o.factor) must lie in (0, 1)", usage) }
            if let s = keys["patience"] { o.patience = try whole(s, "patience", usage, minimum: 0) }
            if let s = keys["threshold"] { o.threshold = try number(s, "threshold", usage) }
            if let s = keys["cooldown"] { o.cooldown = try whole(s, "cooldown", usage, minimum: 0) }
            if let s = keys["min"] { o.minLearningRate = try number(s, "min", usage) }
            if let s = keys["eps"] { o.eps = try number(s, "eps", usage) }
            return .plateau(o)
        default:
            throw fail("unknown schedule '\(fields[0])'", "constant, step:..., multistep:..., cosine[:...] or plateau[:...]")
        }
    }

    /// Builds the schedule for a run. Cosine counts batches: warm-up `warmupEpochs * batchesPerEpoch`,
    /// annealing to the end of `epochs * batchesPerEpoch`.
    public func makeSchedule(baseLearningRate: Double, epochs: Int, batchesPerEpoch: Int) throws -> any LearningRateSchedule {
        switch self {
        case .constant:
            return ConstantSchedule(learningRate: baseLearningRate)
        case let .step(size, gamma):
            return try EpochDecaySchedule(baseLearningRate: baseLearningRate, rule: .every(size), gamma: gamma)
        case let .multiStep(milestones, gamma):
            return try EpochDecaySchedule(baseLearningRate: baseLearningRate, rule: .milestones(milestones), gamma: gamma)
        case let .warmupCosine(warmupEpochs, minimum, start):
            guard epochs >= 1, batchesPerEpoch >= 1 else {
                throw EngineError.invalidArgument(
                    layer: "schedule '\(self)'", message: "needs epochs and batches per epoch >= 1, got \(epochs) x \(batchesPerEpoch)")
            }
            guard warmupEpochs < epochs else {
                throw EngineError.invalidArgument(
                    layer: "schedule '\(self)'", message: "warm-up of \(warmupEpochs) epochs must be shorter than the run (\(epochs) epochs)")
            }
            return try WarmupCosineSchedule(
                baseLearningRate: baseLearningRate, minLearningRate: minimum, warmupSteps: warmupEpochs * batchesPerEpoch,
                totalSteps: epochs * batchesPerEpoch, startFactor: start)
        case let .plateau(options):
            return try ReduceLROnPlateau(baseLearningRate: baseLearningRate, options: options)
        }
    }

    /// The canonical spec, which `parse` reads back to the same value.
    public var description: String {
        func g(_ x: Double) -> String { "\(x)" }
        switch self {
        case .constant: return "constant"
        case let .step(epochs, gamma): return "step:\(epochs):\(g(gamma))"
        case let .multiStep(ms, gamma): return "multistep:" + ms.map(String.init).joined(separator: ",") + ":\(g(gamma))"
        case let .warmupCosine(w, minimum, start): return "cosine:warmup=\(w):min=\(g(minimum)):start=\(g(start))"
        case let .plateau(o):
            return "plateau:mode=\(o.mode.rawValue):factor=\(g(o.factor)):patience=\(o.patience):threshold=\(g(o.threshold))"
                + ":threshold_mode=\(o.thresholdMode.rawValue):cooldown=\(o.cooldown):min=\(g(o.minLearningRate)):eps=\(g(o.eps))"
        }
    }
}
