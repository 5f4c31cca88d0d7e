import Engine
import Foundation
import Testing
@testable import Training

/// The evaluator's image selections against a brute-force pass over the whole test set, one image at a time.
@Suite struct EvaluatorTests {
    struct Truth { var index: Int, label: Int, predicted: Int, trueProbability: Double, loss: Double }

    /// Every test image's prediction, probability of its class and -log of it, from its own logits.
    static func bruteForce(_ evaluator: Evaluator, network: Network) throws -> [Truth] {
        try (0..<evaluator.set.count).map { i in
            let pixels = try #require(evaluator.image(at: i))
            let logits = try network.forward(Tensor(shape: [1] + network.inputShape, values: pixels), training: false).array
                .map(Double.init)
            let top = logits.max() ?? 0
            let logSum = log(logits.reduce(0) { $0 + exp($1 - top) }) + top
            let label = Int(evaluator.set.labels[i])
            let predicted = logits.indices.max { logits[$0] < logits[$1] || (logits[$0] == logits[$1] && $0 > $1) } ?? 0
            return Truth(index: i, label: label, predicted: predicted, trueProbability: exp(logits[label] - logSum),
                         loss: logSum - logits[label])
        }
    }

    static func setUp() -> (Evaluator, Network) {
        let set = TinyRun.imageSet(count: 60, salt: 9)
        let network = TinyRun.network(inputShape: [1, TinyRun.side, TinyRun.side], classes: TinyRun.classes, seed: 3)
        let evaluator = Evaluator(set: set, classes: TinyRun.classes, mean: [0.5], std: [0.25], batchSize: 7,
                                  misclassifiedCap: 5, leastSureCap: 4, topLossCount: 6)
        return (evaluator, network)
    }

    @Test func keepsTheHighestLossMistakesAndTheLeastSureCorrectOnes() throws {
        let (evaluator, network) = Self.setUp()
        let result = try evaluator.evaluate(network)
        let truth = try Self.bruteForce(evaluator, network: network)
        let mistakes = truth.filter { $0.predicted != $0.label }
        let correct = truth.filter { $0.predicted == $0.label }
        try #require(mistakes.count > 5 && correct.count > 4, "the fixture must overflow both caps")

        let expectedMistakes = mistakes.sorted { $0.loss > $1.loss }.prefix(5).map(\.index)
        #expect(result.misclassified.map(\.testIndex) == expectedMistakes)
        #expect(result.misclassified.allSatisfy { !$0.isCorrect })
        let expectedUnsure = correct.sorted { $0.trueProbability < $1.trueProbability }.prefix(4).map(\.index)
        #expect(result.leastSure.map(\.testIndex) == expectedUnsure)
        #expect(result.leastSure.allSatisfy { $0.isCorrect })
        let expectedTop = truth.sorted { $0.loss > $1.loss }.prefix(6).map(\.index)
        #expect(result.topLosses.map(\.testIndex) == expectedTop)

        for image in result.misclassified + result.leastSure + result.topLosses {
            let t = truth[image.testIndex]
            #expect(abs(Double(image.loss) - t.loss) < 1e-4, "image \(image.testIndex)")
            #expect(abs(Double(image.trueProbability) - t.trueProbability) < 1e-5, "image \(image.testIndex)")
            #expect(abs(Double(image.loss) + log(Double(image.trueProbability))) < 1e-3)
            #expect(image.trueClass == t.label && image.predictedClass == t.predicted)
        }
        // The mean of the per-image losses is the test loss: no label smoothing in either.
        #expect(abs(truth.reduce(0) { $0 + $1.loss } / Double(truth.count) - Double(result.loss)) < 1e-4)
    }

    @Test func boundedSelectionMatchesASort() {
        var random = RandomSource(seed: 11)
        let scores = (0..<300).map { _ in Float(random.nextInt(50)) }  // many ties
        var selection = BoundedSelection<Int>(capacity: 17)
        for (i, score) in scores.enumerated() { selection.insert(i, score: score, index: i) }
        let expected = scores.indices.sorted { (scores[$0], -$0) > (scores[$1], -$1) }.prefix(17)
        #expect(selection.best() == Array(expected))
        var empty = BoundedSelection<Int>(capacity: 0)
        empty.insert(1, score: 1, index: 1)
        #expect(empty.best().isEmpty && !empty.wouldKeep(score: 5, index: 0))
    }
}
