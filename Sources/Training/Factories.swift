import Engine

/// Builds the optimizer a config names, over a network's trainable parameters.
enum OptimizerFactory {
    static func make(_ config: TrainingConfig, parameters: [Parameter]) throws -> any Optimizer {
        do {
            switch config.optimizer {
            case .sgd:
                return try SGD(parameters: parameters, learningRate: config.learningRate, momentum: Double(config.momentum),
                               weightDecay: Double(config.weightDecay))
            case .adam:
                return try Adam(parameters: parameters, learningRate: config.learningRate,
                                weightDecay: Double(config.weightDecay))
            case .adamw:
                return try Adam.adamW(parameters: parameters, learningRate: config.learningRate,
                                      weightDecay: Double(config.weightDecay))
            }
        } catch {
            throw TrainingError.invalidFlag(flag: "--optimizer", message: "\(config.optimizer.rawValue): \(error)")
        }
    }
}

/// Turns a schedule spec (`ScheduleSpec` grammar: `constant`, `step:10:0.5`, `cosine:warmup=4:min=0.0005`,
/// `plateau:factor=0.94:patience=1:min=1e-6`, ...) into a schedule, with errors that name `--schedule`.
public enum ScheduleFactory {
    static func make(_ spec: String, learningRate: Float, stepsPerEpoch: Int, epochs: Int) throws -> any LearningRateSchedule {
        do {
            return try ScheduleSpec.parse(spec).makeSchedule(
                baseLearningRate: Double(learningRate), epochs: epochs, batchesPerEpoch: stepsPerEpoch)
        } catch {
            throw TrainingError.invalidFlag(flag: "--schedule", message: "\(error)")
        }
    }

    /// Rejects a spec that does not parse, or does not fit the run's length (a warm-up as long as the run).
    public static func validate(_ spec: String, epochs: Int) throws {
        _ = try make(spec, learningRate: 0.1, stepsPerEpoch: 10, epochs: epochs)
    }
}
