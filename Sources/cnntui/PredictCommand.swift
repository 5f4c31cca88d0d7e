import ArgumentParser
import Data
import Foundation
import Training

/// `cnntui predict IMAGE... --session ID`: the top classes for each image.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Classify images with a session's model.",
        discussion: "Each image is converted to the dataset's channels and size and normalised as in training.")

    @Argument(help: "Image files: PNG, JPEG, or binary PGM/PPM.") var images: [String]
    @Option(help: "Session ID (or a unique part of it, or its path).") var session: String
    @Option(help: "Which checkpoint: last or best.") var checkpoint = "best"
    @Option(name: .customLong("top"), help: "How many classes to show per image.") var top = 3
    @Option(name: .customLong("sessions-dir")) var sessionsDir: String?
    @Flag(help: "One JSON object per image: the top classes and the raw logits.") var json = false

    func validate() throws {
        if images.isEmpty { throw ValidationError("give at least one image file") }
        guard CheckpointSlot(rawValue: checkpoint) != nil else {
            throw ValidationError("--checkpoint: '\(checkpoint)' is not last or best")
        }
        if top < 1 { throw ValidationError("--top: must be at least 1, got \(top)") }
    }

    func run() throws {
        do {
            let found = try SessionStore(override: sessionsDir).open(session)
            let slot = CheckpointSlot(rawValue: checkpoint) ?? .best
            let model = try SessionModel(session: found, slot: found.checkpoint(slot) == nil ? .last : slot)
            let prepared = try images.map { try ImageFile.load($0, shape: model.dataset.shape, resize: model.config.resize ?? .stretch) }
            let results = try model.predict(prepared, k: top)
            let names = model.dataset.classNames
            for (path, prediction) in zip(images, results) {
                if json {
                    printJSON(["image": path,
                               "top": prediction.top.map { ["class": names[$0.classIndex], "index": $0.classIndex,
                                                            "probability": Double("\($0.probability)") ?? 0] },
                               "logits": prediction.logits.map { Double("\($0)") ?? 0 }])
                } else {
                    let classes = prediction.top.map { String(format: "%@ %.1f%%", names[$0.classIndex], $0.probability * 100) }
                    print("\(path): " + classes.joined(separator: ", "))
                }
            }
        } catch {
            stderrLine("error: \(error)")
            throw ExitCode.failure
        }
    }
}
