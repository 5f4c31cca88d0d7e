import Engine

/// Builds the optimizer a config names, over a network's trainable parameters.
enum OptimizerFactory {
    static func make(_ config: TrainingConfig, parameters: [Parameter]) -> any Optimizer {
        switch config.optimizer {
        case .sgd:
            return SGD(parameters: parameters, learningRate: config.learningRate, momentum: config.momentum,
                       weightDecay: config.weightDecay)
        case .adam:
            return Adam(parameters: parameters, learningRate: config.learningRate, weightDecay: config.weightDecay)
        case .adamw:
            return AdamW(parameters: parameters, learningRate: config.learningRate, weightDecay: config.weightDecay)
        }
    }
}

/// Turns a schedule spec into a schedule, with errors that name `--schedule`.
public enum ScheduleFactory {
    static func make(_ spec: String, learningRate: Float, stepsPerEpoch: Int, epochs: Int) throws -> any LearningRateSchedule {
        do {
            return try ScheduleSpec.parse(spec, learningRate: learningRate, stepsPerEpoch: stepsPerEpoch, epochs: epochs)
        } catch {
            throw TrainingError.invalidFlag(flag: "--schedule", message: "'\(spec)': \(error)")
        }
    }

    /// Parses a spec with placeholder sizes, to reject a bad one before a run starts.
    public static func validate(_ spec: String) throws {
        _ = try make(spec, learningRate: 0.1, stepsPerEpoch: 10, epochs: 10)
    }
}
