import Engine
import Foundation

/// One optimizer step on one batch: the step the engine thread trains with, `cnntui bench` times and the
/// model picker's estimate times. One definition, so a change to it (what a step computes, how) cannot make
/// a measurement time something other than training.
///
/// A batch is loaded once (`load`) and stepped on (`train`, or `infer` without learning): training loads a
/// new batch before every step, the bench steps on one fixed batch, so its timings are the step's alone.
public final class TrainingStep {
    public let network: Network
    public let optimizer: any Optimizer
    private let loss: CrossEntropyLoss
    private let input = Tensor(shape: [0])
    /// The loaded batch's labels, copied: holding the caller's array would stop the loader from refilling it.
    private var labels: [Int32] = []

    public init(network: Network, optimizer: any Optimizer, loss: CrossEntropyLoss) {
        self.network = network
        self.optimizer = optimizer
        self.loss = loss
    }

    /// A step's outcome: the batch's mean loss and how many images the network (before the update) got right.
    public struct Outcome: Sendable, Equatable {
        public var loss: Float
        public var correct: Int
    }

    /// Thrown by `train` when the loss is not a finite number; parameters and optimizer are left as they were.
    public struct LossNotFinite: Error, Equatable {
        public var loss: Float
    }

    /// Makes `count` images (`count * C*H*W` floats in the network's input shape) and their labels the batch
    /// of the next steps.
    public func load(images: [Float], labels: [Int32], count: Int) {
        input.fill(from: images, shape: [count] + network.inputShape)
        self.labels.removeAll(keepingCapacity: true)
        self.labels.append(contentsOf: labels.prefix(count))
    }

    /// Zero the gradients, forward, cross-entropy, backward, update; counts the correct answers of the forward.
    public func train() throws -> Outcome {
        optimizer.zeroGradients()
        let logits = try network.forward(input, training: true)
        let batchLoss = try labels.withUnsafeBufferPointer { try loss.forward(logits: logits, labels: $0) }
        guard batchLoss.isFinite else { throw LossNotFinite(loss: batchLoss) }
        network.backward(loss.gradient)
        optimizer.step()
        return Outcome(loss: batchLoss, correct: Self.correctCount(logits: logits, labels: labels))
    }

    /// The forward pass alone, in inference mode (no dropout, batch norm from its running statistics).
    @discardableResult
    public func infer() throws -> Tensor {
        try network.forward(input, training: false)
    }

    /// Rows of `logits` whose largest entry (the first of equals) is at the label.
    static func correctCount(logits: Tensor, labels: [Int32]) -> Int {
        let classes = logits.shape[1]
        var correct = 0
        for row in 0..<labels.count {
            let z = logits.data + row * classes
            var best = 0
            for c in 1..<classes where z[c] > z[best] { best = c }
            if Int32(best) == labels[row] { correct += 1 }
        }
        return correct
    }
}

extension TrainingStep {
    /// What the bench and the model picker time on `network`: SGD with learning rate 0.01 and momentum 0.9
    /// (the PyTorch yardstick's step), plain cross-entropy, and one batch of random images in [-1, 1) with
    /// random labels (seed 7) loaded.
    public static func onRandomBatch(_ network: Network, batchSize: Int) throws -> TrainingStep {
        var random = RandomSource(seed: 7)
        let images = (0..<batchSize * network.inputShape.reduce(1, *)).map { _ in random.uniform(-1, 1) }
        let labels = (0..<batchSize).map { _ in Int32(random.nextInt(network.classes)) }
        let optimizer = try SGD(parameters: network.trainableParameters, learningRate: 0.01, momentum: 0.9)
        let step = TrainingStep(network: network, optimizer: optimizer, loss: CrossEntropyLoss())
        step.load(images: images, labels: labels, count: batchSize)
        return step
    }
}
