import ArgumentParser
import Foundation
import Models

struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List the model zoo with parameter and multiply-add totals for a dataset.",
        discussion: """
            --spec NAME prints a zoo model as a network spec file (sized for --dataset or --input; default \
            cifar10): save it as NAME.cnn, edit it, and pass its path to --model.
            """)

    @OptionGroup var inputOptions: InputOptions

    @Flag(help: "Print one JSON array.")
    var json = false

    @Option(help: "Print this zoo model as a network spec file (.cnn) instead of the list.")
    var spec: String?

    func run() throws {
        guard let (input, classes, label) = try inputOptions.resolve(fallback: "cifar10") else { return }
        if let spec {
            guard let name = ModelZoo.canonicalName(spec), !NetworkSpec.isPath(name) else {
                throw ValidationError("--spec: unknown model '\(spec)'; known: \(ModelZoo.acceptedNames.joined(separator: ", "))")
            }
            print(try ModelZoo.specText(name, inputShape: input, classes: classes), terminator: "")
            return
        }
        var objects: [[String: Any]] = []
        var lines: [[String]] = [["Model", "Family", "Seed", "Params", "Mult-adds/image", ""]]
        for name in ModelZoo.names {
            var object: [String: Any] = ["model": name, "family": ModelZoo.family(name), "seed": ModelZoo.seedID(name)]
            do {
                let s = try ModelSummary.make(model: name, inputShape: input, classes: classes, batchSize: 1)
                object["trainable_params"] = s.totals.trainableParams
                object["total_params"] = s.totals.totalParams
                object["macs"] = s.totals.macs
                let adapter = s.rows.first?.name == "adapter" ? "input padded to 32x32" : ""
                lines.append([name, ModelZoo.family(name), ModelZoo.seedID(name), grouped(s.totals.trainableParams),
                              grouped(s.totals.macs), adapter])
            } catch let error as ModelError {
                object["error"] = error.description
                lines.append([name, ModelZoo.family(name), ModelZoo.seedID(name), "-", "-", "not for this input"])
            }
            objects.append(object)
        }
        if json {
            let data = try JSONSerialization.data(withJSONObject: objects, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("Models for \(label) (\(input.map(String.init).joined(separator: "x")), \(classes) classes):")
        var widths = lines[0].map { _ in 0 }
        for line in lines { for (i, cell) in line.enumerated() { widths[i] = max(widths[i], cell.count) } }
        for line in lines {
            print(line.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return (3...4).contains(i) ? pad + cell : cell + pad
            }.joined(separator: "  "))
        }
        print("Aliases: " + ModelZoo.aliasList.map { "\($0.0) = \($0.1)" }.joined(separator: ", "))
    }
}
