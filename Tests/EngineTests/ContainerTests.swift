import TestThreads
import Testing
@testable import Engine

/// Test-only squeeze: [N, C, H, W] -> [N, C, 1, 1], the mean over H and W (GlobalAvgPool is another helper's).
final class ChannelMean: Layer {
    var name = ""
    var typeName: String { "ChannelMean" }
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    private var inputShape: [Int] = []

    func outputShape(for input: [Int]) throws -> [Int] {
        try expect(input, [nil, nil, nil, nil], "[N, C, H, W]")
        return [input[0], input[1], 1, 1]
    }

    func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        output.resize(to: try outputShape(for: input.shape))
        inputShape = input.shape
        let S = input.shape[2] * input.shape[3]
        for r in 0..<output.count {
            var sum: Float = 0
            for s in 0..<S { sum += input[r * S + s] }
            output[r] = sum / Float(S)
        }
        return output
    }

    func backward(_ gradOutput: Tensor) -> Tensor {
        gradInput.resize(to: inputShape)
        let S = inputShape[2] * inputShape[3]
        for r in 0..<gradOutput.count {
            for s in 0..<S { gradInput[r * S + s] = gradOutput[r] / Float(S) }
        }
        return gradInput
    }
}

/// The blocks of scripts/fixtures/ops_misc.py, with children named as the PyTorch modules' attributes.
/// `smooth` swaps ReLU for SiLU so finite differences never straddle a kink.
func containerBlock(_ name: String, smooth: Bool = false) -> any Layer {
    let relu = { Activation(smooth ? .silu : .relu) }
    switch name {
    case "residual_identity":
        return Residual(body: Sequential([("bn1", BatchNorm2d(4)), ("relu", relu()), ("bn2", BatchNorm2d(4))]),
                        activation: relu())
    case "residual_shortcut":
        return Residual(body: Sequential([("bn1", BatchNorm2d(4)), ("act", Activation(.silu))]),
                        shortcut: ("shortcut", BatchNorm2d(4)))
    case "concat":
        return Concat(branches: [Sequential([("bnA", BatchNorm2d(4)), ("actA", Activation(.silu))]),
                                 Sequential([("actB", Activation(.sigmoid))])],
                      activation: relu())
    case "split_concat":
        return SplitConcat(splitAt: 2, body: Sequential([("bn", BatchNorm2d(4)), ("relu", relu())]))
    default:  // squeeze_excite
        return SqueezeExcite(gate: Sequential([("pool", ChannelMean()), ("bn", BatchNorm2d(4)),
                                               ("gate", Activation(.sigmoid))]))
    }
}

let containerCases = ["residual_identity", "residual_shortcut", "concat", "split_concat", "squeeze_excite"]

@Suite struct ContainerTests {
    @Test(arguments: containerCases)
    func matchesTorch(_ name: String) throws {
        let fx = try Fixture("misc_containers")
        let block = containerBlock(name)
        try block.loadStateDict(fx.state("\(name).param"), file: fx.fileName)
        let x = try fx.tensor("\(name).x")
        let xBefore = x.array
        let y = try block.forward(x, training: true)
        expectClose(y, try fx.values("\(name).y"), "\(name) y")
        let dy = try fx.tensor("\(name).dy")
        let dyBefore = dy.array
        expectClose(block.backward(dy), try fx.values("\(name).dx"), "\(name) dx")
        for (key, p) in block.stateDict() where p.isTrainable {
            expectClose(p.grad!, try fx.values("\(name).grad.\(key)"), "\(name) d\(key)")
        }
        #expect(x.array == xBefore && dy.array == dyBefore, "a container wrote into a tensor it does not own")
    }

    @Test(arguments: containerCases)
    func gradientsMatchFiniteDifferences(_ name: String) throws {
        let block = containerBlock(name, smooth: true)
        var random = RandomSource(seed: 21)
        for (_, p) in block.stateDict() where p.isTrainable {
            for i in 0..<p.count { p.value[i] = random.uniform(0.5, 1.5) * (i % 2 == 0 ? 1 : -1) }
        }
        let channels = name == "split_concat" ? 6 : 4
        try expectGradientsMatchFiniteDifferences(block, input: seededTensor([3, channels, 3, 3], seed: 22, scale: 1.5))
    }

    /// Identity children hand back the very tensors they were given; the sums must land in the container's buffers.
    @Test func identityPathsSumWithoutTouchingTheirInputs() throws {
        let x = seededTensor([2, 3, 2, 2], seed: 1), dy3 = seededTensor([2, 3, 2, 2], seed: 2)
        let residual = Residual(body: Sequential([("id", Identity())]))
        expectClose(try residual.forward(x, training: true), x.array.map { 2 * $0 }, "x + x")
        let dyBefore = dy3.array
        let dx = residual.backward(dy3)
        expectClose(dx, dyBefore.map { 2 * $0 }, "dy + dy")
        #expect(dx !== dy3 && dy3.array == dyBefore)

        let concat = Concat(branches: [Sequential([("a", Identity())]), Sequential([("b", Identity())])])
        let y = try concat.forward(x, training: true)
        #expect(y.shape == [2, 6, 2, 2])
        let dy6 = seededTensor([2, 6, 2, 2], seed: 3)
        var expected = [Float](repeating: 0, count: x.count)
        for n in 0..<2 { for i in 0..<12 { expected[n * 12 + i] = dy6[n * 24 + i] + dy6[n * 24 + 12 + i] } }
        expectClose(concat.backward(dy6), expected, "concat of two identities")

        let split = SplitConcat(splitAt: 1, body: Sequential([("id", Identity())]))
        expectClose(try split.forward(x, training: true), x.array, "split + identity")
        expectClose(split.backward(dy3), dy3.array, "split + identity backward")
    }

    /// Steady-state steps reuse the same buffers: no allocation per step, and every gradient lent inside
    /// the block comes back to the pool (the caller gives back the one the block returns).
    @Test(arguments: containerCases)
    func buffersAreReusedAcrossSteps(_ name: String) throws {
        // (output kept across steps, gradients lent after backward, tensors made by step 1, by step 2).
        let (sameOutput, lentAfterBackward, tensorsAfterOne, tensorsAfterTwo) = try onOwnThread {
            () throws -> (Bool, Int, Int, Int) in
            let block = containerBlock(name)
            let pool = GradientPool.forCurrentThread()
            let channels = name == "split_concat" ? 6 : 4
            let x = seededTensor([3, channels, 3, 3], seed: 4)
            let y1 = try block.forward(x, training: true)
            let (outPointer, dy) = (y1.data, seededTensor(y1.shape, seed: 5))
            let dx1 = block.backward(dy)
            let lent = pool.lentCount
            pool.give(dx1)
            let tensorsAfterOne = pool.tensorCount
            let y2 = try block.forward(x, training: true)
            pool.give(block.backward(dy))
            return (y1 === y2 && y2.data == outPointer, lent, tensorsAfterOne, pool.tensorCount)
        }
        #expect(sameOutput)
        #expect(lentAfterBackward == 1, "only the returned gradient is still lent")
        #expect(tensorsAfterTwo == tensorsAfterOne, "the second step made new gradient tensors")
    }

    /// Inference adds a block's shortcut (and applies its ReLU) as the body's last step writes its output: a
    /// squeeze-excite's product (the same float operations as the eval forward's product, sum and ReLU apart),
    /// and a conv folded with its BatchNorm (within the fold's rounding). A shortcut of the wrong shape still
    /// throws, naming the block.
    @Test func inferenceSumsInTheLastStep() throws {
        var random = RandomSource(seed: 8)
        let x = seededTensor([3, 4, 5, 5], seed: 9, scale: 2)
        let excite = Residual(body: Sequential([("bn", BatchNorm2d(4)), ("relu", Activation(.relu)),
                                                ("se", containerBlock("squeeze_excite"))]),
                              activation: Activation(.relu))
        let eval = try excite.forward(x, training: false).array
        #expect(try excite.infer(x).array == eval)

        let conv = Residual(body: Sequential([("conv1", Conv2d(4, 4, kernel: 3, padding: 1, random: &random)),
                                              ("bn1", BatchNorm2d(4)), ("relu", Activation(.relu)),
                                              ("conv2", Conv2d(4, 4, kernel: 3, padding: 1, random: &random)),
                                              ("bn2", BatchNorm2d(4))]),
                            shortcut: ("downsample", Conv2d(4, 4, kernel: 1, random: &random)), activation: Activation(.relu))
        let inferred = try conv.infer(x).array  // the conv's own buffer, which forward writes again
        expectClose(inferred, try conv.forward(x, training: false).array, "conv block", rtol: 1e-5, atol: 1e-5)

        let mismatched = Residual(body: Sequential([("bn", BatchNorm2d(4)), ("se", containerBlock("squeeze_excite"))]),
                                  shortcut: ("shortcut", ChannelMean()), activation: Activation(.relu))
        mismatched.name = "layer2.0"
        #expect(throws: EngineError.self) { try mismatched.infer(x) }
    }

    @Test func mismatchedShortcutThrows() {
        let residual = Residual(body: Sequential([("shuffle", ChannelShuffle(groups: 1, order: .groupsFirst))]),
                                shortcut: ("shortcut", ChannelMean()))
        residual.name = "layer2.0"
        #expect(throws: EngineError.self) { try residual.forward(Tensor(shape: [1, 2, 3, 3]), training: true) }
    }
}
