import Engine
import Foundation
import Testing
@testable import Training

/// The one training step that the engine thread, the bench and the model picker's estimate run.
@Suite struct TrainingStepTests {
    static let batchSize = 8

    /// A fixed batch of the tiny problem, as the loader would hand it over.
    static func batch() -> (images: [Float], labels: [Int32]) {
        let set = TinyRun.imageSet(count: batchSize, salt: 3)
        return (set.pixels.map { (Float($0) / 255 - 0.5) / 0.25 }, set.labels)
    }

    static func parameterBits(_ network: Network) -> [[UInt32]] {
        network.trainableParameters.map { p in (0..<p.value.count).map { p.value.data[$0].bitPattern } }
    }

    /// The step as the engine thread wrote it out before `TrainingStep` existed: what training must keep doing.
    static func referenceStep(network: Network, optimizer: any Optimizer, loss: CrossEntropyLoss,
                              images: [Float], labels: [Int32]) throws -> (Float, Int) {
        let n = labels.count
        let input = Tensor(shape: [n] + network.inputShape)
        for i in 0..<input.count { input.data[i] = images[i] }
        optimizer.zeroGradients()
        let logits = try network.forward(input, training: true)
        let batchLoss = try labels.withUnsafeBufferPointer { try loss.forward(logits: logits, labels: $0) }
        network.backward(loss.gradient)
        optimizer.step()
        let classes = logits.shape[1]
        var correct = 0
        for row in 0..<n {
            let z = logits.data + row * classes
            var best = 0
            for c in 1..<classes where z[c] > z[best] { best = c }
            if Int32(best) == labels[row] { correct += 1 }
        }
        return (batchLoss, correct)
    }

    @Test func stepsAreBitIdenticalToTheEngineThreadsFormerStep() throws {
        let shape = [1, TinyRun.side, TinyRun.side]
        let (images, labels) = Self.batch()
        let reference = TinyRun.network(inputShape: shape, classes: TinyRun.classes, seed: 5)
        let referenceOptimizer = try Adam(parameters: reference.trainableParameters, learningRate: 0.01, weightDecay: 1e-4)
        let referenceLoss = CrossEntropyLoss(labelSmoothing: 0.1)
        let network = TinyRun.network(inputShape: shape, classes: TinyRun.classes, seed: 5)
        let step = TrainingStep(network: network, optimizer: try Adam(parameters: network.trainableParameters,
                                                                        learningRate: 0.01, weightDecay: 1e-4),
                                loss: CrossEntropyLoss(labelSmoothing: 0.1))
        var sawAWrongAnswer = false
        for _ in 0..<5 {
            let (expectedLoss, expectedCorrect) = try Self.referenceStep(
                network: reference, optimizer: referenceOptimizer, loss: referenceLoss, images: images, labels: labels)
            step.load(images: images, labels: labels, count: Self.batchSize)
            let outcome = try step.train()
            #expect(outcome.loss.bitPattern == expectedLoss.bitPattern && outcome.correct == expectedCorrect)
            sawAWrongAnswer = sawAWrongAnswer || expectedCorrect < Self.batchSize
        }
        #expect(sawAWrongAnswer, "the counts were compared on batches the network did not get all right")
        #expect(Self.parameterBits(network) == Self.parameterBits(reference))
    }

    @Test func inferenceLeavesTheParametersAlone() throws {
        let network = TinyRun.network(inputShape: [1, TinyRun.side, TinyRun.side], classes: TinyRun.classes, seed: 5)
        let step = try TrainingStep.onRandomBatch(network, batchSize: 4)
        let before = Self.parameterBits(network)
        let logits = try step.infer()
        #expect(logits.shape == [4, TinyRun.classes])
        #expect(Self.parameterBits(network) == before)
        _ = try step.train()
        #expect(Self.parameterBits(network) != before)
    }

    @Test func aLossThatIsNotFiniteStopsBeforeTheUpdate() throws {
        var random = RandomSource(seed: 1)
        let inputs = TinyRun.side * TinyRun.side
        let root = Sequential([("flatten", Flatten()), ("fc", Linear(inputs, TinyRun.classes, random: &random))])
        let network = Network(root: root, inputShape: [1, TinyRun.side, TinyRun.side], classes: TinyRun.classes,
                              random: RandomStream(seed: 2))
        let step = TrainingStep(network: network, optimizer: try SGD(parameters: network.trainableParameters, learningRate: 0.1),
                                loss: CrossEntropyLoss())
        let before = Self.parameterBits(network)
        // Infinite pixels against weights of both signs: the logits, and so the loss, are not numbers.
        step.load(images: [Float](repeating: .infinity, count: 2 * inputs), labels: [0, 1], count: 2)
        #expect(throws: TrainingStep.NotFinite.self) { try step.train() }
        #expect(Self.parameterBits(network) == before)
    }
}
