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
    @OptionGroup var recipe: RecipeOptions

    /// The config when both --model and --dataset were given (the dashboard starts at once), else nil.
    func resolvedConfigIfComplete() throws -> TrainingConfig? {
        guard let model, let dataset else { return nil }
        guard let canonical = ModelZoo.canonicalName(model) else {
            throw ValidationError("--model: unknown model '\(model)'; known: \(ModelZoo.acceptedNames.joined(separator: ", "))")
        }
        if DatasetCatalog.knownNames.contains(dataset), DatasetCatalog.locate(dataset, dataDir: recipe.dataDir) == nil {
            let how = DatasetCatalog.info(dataset)?.howToGet ?? "see `cnntui datasets`"
            throw ValidationError("--dataset: '\(dataset)' is not on this machine; \(how)")
        }
        return try recipe.resolve(model: canonical, dataset: dataset)
    }

    func validateForUI() throws {
        if let model, ModelZoo.canonicalName(model) == nil {
            throw ValidationError("--model: unknown model '\(model)'; known: \(ModelZoo.acceptedNames.joined(separator: ", "))")
        }
        _ = try resolvedConfigIfComplete()
    }
}
