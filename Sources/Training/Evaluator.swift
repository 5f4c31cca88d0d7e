import Data
import Engine

/// The model's results on a whole image set, in eval mode.
public struct EvaluationResult: Sendable, Equatable {
    public var loss: Float
    public var accuracy: Float
    public var perClassAccuracy: [Float]
    /// [true][predicted]
    public var confusion: [[Int]]
    public var preview: [PredictedImage]
    public var misclassified: [PredictedImage]
}

/// Runs a test set through a network in batches, in eval mode, reusing its buffers across evaluations.
/// Loss is plain cross-entropy (no label smoothing), as the seeds report it.
final class Evaluator {
    static let topK = 5
    static let previewCount = 16
    static let misclassifiedCap = 500

    let set: ImageSet
    let classes: Int
    /// Evenly spread over the test set and fixed for the run, so the preview grid shows the same images each epoch.
    let previewIndices: Set<Int>
    private let mean: [Float], std: [Float]
    private let loader: BatchLoader
    private let input = Tensor(shape: [0])
    private let probabilities = Tensor(shape: [0])
    private let loss = CrossEntropyLoss(labelSmoothing: 0)

    init(set: ImageSet, classes: Int, mean: [Float], std: [Float], batchSize: Int) {
        self.set = set
        self.classes = classes
        self.mean = mean
        self.std = std
        let count = min(Self.previewCount, set.count)
        previewIndices = Set((0..<count).map { $0 * set.count / max(count, 1) })
        loader = BatchLoader(set: set, batchSize: batchSize, shuffle: false, dropLast: false, augmentation: .none,
                             mean: mean, std: std, seed: 0, prefetch: 1)
    }

    /// Test image `index`, normalised as the network sees it; nil when there is no such image.
    func image(at index: Int) -> [Float]? {
        guard index >= 0, index < set.count else { return nil }
        return set.normalizedImage(at: index, mean: mean, std: std)
    }

    func evaluate(_ network: Network) throws -> EvaluationResult {
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        var lossSum = 0.0
        var seen = 0
        var preview: [PredictedImage] = []
        var misclassified: [PredictedImage] = []
        let shape = network.inputShape
        loader.startEpoch(0, skipBatches: 0)
        while let batch = loader.next() {
            defer { loader.recycle(batch) }
            let n = batch.count
            input.fill(from: batch.images, shape: [n] + shape)
            let logits = try network.forward(input, training: false)
            let batchLoss = try batch.labels.withUnsafeBufferPointer { try loss.forward(logits: logits, labels: $0) }
            lossSum += Double(batchLoss) * Double(n)
            seen += n
            probabilities.resize(to: logits.shape)
            softmax(logits, into: probabilities)
            for row in 0..<n {
                let truth = Int(batch.labels[row])
                let ranked = Self.ranked(probabilities.data + row * classes, classes: classes, k: Self.topK)
                let predicted = ranked[0].classIndex
                confusion[truth][predicted] += 1
                let index = Int(batch.indices[row])
                let wanted = previewIndices.contains(index)
                    || (predicted != truth && misclassified.count < Self.misclassifiedCap)
                guard wanted else { continue }
                let image = PredictedImage(testIndex: index, channels: set.channels, height: set.height, width: set.width,
                                           pixels: Array(set.image(at: index)), trueClass: truth,
                                           predictedClass: predicted, topK: ranked)
                if previewIndices.contains(index) { preview.append(image) }
                if predicted != truth && misclassified.count < Self.misclassifiedCap { misclassified.append(image) }
            }
        }
        let correct = (0..<classes).reduce(0) { $0 + confusion[$1][$1] }
        let perClass = confusion.enumerated().map { c, row -> Float in
            let total = row.reduce(0, +)
            return total == 0 ? 0 : Float(row[c]) / Float(total)
        }
        return EvaluationResult(
            loss: seen == 0 ? 0 : Float(lossSum / Double(seen)), accuracy: seen == 0 ? 0 : Float(correct) / Float(seen),
            perClassAccuracy: perClass, confusion: confusion,
            preview: preview.sorted { $0.testIndex < $1.testIndex },
            misclassified: misclassified.sorted { $0.testIndex < $1.testIndex })
    }

    /// The `k` most probable classes of one row, best first (ties: lower class index first).
    static func ranked(_ row: UnsafeMutablePointer<Float>, classes: Int, k: Int) -> [ClassProbability] {
        var best: [ClassProbability] = []
        best.reserveCapacity(k + 1)
        for c in 0..<classes {
            let p = row[c]
            guard best.count < k || p > best[best.count - 1].probability else { continue }
            var i = best.count
            while i > 0 && best[i - 1].probability < p { i -= 1 }
            best.insert(ClassProbability(classIndex: c, probability: p), at: i)
            if best.count > k { best.removeLast() }
        }
        return best
    }
}
