import ArgumentParser
import Data
import Models
import Training

/// The flags of the UI entry (`cnntui --model M --dataset D ...`): the same names and meanings as `cnntui train`.
/// Given both --model and --dataset the dashboard starts at once; otherwise the pickers open, and the other
/// flags pre-fill the recipe.
struct UIRunOptions: ParsableArguments {
    @Option(help: "Model name (see `cnntui models`); with --dataset, skips the pickers.") var model: String?
    @Option(help: "Dataset name or path (see `cnntui datasets`).") var dataset: String?
    @Option(name: .customLong("data-dir"), help: "Where datasets are looked for.") var dataDir: String?
    @Option(help: "Epochs to train.") var epochs: Int?
    @Option(name: .customLong("batch-size")) var batchSize: Int?
    @Option(help: "sgd, adam or adamw.") var optimizer: String?
    @Option(help: "Learning rate.") var lr: Float?
    @Option(help: "Learning-rate schedule spec.") var schedule: String?
    @Option(help: "Seed for weights, shuffling, augmentation, dropout.") var seed: UInt64?
    @Option(help: "OpenBLAS threads (default 2).") var threads: Int?
    @Option(name: .customLong("limit-train"), help: "Train on the first N images only.") var limitTrain: Int?
    @Option(name: .customLong("limit-test"), help: "Test on the first N images only.") var limitTest: Int?
    @Option(name: .customLong("sessions-dir"), help: "Sessions directory (default $CNNTUI_SESSIONS or ./Sessions).")
    var sessionsDir: String?

    func overrides() -> TrainingOverrides {
        var o = TrainingOverrides()
        o.epochs = epochs
        o.batchSize = batchSize
        o.optimizer = optimizer
        o.learningRate = lr
        o.schedule = schedule
        o.seed = seed
        o.threads = threads
        o.limitTrain = limitTrain
        o.limitTest = limitTest
        return o
    }

    /// The config when both --model and --dataset were given (the dashboard starts at once), else nil.
    func resolvedConfigIfComplete() throws -> TrainingConfig? {
        guard let model, let dataset else { return nil }
        guard let canonical = ModelZoo.canonicalName(model) else {
            throw ValidationError("--model: unknown model '\(model)'; known: \(ModelZoo.acceptedNames.joined(separator: ", "))")
        }
        if DatasetCatalog.knownNames.contains(dataset), DatasetCatalog.locate(dataset, dataDir: dataDir) == nil {
            let how = DatasetCatalog.info(dataset)?.howToGet ?? "see `cnntui datasets`"
            throw ValidationError("--dataset: '\(dataset)' is not on this machine; \(how)")
        }
        do {
            return try TrainingConfig.resolve(model: canonical, family: ModelZoo.family(canonical), dataset: dataset,
                                              dataDirectory: dataDir, overrides: overrides())
        } catch let error as TrainingError {
            throw ValidationError(error.description)
        }
    }

    func validateForUI() throws {
        if let model, ModelZoo.canonicalName(model) == nil {
            throw ValidationError("--model: unknown model '\(model)'; known: \(ModelZoo.acceptedNames.joined(separator: ", "))")
        }
        _ = try resolvedConfigIfComplete()
    }
}
