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
    @Flag(help: "One JSON object: loss, accuracy, per_class, confusion.") var json = false

    func validate() throws {
        guard CheckpointSlot(rawValue: checkpoint) != nil else {
            throw ValidationError("--checkpoint: '\(checkpoint)' is not last or best")
        }
        if let limitTest, limitTest < 1 { throw ValidationError("--limit-test: must be at least 1, got \(limitTest)") }
    }

    func run() throws {
        let slot = CheckpointSlot(rawValue: checkpoint) ?? .last
        let model: SessionModel
        let result: EvaluationResult
        do {
            let session = try SessionStore(override: sessionsDir).open(id)
            model = try SessionModel(session: session, slot: slot)
            result = try model.evaluate(limitTest: limitTest)
        } catch {
            stderrLine("error: \(error)")
            throw ExitCode.failure
        }
        let names = model.dataset.classNames
        if json {
            printJSON(["session": model.session.id, "checkpoint": model.checkpoint.lastPathComponent,
                       "loss": result.loss, "accuracy": result.accuracy,
                       "per_class": Dictionary(uniqueKeysWithValues: zip(names, result.perClassAccuracy.map { Double("\($0)") ?? 0 })),
                       "class_names": names, "confusion": result.confusion])
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
    }
}

extension String {
    func leftPadded(to width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
