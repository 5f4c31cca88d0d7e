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

    /// Thrown by `train` when the loss or a gradient is not a finite number (cnntui's anomaly detection):
    /// parameters, optimizer state and BatchNorm statistics are left as they were before the step.
    public struct NotFinite: Error, Equatable {
        public var loss: Float
        /// The first layer in forward order whose output or parameter gradient was not finite; "loss" when
        /// only the loss was.
        public var layer: String
        /// What was found, e.g. "gradient of conv1.0.weight has NaN".
        public var message: String
    }

    /// When set, the next `train` also measures the network's health (`health` holds it after): the
    /// gradient norms, the update the optimizer made, each ReLU's zero fraction. Other steps pay nothing.
    public var recordHealth = false
    /// What the last `train` with `recordHealth` set measured.
    public private(set) var health: (layers: [LayerHealth], rectifiers: [RectifierHealth])?

    /// Built on first use: the layers with parameters, the rectifiers, the paths.
    lazy var probe = NetworkProbe(network: network)
    /// BatchNorm running statistics and counters, copied before each forward so a step that is not finite
    /// can put them back (a NaN batch would poison them for good).
    private lazy var buffers: [Parameter] = network.stateDict.map(\.1).filter { !$0.isTrainable }
    private var bufferCopy: [Float] = []
    /// The weights before the update, on health steps only.
    private var weightCopy: [Float] = []

    /// Makes `count` images (`count * C*H*W` floats in the network's input shape) and their labels the batch
    /// of the next steps.
    public func load(images: [Float], labels: [Int32], count: Int) {
        input.fill(from: images, shape: [count] + network.inputShape)
        self.labels.removeAll(keepingCapacity: true)
        self.labels.append(contentsOf: labels.prefix(count))
    }

    /// Zero the gradients, forward, cross-entropy, backward, check that the loss and every gradient are
    /// finite (else throw `NotFinite` without updating), update; counts the correct answers of the forward.
    public func train() throws -> Outcome {
        let measuring = recordHealth
        health = nil
        saveBuffers()
        optimizer.zeroGradients()
        let counter = measuring ? RectifierCounter() : nil
        let logits = try counter.map { c in try probe.observing(c) { try network.forward(input, training: true) } }
            ?? network.forward(input, training: true)
        let batchLoss = try labels.withUnsafeBufferPointer { try loss.forward(logits: logits, labels: $0) }
        guard batchLoss.isFinite else { throw try notFinite(loss: batchLoss, gradientsComputed: false) }
        network.backward(loss.gradient)
        let parameters = optimizer.parameters
        for p in parameters {
            guard let g = p.grad, allFinite(g.data, count: g.count) else {
                throw try notFinite(loss: batchLoss, gradientsComputed: true)
            }
        }
        var gradientNorms: [Float] = []
        if measuring {
            gradientNorms = probe.parameterLayers.map { layer in
                Float(layer.parameters.reduce(0.0) { $0 + ($1.grad.map { sumOfSquares($0.data, count: $0.count) } ?? 0) }.squareRoot())
            }
            copyWeights()
        }
        optimizer.step()
        let correct = Self.correctCount(logits: logits, labels: labels)
        if measuring, let counter {
            health = (measuredLayers(gradientNorms: gradientNorms), counter.fractions)
        }
        return Outcome(loss: batchLoss, correct: correct)
    }

    private func saveBuffers() {
        bufferCopy.removeAll(keepingCapacity: true)
        for b in buffers { bufferCopy.append(contentsOf: UnsafeBufferPointer(start: b.value.data, count: b.count)) }
    }

    private func restoreBuffers() {
        var offset = 0
        bufferCopy.withUnsafeBufferPointer { copy in
            for b in buffers {
                b.value.data.update(from: copy.baseAddress! + offset, count: b.count)
                offset += b.count
            }
        }
    }

    private func copyWeights() {
        weightCopy.removeAll(keepingCapacity: true)
        for layer in probe.parameterLayers {
            for p in layer.parameters { weightCopy.append(contentsOf: UnsafeBufferPointer(start: p.value.data, count: p.count)) }
        }
    }

    /// Norms after the update, and the update's size against the weights before it, per layer.
    private func measuredLayers(gradientNorms: [Float]) -> [LayerHealth] {
        var offset = 0
        return weightCopy.withUnsafeBufferPointer { before in
            zip(probe.parameterLayers, gradientNorms).map { layer, gradientNorm in
                var after = 0.0, previous = 0.0, change = 0.0
                for p in layer.parameters {
                    let old = before.baseAddress! + offset
                    after += sumOfSquares(p.value.data, count: p.count)
                    previous += sumOfSquares(old, count: p.count)
                    change += sumOfSquaredDifferences(p.value.data, old, count: p.count)
                    offset += p.count
                }
                let ratio = previous > 0 ? (change / previous).squareRoot() : 0
                return LayerHealth(layer: layer.name, weightNorm: Float(after.squareRoot()), gradientNorm: gradientNorm,
                                   updateRatio: Float(ratio))
            }
        }
    }

    /// Finds where the first NaN or infinity appeared, and puts the BatchNorm statistics back: the first layer in
    /// forward order whose output is not finite (the forward run again, watched); else, as gradients flow
    /// backwards and spoil every layer before, the last layer in forward order whose parameter gradient is not
    /// finite (as the backward left them); else the loss.
    private func notFinite(loss batchLoss: Float, gradientsComputed: Bool) throws -> NotFinite {
        defer { restoreBuffers() }
        let check = FiniteCheck()
        _ = try probe.observing(check) { try network.forward(input, training: true) }
        if let bad = check.firstNonFinite {
            return NotFinite(loss: batchLoss, layer: bad.layer.displayName, message: "output of \(bad.layer.displayName) has \(bad.what)")
        }
        if gradientsComputed {
            for layer in check.order.reversed() {
                for (key, p) in layer.ownState where p.isTrainable {
                    if let g = p.grad, let what = nonFiniteKind(g.data, count: g.count) {
                        return NotFinite(loss: batchLoss, layer: layer.displayName,
                                         message: "gradient of \(layer.displayName).\(key) has \(what)")
                    }
                }
            }
            for (key, p) in network.stateDict where p.isTrainable {
                if let g = p.grad, let what = nonFiniteKind(g.data, count: g.count) {
                    return NotFinite(loss: batchLoss, layer: key, message: "gradient of \(key) has \(what)")
                }
            }
        }
        return NotFinite(loss: batchLoss, layer: "loss", message: "loss is \(batchLoss)")
    }

    /// The forward pass alone, in inference mode (no dropout, batch norm from its running statistics).
    @discardableResult
    public func infer() throws -> Tensor {
        try network.infer(input)
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
