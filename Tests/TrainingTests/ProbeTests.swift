import Engine
import Foundation
import Models
import Testing
@testable import Training

/// The engine side of the layers and health pages: the capture hook, the norms, the health record against
/// PyTorch, NaN detection, health.jsonl, and every zoo family.
@Suite struct ProbeTests {
    @Test func vectorStatistics() {
        var values: [Float] = (0..<37).map { Float($0 % 5) - 2 }  // -2 -1 0 1 2 ...
        values.withUnsafeBufferPointer { p in
            #expect(allFinite(p.baseAddress!, count: p.count))
            #expect(sumOfSquares(p.baseAddress!, count: p.count) == values.reduce(0.0) { $0 + Double($1 * $1) })
            #expect(zeroCount(p.baseAddress!, count: p.count) == values.filter { $0 == 0 }.count)
        }
        let other = values.map { $0 + 0.5 }
        #expect(abs(sumOfSquaredDifferences(values, other, count: values.count) - 37 * 0.25) < 1e-9)
        for bad: Float in [.nan, .infinity, -.infinity] {
            for position in [3, 20, 36] {
                var copy = values
                copy[position] = bad
                copy.withUnsafeBufferPointer { p in
                    #expect(!allFinite(p.baseAddress!, count: p.count))
                    #expect(nonFiniteKind(p.baseAddress!, count: p.count) == (bad.isNaN ? "NaN" : "infinity"))
                }
            }
        }
        values[5] = -0.0
        #expect(zeroCount(values, count: values.count) == 8)
    }

    /// A network with a residual block whose ReLU runs after the add: the hook reports each child, the
    /// shortcut and the block; detached, nothing is reported.
    static func residualNetwork() -> Network {
        var random = RandomSource(seed: 3)
        let body = Sequential([("conv1", Conv2d(2, 2, kernel: 3, padding: 1, random: &random)), ("bn1", BatchNorm2d(2)),
                               ("relu", Activation(.relu)), ("conv2", Conv2d(2, 2, kernel: 3, padding: 1, random: &random))])
        let root = Sequential([
            ("stem", Conv2d(1, 2, kernel: 3, padding: 1, random: &random)),
            ("block", Residual(body: body, shortcut: ("shortcut", Conv2d(2, 2, kernel: 1, random: &random)),
                               activation: Activation(.relu))),
            ("flatten", Flatten()), ("fc", Linear(2 * 4 * 4, 3, random: &random)),
        ])
        return Network(root: root, inputShape: [1, 4, 4], classes: 3, random: RandomStream(seed: 1))
    }

    final class Recorder: ForwardObserver {
        var seen: [String] = []
        func layerDidForward(_ layer: any Layer, output: Tensor) { seen.append(layer.displayName) }
    }

    /// bn1 is fused with the ReLU after it: its view is still the BatchNorm's own output (negative values and all),
    /// the ReLU's view is that rectified, and looking changes nothing the network computes.
    @Test func aBatchNormFusedWithItsReLUShowsItsOwnOutput() throws {
        let network = Self.residualNetwork()
        let probe = NetworkProbe(network: network)
        let input = Tensor(shape: [1, 1, 4, 4], values: (0..<16).map { Float($0) / 8 - 1 })
        let before = try network.forward(input, training: false).array
        let bn = try #require(try probe.layerView(path: "block.bn1", image: input.array, testIndex: 0, globalStep: 0))
        let relu = try #require(try probe.layerView(path: "block.relu", image: input.array, testIndex: 0, globalStep: 0))
        #expect(bn.minimum < 0)
        #expect(relu.values == bn.values.map { max($0, 0) })
        #expect(try network.forward(input, training: false).array == before)
    }

    @Test func captureHookReportsEveryLayerInForwardOrderAndOnlyWhenAttached() throws {
        let network = Self.residualNetwork()
        let probe = NetworkProbe(network: network)
        let recorder = Recorder()
        let input = Tensor(shape: [1, 1, 4, 4], values: (0..<16).map { Float($0) / 8 - 1 })
        _ = try probe.observing(recorder) { try network.forward(input, training: false) }
        #expect(recorder.seen == ["stem", "block.conv1", "block.bn1", "block.relu", "block.conv2", "block.shortcut", "block",
                                  "block", "flatten", "fc"])
        recorder.seen = []
        _ = try network.forward(input, training: false)
        #expect(recorder.seen.isEmpty)
        // The view of a layer is that layer's output, with its statistics.
        let view = try #require(try probe.layerView(path: "block", image: input.array, testIndex: 0, globalStep: 0))
        let capture = OutputCapture(target: try #require(probe.layer(at: "block")))
        _ = try probe.observing(capture) { try network.forward(input, training: false) }
        let values = try #require(capture.captured).values
        #expect(view.values == values && view.shape == [2, 4, 4])
        #expect(view.minimum == values.min() && view.maximum == values.max())
        #expect(view.zeroFraction == Float(values.filter { $0 == 0 }.count) / 32)
        #expect(view.filters?.layer == "stem" && view.filters?.shape == [2, 1, 3, 3])
        #expect(try probe.layerView(path: "block.conv2", image: input.array, testIndex: 0, globalStep: 0)?.filters?.layer == "block.conv2")
        #expect(try probe.layerView(path: "nope", image: input.array, testIndex: 0, globalStep: 0) == nil)
        // The rectifiers a health step counts, the fused ReLU after the add among them.
        let counter = RectifierCounter()
        _ = try probe.observing(counter) { try network.forward(input, training: true) }
        #expect(counter.names == ["block.relu", "block (relu after add)"])
        #expect(probe.parameterLayers.map(\.name) == ["stem", "block.conv1", "block.bn1", "block.conv2", "block.shortcut", "fc"])
    }

    /// cnntui's health record of one SGD step on MyCNN against PyTorch's (scripts/fixtures/health.py).
    @Test func healthMatchesPyTorch() throws {
        let url = try #require(Bundle.module.url(forResource: "health_mycnn", withExtension: "safetensors", subdirectory: "Fixtures"))
        let (entries, metadata) = try Safetensors.read(contentsOf: url)
        let network = try ModelZoo.build("mycnn", inputShape: [1, 28, 28], classes: 10, seed: 0)
        try network.root.loadStateDict(entries.filter { !$0.key.hasPrefix("__") }, file: url.path)
        let optimizer = try SGD(parameters: network.trainableParameters, learningRate: 0.05, momentum: 0.9)
        let step = TrainingStep(network: network, optimizer: optimizer, loss: CrossEntropyLoss())
        let input = try #require(entries["__input"]), labels = try #require(entries["__labels"])
        step.load(images: input.values, labels: labels.values.map { Int32($0) }, count: 8)
        step.recordHealth = true
        _ = try step.train()
        let health = try #require(step.health)
        #expect(health.layers.map(\.layer).joined(separator: ",") == metadata["layers"])
        #expect(health.rectifiers.map(\.layer).joined(separator: ",") == metadata["relus"])
        func close(_ a: [Float], _ b: [Float], _ what: String) {
            #expect(a.count == b.count, "\(what)")
            for (x, y) in zip(a, b) { #expect(abs(x - y) <= 1e-4 * max(abs(y), 1e-6), "\(what): \(x) vs PyTorch \(y)") }
        }
        close(health.layers.map(\.weightNorm), try #require(entries["__weight_norm"]).values, "weight norm")
        close(health.layers.map(\.gradientNorm), try #require(entries["__grad_norm"]).values, "gradient norm")
        close(health.layers.map(\.updateRatio), try #require(entries["__update_ratio"]).values, "update ratio")
        close(health.rectifiers.map(\.zeroFraction), try #require(entries["__zero_fraction"]).values, "zero fraction")
        // A step without recordHealth measures nothing.
        step.recordHealth = false
        _ = try step.train()
        #expect(step.health == nil)
    }

    static func bits(_ network: Network) -> [[UInt32]] { network.stateDict.map { $0.1.value.array.map(\.bitPattern) } }

    /// A NaN written into a weight: the step names that layer, updates nothing (BatchNorm statistics included).
    @Test(arguments: ["stem", "block.conv2", "fc"])
    func aNaNWeightIsCaughtNamingItsLayerWithoutAnUpdate(layer: String) throws {
        let network = Self.residualNetwork()
        let step = try TrainingStep.onRandomBatch(network, batchSize: 2)
        _ = try step.train()  // momentum buffers exist
        let weight = try #require(network.stateDict.first { $0.0 == layer + ".weight" }).1
        weight.value.data[1] = .nan
        let before = Self.bits(network)
        #expect {
            try step.train()
        } throws: { error in
            guard let found = error as? TrainingStep.NotFinite else { return false }
            return found.layer == layer && found.message == "output of \(layer) has NaN"
        }
        #expect(Self.bits(network) == before)
    }

    @Test func anInfiniteGradientIsCaughtAndAnInfiniteLossIsNamedLoss() throws {
        let network = Self.residualNetwork()
        let step = try TrainingStep.onRandomBatch(network, batchSize: 2)
        let before = Self.bits(network)
        // Logits of ±1e38: the loss overflows to infinity while every output is finite.
        let fc = try #require(network.stateDict.first { $0.0 == "fc.bias" }).1
        fc.value.data[0] = 3e38
        fc.value.data[1] = -3e38
        #expect {
            try step.train()
        } throws: { error in
            (error as? TrainingStep.NotFinite)?.layer == "loss"
        }
        fc.value.data[0] = 0
        fc.value.data[1] = 0
        #expect(Self.bits(network).count == before.count)
    }

    final class NaNGradient: Layer {
        var name = ""
        var typeName: String { "NaNGradient" }
        func outputShape(for input: [Int]) throws -> [Int] { input }
        func forward(_ input: Tensor, training: Bool) throws -> Tensor { input }
        func backward(_ gradOutput: Tensor) -> Tensor {
            let g = GradientPool.forCurrentThread().take(gradOutput.shape)
            for i in 0..<g.count { g.data[i] = .nan }
            return g
        }
    }

    @Test func aGradientThatIsNotFiniteNamesTheLayerItAppearedIn() throws {
        var random = RandomSource(seed: 3)
        let root = Sequential([("conv", Conv2d(1, 2, kernel: 3, padding: 1, random: &random)), ("poison", NaNGradient()),
                               ("flatten", Flatten()), ("fc", Linear(32, 3, random: &random))])
        let network = Network(root: root, inputShape: [1, 4, 4], classes: 3, random: RandomStream(seed: 1))
        let step = try TrainingStep.onRandomBatch(network, batchSize: 2)
        let before = Self.bits(network)
        #expect {
            try step.train()
        } throws: { error in
            (error as? TrainingStep.NotFinite)?.message == "gradient of conv.weight has NaN"
        }
        #expect(Self.bits(network) == before)
    }

    @Test func healthLogIsBoundedKeepingTheStartAndTheEnd() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let session = Session(id: "s", url: root)
        let log = HealthLog(session: session, limit: 8)
        for step in 1...50 {
            log.append(HealthRecord(epoch: 1, globalStep: step, layers: [LayerHealth(layer: "fc", weightNorm: 1, gradientNorm: 2,
                                                                                   updateRatio: 1e-3)],
                                    rectifiers: [RectifierHealth(layer: "relu", zeroFraction: 0.5)]))
            #expect(log.records.count <= 8)
        }
        let steps = log.records.map(\.globalStep)
        #expect(steps.first == 1 && steps.last == 50 && steps == steps.sorted())
        try log.write()
        #expect(try HealthLog.read(session.healthJSONLURL) == log.records)
        let line = try String(contentsOf: session.healthJSONLURL, encoding: .utf8).split(separator: "\n")[0]
        #expect(line.contains("\"global_step\":1") && line.contains("\"update_ratio\"") && line.contains("\"zero_fraction\""))
    }

    @Test func layerViewsCoalesceLikeSteps() {
        let channel = EventChannel()
        func view(_ step: Int) -> TrainingEvent {
            .layerView(LayerView(layer: "a", testIndex: 0, globalStep: step, shape: [1, 1, 1], values: [0], minimum: 0,
                                 maximum: 0, mean: 0, zeroFraction: 1, filters: nil))
        }
        func step(_ n: Int) -> TrainingEvent {
            .step(StepEvent(epoch: 1, step: n, stepsPerEpoch: 9, globalStep: n, totalSteps: 9, etaSeconds: nil))
        }
        channel.post(view(1))
        channel.post(step(1))
        channel.post(.stateChanged(.running))
        channel.post(view(2))
        channel.post(step(2))
        channel.post(view(3))
        #expect(channel.drain() == [.stateChanged(.running), step(2), view(3)])
    }
}

/// Every zoo family, small: a LayerView for every row of `layers`, and a health record.
@Test(arguments: ["mycnn", "resnet-2-2-2", "se-resnet-2-2-2", "vgg11", "mobilenet-v1", "shufflenet-v1-g3-0.5x",
                  "shufflenet-v2-0.5x", "efficientnet-v2-s"])
func everyFamilyGivesLayerViewsAndHealth(model: String) throws {
    let network = try ModelZoo.build(model, inputShape: [3, 32, 32], classes: 10, seed: 1)
    let layers = TrainingLoop.layers(of: network)
    #expect(!layers.isEmpty)
    let step = try TrainingStep.onRandomBatch(network, batchSize: 2)
    step.recordHealth = true
    _ = try step.train()
    let health = try #require(step.health)
    #expect(health.layers.count == step.probe.parameterLayers.count)
    #expect(!health.rectifiers.isEmpty || model.hasPrefix("efficientnet"))
    #expect(health.layers.allSatisfy { $0.weightNorm > 0 && $0.gradientNorm.isFinite && $0.updateRatio.isFinite })
    var random = RandomSource(seed: 2)
    let image = (0..<3 * 32 * 32).map { _ in random.uniform(-1, 1) }
    for row in layers {
        let view = try #require(try step.probe.layerView(path: row.path, image: image, testIndex: 0, globalStep: 1), "\(model) \(row.path)")
        // ShuffleNetV2 shares one ReLU module between its blocks' branches (as the seed does), so that
        // module's rows show the summary's shape and its view the call it sees; elsewhere they agree.
        if !model.hasPrefix("shufflenet-v2") || row.type != "ReLU" {
            #expect(view.values.count == row.outputShape.reduce(1, *), "\(model) \(row.path)")
        }
        #expect(!view.values.isEmpty)
        #expect(view.shape.reduce(1, *) == view.values.count && view.filters != nil)
    }
}

