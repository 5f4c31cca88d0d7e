import ArgumentParser
import Foundation
import Training

/// `cnntui eval ID`: a session's checkpoint on the test set.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Evaluate a session's checkpoint on the test set.")

    @Argument(help: "Session ID (or a unique part of it, or its path).") var id: String
    @Option(help: "Which checkpoint: last or best.") var checkpoint = "last"
    @Option(name: .customLong("limit-test"), help: "Test on the first N images only (default: as the run did).")
    var limitTest: Int?
    @Option(name: .customLong("sessions-dir")) var sessionsDir: String?
    @Option(name: .customLong("top-losses"),
            help: "Also list the K test images with the highest loss (most confident mistakes first).")
    var topLosses: Int?
    @Flag(help: "One JSON object: loss, accuracy, per_class, confusion (and top_losses).") var json = false

    func validate() throws {
        guard CheckpointSlot(rawValue: checkpoint) != nil else {
            throw ValidationError("--checkpoint: '\(checkpoint)' is not last or best")
        }
        if let limitTest, limitTest < 1 { throw ValidationError("--limit-test: must be at least 1, got \(limitTest)") }
        if let topLosses, topLosses < 1 { throw ValidationError("--top-losses: must be at least 1, got \(topLosses)") }
    }

    func run() throws {
        let slot = CheckpointSlot(rawValue: checkpoint) ?? .last
        let model: SessionModel
        let result: EvaluationResult
        do {
            let session = try SessionStore(override: sessionsDir).open(id)
            model = try SessionModel(session: session, slot: slot)
            result = try model.evaluate(limitTest: limitTest, topLosses: topLosses ?? 0)
        } catch {
            stderrLine("error: \(error)")
            throw ExitCode.failure
        }
        let names = model.dataset.classNames
        func name(_ c: Int) -> String { c < names.count ? names[c] : String(c) }
        if json {
            var object: [String: Any] = [
                "session": model.session.id, "checkpoint": model.checkpoint.lastPathComponent,
                "loss": result.loss, "accuracy": result.accuracy,
                "per_class": Dictionary(uniqueKeysWithValues: zip(names, result.perClassAccuracy.map { Double("\($0)") ?? 0 })),
                "class_names": names, "confusion": result.confusion]
            if topLosses != nil {
                func number(_ f: Float) -> Any { f.isFinite ? (Double("\(f)") ?? Double(f)) : NSNull() }
                object["top_losses"] = result.topLosses.map { image -> [String: Any] in
                    ["test_index": image.testIndex, "true_class": name(image.trueClass),
                     "predicted_class": name(image.predictedClass), "correct": image.isCorrect,
                     "predicted_probability": number(image.predictedProbability),
                     "true_probability": number(image.trueProbability), "loss": number(image.loss)]
                }
            }
            printJSON(object)
            return
        }
        print("session \(model.session.id), checkpoint \(model.checkpoint.lastPathComponent)")
        print(String(format: "test loss %.4f, accuracy %.2f%% (%d images)", result.loss, result.accuracy * 100,
                     result.confusion.reduce(0) { $0 + $1.reduce(0, +) }))
        let nameWidth = max(5, names.map(\.count).max() ?? 0)
        print("\nper class:")
        for (name, accuracy) in zip(names, result.perClassAccuracy) {
            print("  " + name.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + String(format: "  %6.2f%%", accuracy * 100))
        }
        print("\nconfusion (rows: true class, columns: predicted):")
        let cellWidth = max(4, String(result.confusion.flatMap { $0 }.max() ?? 0).count + 1)
        for (name, row) in zip(names, result.confusion) {
            let cells = row.map { String($0).leftPadded(to: cellWidth) }.joined()
            print("  " + name.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + cells)
        }
        if let topLosses {
            print("\ntop \(topLosses) losses (highest first):")
            let header = "  " + "index".leftPadded(to: 7) + "  " + "true".padding(toLength: nameWidth, withPad: " ", startingAt: 0)
                + "  " + "predicted".padding(toLength: max(9, nameWidth), withPad: " ", startingAt: 0)
                + "  p(pred)  p(true)     loss"
            print(header)
            for image in result.topLosses {
                print("  " + String(image.testIndex).leftPadded(to: 7)
                      + "  " + name(image.trueClass).padding(toLength: nameWidth, withPad: " ", startingAt: 0)
                      + "  " + name(image.predictedClass).padding(toLength: max(9, nameWidth), withPad: " ", startingAt: 0)
                      + String(format: "  %6.2f%%  %6.2f%%  %7.4f", image.predictedProbability * 100,
                               image.trueProbability * 100, image.loss))
            }
        }
    }
}

extension String {
    func leftPadded(to width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
