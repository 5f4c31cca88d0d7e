import Foundation
import Testing

@testable import Engine

/// The engine end to end: the 3-layer net of scripts/fixtures/train_small.py, trained 50 steps from
/// PyTorch's initial weights on PyTorch's batches, must follow PyTorch's loss step by step.
@Suite struct TrainingRunTests {
    /// conv1-bn1-relu-maxpool, conv2-relu, fc: the same module as the script's `Small`.
    static func makeSmallNet() -> Network {
        var random = RandomSource(seed: 0)
        let root = Sequential([
            ("conv1", Conv2d(1, 4, kernel: 3, padding: 1, random: &random)),
            ("bn1", BatchNorm2d(4)),
            ("relu1", Activation(.relu)),
            ("pool", Pool2d(.max, kernel: 2)),
            ("conv2", Conv2d(4, 6, kernel: 3, stride: 2, padding: 1, bias: false, random: &random)),
            ("relu2", Activation(.relu)),
            ("flatten", Flatten()),
            ("fc", Linear(24, 5, random: &random)),
        ])
        return Network(root: root, inputShape: [1, 8, 8], classes: 5, random: RandomStream(seed: 0))
    }

    @Test(arguments: ["sgd", "adam"])
    func fiftyStepsFollowPyTorch(optimizerName: String) throws {
        let fixture = try Fixture("train_small")
        let net = Self.makeSmallNet()
        try net.root.loadStateDict(fixture.state("init"), file: fixture.fileName)

        let optimizer: any Optimizer = optimizerName == "sgd"
            ? try SGD(parameters: net.trainableParameters, learningRate: 0.05, momentum: 0.9, weightDecay: 5e-4)
            : try Adam(parameters: net.trainableParameters, learningRate: 0.01)
        let loss = CrossEntropyLoss()
        let images = try fixture.entry("images"), labels = try fixture.entry("labels")
        let expected = try fixture.values(optimizerName + ".losses")
        let batch = 8, imageSize = 64
        let x = Tensor(shape: [batch, 1, 8, 8])
        var finalLoss: Float = 0
        for step in 0..<50 {
            for i in 0..<batch * imageSize { x[i] = images.values[step * batch * imageSize + i] }
            let y = (0..<batch).map { Int32(labels.values[step * batch + $0]) }
            optimizer.zeroGradients()
            let logits = try net.forward(x, training: true)
            finalLoss = try y.withUnsafeBufferPointer { try loss.forward(logits: logits, labels: $0) }
            net.backward(loss.gradient)
            optimizer.step()
            #expect(abs(finalLoss - expected[step]) <= 1e-4 * max(1, abs(expected[step])),
                    "step \(step + 1): loss \(finalLoss), PyTorch \(expected[step])")
        }
        #expect(abs(finalLoss - expected[49]) <= 1e-4)
        // The weights and BN running statistics end where PyTorch's do. Only checked for SGD: Adam
        // normalises each step by sqrt(v), so a weight whose gradient is ~0 (a dead ReLU unit) moves by
        // +-lr on float rounding noise, in PyTorch as here; the loss above is the meaningful check.
        guard optimizerName == "sgd" else { return }
        for (key, p) in net.stateDict {
            let want = try fixture.values(optimizerName + ".final." + key)
            let worst = zip(p.value.array, want).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
            #expect(worst <= 1e-3, "\(key): worst relative difference \(worst)")
        }
    }
}
