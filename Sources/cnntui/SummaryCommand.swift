import ArgumentParser
import Models

/// Datasets a summary can be sized for without the data on disk.
enum KnownDatasets {
    static let shapes: [(name: String, input: [Int], classes: Int)] = [
        ("fashion-mnist", [1, 28, 28], 10),
        ("mnist", [1, 28, 28], 10),
        ("cifar10", [3, 32, 32], 10),
    ]

    static func lookup(_ name: String) throws -> (input: [Int], classes: Int) {
        guard let d = shapes.first(where: { $0.name == name.lowercased() }) else {
            throw ModelError.unknownDataset(name, valid: shapes.map(\.name))
        }
        return (d.input, d.classes)
    }
}

/// Where the input shape and class count come from: a known dataset, or --input/--classes.
struct InputOptions: ParsableArguments {
    @Option(help: "Dataset the model is sized for: fashion-mnist, mnist, cifar10.")
    var dataset: String?

    @Option(help: "Input shape CxHxW (e.g. 3x64x64), instead of a dataset's.")
    var input: String?

    @Option(help: "Number of classes (default: the dataset's, or 10).")
    var classes: Int?

    func validate() throws {
        if let classes, classes < 1 { throw ValidationError("--classes must be at least 1, got \(classes)") }
        if let input, parseShape(input) == nil {
            throw ValidationError("--input must be CxHxW with positive integers (e.g. 3x32x32), got '\(input)'")
        }
    }

    func parseShape(_ text: String) -> [Int]? {
        let parts = text.lowercased().split(separator: "x").map { Int($0) }
        guard parts.count == 3, parts.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        return parts.compactMap { $0 }
    }

    /// The input [C, H, W] and classes; `fallback` is used when neither --dataset nor --input is given.
    func resolve(fallback: String?) throws -> (input: [Int], classes: Int, label: String)? {
        if let input, let shape = parseShape(input) {
            return (shape, classes ?? 10, input)
        }
        guard let name = dataset ?? fallback else { return nil }
        let d = try KnownDatasets.lookup(name)
        return (d.input, classes ?? d.classes, name.lowercased())
    }
}

struct SummaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summary",
        abstract: "Show a model's layers, output shapes, parameters and multiply-adds for a dataset.")

    @Option(help: "Model name, e.g. resnet, shufflenet-v2-1.5x (see `cnntui models`).")
    var model: String

    @OptionGroup var inputOptions: InputOptions

    @Option(help: "Batch size for the activation-memory estimate.")
    var batchSize: Int = 64

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        if inputOptions.dataset == nil && inputOptions.input == nil {
            throw ValidationError("give --dataset NAME (fashion-mnist, mnist, cifar10) or --input CxHxW")
        }
    }

    func run() throws {
        guard let (input, classes, _) = try inputOptions.resolve(fallback: nil) else { return }
        let summary = try ModelSummary.make(model: model, inputShape: input, classes: classes, batchSize: batchSize)
        print(json ? summary.json : summary.renderText(), terminator: json ? "\n" : "")
    }
}
