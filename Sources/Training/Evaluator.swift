import Data
import Engine
import Foundation

/// The model's results on a whole image set, in eval mode.
public struct EvaluationResult: Sendable, Equatable {
    public var loss: Float
    public var accuracy: Float
    public var perClassAccuracy: [Float]
    /// [true][predicted]
    public var confusion: [[Int]]
    public var preview: [PredictedImage]
    /// The misclassified images with the highest loss (at most `Evaluator.misclassifiedCap`), highest first.
    public var misclassified: [PredictedImage]
    /// The correct predictions with the lowest probability of their true class (at most
    /// `Evaluator.leastSureCap`), least sure first.
    public var leastSure: [PredictedImage]
    /// The test images with the highest loss, correct or not (as many as asked for), highest first.
    public var topLosses: [PredictedImage]
}

/// Runs a test set through a network in batches, in eval mode, reusing its buffers across evaluations.
/// Loss is plain cross-entropy (no label smoothing), as the seeds report it.
final class Evaluator {
    static let topK = 5
    static let previewCount = 16
    static let misclassifiedCap = 500
    static let leastSureCap = 100

    let set: ImageSet
    let classes: Int
    /// Evenly spread over the test set and fixed for the run, so the preview grid shows the same images each epoch.
    let previewIndices: Set<Int>
    private let mean: [Float], std: [Float]
    private let loader: BatchLoader
    private let input = Tensor(shape: [0])
    private let probabilities = Tensor(shape: [0])
    private let loss = CrossEntropyLoss(labelSmoothing: 0)
    /// How many of each kind of image one evaluation keeps.
    let misclassifiedCap: Int, leastSureCap: Int, topLossCount: Int

    init(set: ImageSet, classes: Int, mean: [Float], std: [Float], batchSize: Int,
         misclassifiedCap: Int = Evaluator.misclassifiedCap, leastSureCap: Int = Evaluator.leastSureCap,
         topLossCount: Int = 0) {
        self.set = set
        self.classes = classes
        self.misclassifiedCap = misclassifiedCap
        self.leastSureCap = leastSureCap
        self.topLossCount = topLossCount
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
        // Bounded selections: each keeps its best `capacity` images as they stream past, never the whole set.
        // Ties go to the lower test index, so the choice does not depend on the batch size.
        var mistakes = BoundedSelection<PredictedImage>(capacity: misclassifiedCap)
        var unsure = BoundedSelection<PredictedImage>(capacity: leastSureCap)
        var highest = BoundedSelection<PredictedImage>(capacity: topLossCount)
        let shape = network.inputShape
        loader.startEpoch(0, skipBatches: 0)
        // One evaluation is many batches through the same weights: each conv's BatchNorm is folded once.
        try network.withFrozenWeights {
            while let batch = loader.next() {
                defer { loader.recycle(batch) }
                let n = batch.count
                input.fill(from: batch.images, shape: [n] + shape)
                let logits = try network.infer(input)
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
                    let trueProbability = probabilities.data[row * classes + truth]
                    let imageLoss = Self.crossEntropy(logits.data + row * classes, classes: classes, truth: truth)
                    let isPreview = previewIndices.contains(index)
                    let isMistake = predicted != truth && mistakes.wouldKeep(score: imageLoss, index: index)
                    let isUnsure = predicted == truth && unsure.wouldKeep(score: -trueProbability, index: index)
                    let isHighest = highest.wouldKeep(score: imageLoss, index: index)
                    guard isPreview || isMistake || isUnsure || isHighest else { continue }
                    let image = PredictedImage(testIndex: index, channels: set.channels, height: set.height, width: set.width,
                                               pixels: Array(set.image(at: index)), trueClass: truth,
                                               predictedClass: predicted, topK: ranked, trueProbability: trueProbability,
                                               loss: imageLoss)
                    if isPreview { preview.append(image) }
                    if isMistake { mistakes.insert(image, score: imageLoss, index: index) }
                    if isUnsure { unsure.insert(image, score: -trueProbability, index: index) }
                    if isHighest { highest.insert(image, score: imageLoss, index: index) }
                }
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
            misclassified: mistakes.best(), leastSure: unsure.best(), topLosses: highest.best())
    }

    /// -log softmax(row)[truth], through log-sum-exp so a confident mistake's loss stays finite.
    static func crossEntropy(_ row: UnsafeMutablePointer<Float>, classes: Int, truth: Int) -> Float {
        var maxLogit = -Float.infinity
        for c in 0..<classes { maxLogit = max(maxLogit, row[c]) }
        var sum = 0.0
        for c in 0..<classes { sum += exp(Double(row[c] - maxLogit)) }
        return Float(log(sum) + Double(maxLogit) - Double(row[truth]))
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

/// The `capacity` elements with the highest score (ties: lower index first) seen so far, in a min-heap whose
/// root is the weakest kept element: O(log capacity) per insertion, memory bounded by `capacity`.
struct BoundedSelection<Element> {
    let capacity: Int
    private var heap: [(score: Float, index: Int, element: Element)] = []

    init(capacity: Int) { self.capacity = max(0, capacity) }

    /// `a` ranks below `b`: lower score, or the same score and a higher index.
    private static func weaker(_ a: (score: Float, index: Int), than b: (score: Float, index: Int)) -> Bool {
        a.score < b.score || (a.score == b.score && a.index > b.index)
    }

    /// Whether `insert` with this score and index would keep the element (so callers build it only then).
    func wouldKeep(score: Float, index: Int) -> Bool {
        guard capacity > 0 else { return false }
        guard heap.count == capacity else { return true }
        return Self.weaker((heap[0].score, heap[0].index), than: (score, index))
    }

    mutating func insert(_ element: Element, score: Float, index: Int) {
        guard wouldKeep(score: score, index: index) else { return }
        if heap.count < capacity {
            heap.append((score, index, element))
            var child = heap.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard Self.weaker((heap[child].score, heap[child].index), than: (heap[parent].score, heap[parent].index))
                else { break }
                heap.swapAt(child, parent)
                child = parent
            }
        } else {
            heap[0] = (score, index, element)
            var parent = 0
            while true {
                var weakest = parent
                for child in [2 * parent + 1, 2 * parent + 2] where child < heap.count
                    && Self.weaker((heap[child].score, heap[child].index), than: (heap[weakest].score, heap[weakest].index)) {
                    weakest = child
                }
                if weakest == parent { break }
                heap.swapAt(parent, weakest)
                parent = weakest
            }
        }
    }

    /// The kept elements, strongest first.
    func best() -> [Element] {
        heap.sorted { Self.weaker(($1.score, $1.index), than: ($0.score, $0.index)) }.map(\.element)
    }
}
