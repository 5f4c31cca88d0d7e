import Testing
@testable import Engine

@Suite struct BatchNormTests {
    /// Two training steps: outputs, every gradient, then the running statistics and counter after both.
    @Test(arguments: [("train_eps1e-5", Float(1e-5)), ("train_eps1e-3", Float(1e-3))])
    func trainingMatchesTorch(_ name: String, eps: Float) throws {
        let fx = try Fixture("misc_batchnorm")
        let bn = BatchNorm2d(3, eps: eps, momentum: 0.1)
        try bn.loadStateDict(fx.state("\(name).param"), file: fx.fileName)
        for step in 1...2 {
            bn.weight.grad?.zero()
            bn.bias.grad?.zero()
            let y = try bn.forward(try fx.tensor("\(name).x\(step)"), training: true)
            expectClose(y, try fx.values("\(name).y\(step)"), "\(name) y\(step)")
            let dx = bn.backward(try fx.tensor("\(name).dy\(step)"))
            expectClose(dx, try fx.values("\(name).dx\(step)"), "\(name) dx\(step)")
            expectClose(bn.weight.grad!, try fx.values("\(name).grad\(step).weight"), "\(name) dweight\(step)")
            expectClose(bn.bias.grad!, try fx.values("\(name).grad\(step).bias"), "\(name) dbias\(step)")
        }
        expectClose(bn.runningMean.value, try fx.values("\(name).final.running_mean"), "\(name) running_mean")
        expectClose(bn.runningVar.value, try fx.values("\(name).final.running_var"), "\(name) running_var")
        #expect(bn.numBatchesTracked.value[0] == (try fx.values("\(name).final.num_batches_tracked"))[0])
        #expect(bn.numBatchesTracked.value[0] == 2)
    }

    @Test func evalMatchesTorch() throws {
        let fx = try Fixture("misc_batchnorm")
        let bn = BatchNorm2d(3, eps: 1e-3)
        try bn.loadStateDict(fx.state("eval.param"), file: fx.fileName)
        let runningMean = bn.runningMean.value.array
        let y = try bn.forward(try fx.tensor("eval.x1"), training: false)
        expectClose(y, try fx.values("eval.y1"), "eval y")
        expectClose(bn.backward(try fx.tensor("eval.dy1")), try fx.values("eval.dx1"), "eval dx")
        expectClose(bn.weight.grad!, try fx.values("eval.grad1.weight"), "eval dweight")
        expectClose(bn.bias.grad!, try fx.values("eval.grad1.bias"), "eval dbias")
        #expect(bn.runningMean.value.array == runningMean, "eval must not touch running statistics")
        #expect(bn.numBatchesTracked.value[0] == 0)
    }

    /// The batch statistics on channels whose mean is far from 0 beside their spread (mean/std of 10, 1e3 and
    /// 1e4, planes of 17x15 on 4 images): the variance a float sum of squares around 0 would lose entirely,
    /// checked against a Double two-pass reference through the running variance (momentum 1).
    @Test func statisticsHoldFarFromZero() throws {
        let (N, C, S) = (4, 3, 17 * 15), offsets: [Float] = [10, 1e3, 1e4]
        let noise = seededTensor([N, C, 17, 15], seed: 5).array
        var values = [Float](repeating: 0, count: N * C * S)
        for n in 0..<N { for c in 0..<C { for s in 0..<S {
            let i = (n * C + c) * S + s
            values[i] = offsets[c] + noise[i]
        } } }
        let bn = BatchNorm2d(C, momentum: 1)
        _ = try bn.forward(Tensor(shape: [N, C, 17, 15], values: values), training: true)
        for c in 0..<C {
            let channel = (0..<N).flatMap { n in (0..<S).map { Double(values[(n * C + c) * S + $0]) } }
            let mean = channel.reduce(0, +) / Double(channel.count)
            let variance = channel.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(channel.count - 1)
            #expect(abs(Double(bn.runningMean.value[c]) - mean) <= 1e-6 * mean, "channel \(c) mean")
            #expect(abs(Double(bn.runningVar.value[c]) - variance) <= 1e-5 * variance,
                    "channel \(c): variance \(bn.runningVar.value[c]) against \(variance)")
        }
    }

    @Test func parameterGradientsAccumulate() throws {
        let bn = BatchNorm2d(2)
        let x = seededTensor([3, 2, 2, 2], seed: 1, scale: 2), dy = seededTensor([3, 2, 2, 2], seed: 2)
        _ = try bn.forward(x, training: true)
        _ = bn.backward(dy)
        let once = bn.weight.grad!.array + bn.bias.grad!.array
        _ = bn.backward(dy)
        let twice = bn.weight.grad!.array + bn.bias.grad!.array
        expectClose(twice, once.map { 2 * $0 }, "gradients after two backward passes")
    }

    @Test(arguments: [true, false])
    func gradientsMatchFiniteDifferences(training: Bool) throws {
        let bn = BatchNorm2d(3, eps: 1e-3)
        bn.weight.value.copy(from: Tensor(shape: [3], values: [0.7, 1.3, -0.4]))
        bn.bias.value.copy(from: Tensor(shape: [3], values: [0.1, -0.2, 0.3]))
        bn.runningVar.value.copy(from: Tensor(shape: [3], values: [0.5, 1.5, 2]))
        try expectGradientsMatchFiniteDifferences(bn, input: seededTensor([2, 3, 3, 2], seed: 3, scale: 2), training: training)
    }

    @Test func wrongChannelCountThrowsNamingLayerAndShapes() throws {
        let bn = BatchNorm2d(4)
        bn.name = "layer1.0.bn1"
        let error = #expect(throws: EngineError.self) { try bn.forward(Tensor(shape: [2, 3, 5, 5]), training: true) }
        let message = error.map(String.init(describing:)) ?? ""
        #expect(message.contains("layer1.0.bn1") && message.contains("[N, 4, H, W]") && message.contains("[2, 3, 5, 5]"),
                "\(message)")
        let unnamed = BatchNorm2d(4)
        #expect(throws: EngineError.shapeMismatch(layer: "BatchNorm2d", expected: "[N, 4, H, W]", got: [2, 4, 5])) {
            try unnamed.forward(Tensor(shape: [2, 4, 5]), training: false)
        }
    }

    @Test func oneValuePerChannelInTrainingThrows() throws {
        let bn = BatchNorm2d(2)
        #expect(throws: EngineError.self) { try bn.forward(Tensor(shape: [1, 2, 1, 1]), training: true) }
        _ = try bn.forward(Tensor(shape: [1, 2, 1, 1]), training: false)
    }
}
