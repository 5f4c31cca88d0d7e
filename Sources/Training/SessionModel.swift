import Data
import Engine
import Foundation

/// A session's trained model, loaded from one of its checkpoints on the calling thread, for `eval`
/// and `predict`.
public final class SessionModel {
    public let session: Session
    public let config: TrainingConfig
    public let dataset: SessionDataset
    public let checkpoint: URL
    public let network: Network
    private let sources: RunSources

    public init(session: Session, slot: CheckpointSlot = .last, sources: RunSources = .standard) throws {
        self.session = session
        self.sources = sources
        config = try session.readConfig()
        dataset = try session.readDataset()
        guard let checkpoint = session.checkpoint(slot) else {
            throw TrainingError.session(path: session.url.path, message: "has no '\(slot.rawValue)' checkpoint yet")
        }
        self.checkpoint = checkpoint
        Parallel.setThreads(config.threads)
        network = try sources.buildModel(config, dataset.shape, dataset.classNames.count)
        let entries = try CheckpointStore.readModel(in: checkpoint)
        try network.root.loadStateDict(entries, file: checkpoint.appendingPathComponent(CheckpointStore.modelFile).path)
    }

    /// Loss, accuracy, per-class accuracy and confusion on the test set the run used (its `--limit-test` too).
    /// `topLosses`: how many of the highest-loss test images to return in `EvaluationResult.topLosses`.
    public func evaluate(limitTest: Int? = nil, topLosses: Int = 0) throws -> EvaluationResult {
        let data = try sources.loadDataset(config, nil)
        var test = data.test
        if let n = limitTest ?? config.limitTest, n < test.count { test = test.subset(Array(0..<n)) }
        let evaluator = Evaluator(set: test, classes: dataset.classNames.count, mean: dataset.mean, std: dataset.std,
                                  batchSize: max(config.batchSize, 100), topLossCount: topLosses)
        return try evaluator.evaluate(network)
    }

    /// One image's verdict: its top classes and the network's raw logits (what an exported model is checked against).
    public struct Prediction: Sendable {
        public var top: [ClassProbability]
        public var logits: [Float]
    }

    /// Top-k classes for images given as raw C*H*W bytes at the session's image shape, normalised
    /// exactly as the training loader normalises (it is the same loader, without augmentation).
    public func predict(_ images: [[UInt8]], k: Int = 5) throws -> [Prediction] {
        let shape = dataset.shape
        let size = shape.reduce(1, *)
        for (i, pixels) in images.enumerated() where pixels.count != size {
            throw TrainingError.setup(message: "image \(i + 1) has \(pixels.count) bytes, the model takes \(shapeString(shape))")
        }
        let set = ImageSet(channels: shape[0], height: shape[1], width: shape[2], pixels: images.flatMap { $0 },
                           labels: [Int32](repeating: 0, count: images.count))
        let loader = BatchLoader(set: set, batchSize: max(1, images.count), shuffle: false, dropLast: false,
                                 augmentation: .none, mean: dataset.mean, std: dataset.std, seed: 0, prefetch: 1)
        loader.startEpoch(0, skipBatches: 0)
        guard let batch = loader.next() else { return [] }
        defer { loader.recycle(batch) }
        let input = Tensor(shape: [0])
        input.fill(from: batch.images, shape: [batch.count] + shape)
        let logits = try network.infer(input)
        let probabilities = Tensor(shape: logits.shape)
        softmax(logits, into: probabilities)
        let classes = logits.shape[1]
        var results = [Prediction](repeating: Prediction(top: [], logits: []), count: images.count)
        for row in 0..<batch.count {
            results[Int(batch.indices[row])] = Prediction(
                top: Evaluator.ranked(probabilities.data + row * classes, classes: classes, k: min(k, classes)),
                logits: Array(UnsafeBufferPointer(start: logits.data + row * classes, count: classes)))
        }
        return results
    }
}
