import Engine
import Foundation
import TestThreads
import Testing
@testable import Models

/// The PyTorch side of every zoo model, written by scripts/fixtures/models.py.
struct TorchZoo {
    struct Model {
        let params: [String: Int]
        let macs: [String: Int]
        let stateDict: [(String, [Int])]
    }

    let models: [String: Model]

    static func load() throws -> TorchZoo {
        let url = try #require(Bundle.module.url(forResource: "zoo", withExtension: "json", subdirectory: "Fixtures"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: [String: Any]])
        var models: [String: Model] = [:]
        for (name, entry) in object {
            var params: [String: Int] = [:], macs: [String: Int] = [:]
            for (key, value) in entry {
                if key.hasPrefix("params_"), let n = value as? Int { params[String(key.dropFirst(7))] = n }
                if key.hasPrefix("macs_"), let n = value as? Int { macs[String(key.dropFirst(5))] = n }
            }
            let rows = try #require(entry["state_dict"] as? [[Any]])
            let stateDict = try rows.map { row -> (String, [Int]) in
                (try #require(row[0] as? String), try #require(row[1] as? [Int]))
            }
            models[name] = Model(params: params, macs: macs, stateDict: stateDict)
        }
        return TorchZoo(models: models)
    }
}

let inputs: [(key: String, shape: [Int])] = [("3x32x32", [3, 32, 32]), ("1x28x28", [1, 28, 28])]

@Test func everyModelBuildsAtBothDatasetSizes() throws {
    for name in ModelZoo.names {
        for (_, shape) in inputs {
            let network = try ModelZoo.build(name, inputShape: shape, classes: 10, seed: 1)
            #expect(try network.root.outputShape(for: [2] + shape) == [2, 10], "\(name) at \(shape)")
        }
    }
}

@Test func largeMobileNetTakesSmallImagesThroughSamePadding() throws {
    let network = try ModelZoo.build("mobilenet-v1-large", inputShape: [3, 32, 32], classes: 10, seed: 1)
    #expect(network.parameterCount == 3_217_194)
    #expect(try network.root.outputShape(for: [2, 3, 28, 28]) == [2, 10])
}

@Test func parameterCountsMatchTheIssue() throws {
    let expected: [(String, Int, Int)] = [
        ("mycnn", 25_674, 20_586), ("resnet", 195_738, 195_450), ("se-resnet", 197_320, 197_032),
        ("vgg11", 9_231_114, 9_229_962), ("mobilenet-v1", 3_217_194, 3_216_618),
        ("shufflenet-v1-g3-1.0x", 914_338, 913_906), ("shufflenet-v2", 352_042, 351_610),
        ("efficientnet-v2-s", 19_846_370, 19_845_938),
    ]
    for (name, cifar, mnist) in expected {
        #expect(try ModelZoo.build(name, inputShape: [3, 32, 32], classes: 10, seed: 0).parameterCount == cifar, "\(name)")
        #expect(try ModelZoo.build(name, inputShape: [1, 28, 28], classes: 10, seed: 0).parameterCount == mnist, "\(name)")
    }
}

@Test func everyVariantMatchesPyTorchCountsMacsAndStateDict() throws {
    let torch = try TorchZoo.load()
    #expect(Set(torch.models.keys) == Set(ModelZoo.names))
    for name in ModelZoo.names {
        let reference = try #require(torch.models[name], "\(name) missing from zoo.json")
        let keyShape = [3, 32, 32]
        let network = try ModelZoo.build(name, inputShape: keyShape, classes: 10, seed: 0)
        let ours = network.stateDict.map { ($0.0, $0.1.shape) }
        #expect(ours.map(\.0) == reference.stateDict.map(\.0), "\(name) state-dict keys")
        #expect(ours.map(\.1) == reference.stateDict.map(\.1), "\(name) state-dict shapes")
        for (key, shape) in inputs {
            guard let params = reference.params[key], let macs = reference.macs[key] else { continue }
            let summary = try ModelSummary.make(model: name, inputShape: shape, classes: 10, batchSize: 1)
            #expect(summary.totals.trainableParams == params, "\(name) params at \(key)")
            #expect(summary.totals.macs == macs, "\(name) macs at \(key)")
        }
    }
}

@Test func multiplyAddsMatchTheIssue() throws {
    for (name, macs) in [("shufflenet-v2-0.5x", 10_902_016), ("mycnn", 1_642_496), ("resnet-2-2-2", 28_754_560)] {
        let summary = try ModelSummary.make(model: name, inputShape: [3, 32, 32], classes: 10, batchSize: 32)
        #expect(summary.totals.macs == macs, "\(name)")
        #expect(summary.totals.convMacs + summary.totals.linearMacs == macs)
    }
}

@Test func namesAndAliases() throws {
    #expect(ModelZoo.canonicalName("resnet") == "resnet-2-2-2")
    #expect(ModelZoo.canonicalName("ShuffleNet-V1") == "shufflenet-v1-g3-2.0x")
    #expect(ModelZoo.canonicalName("shufflenet-v2") == "shufflenet-v2-0.5x")
    #expect(ModelZoo.canonicalName("se-resnet") == "se-resnet-2-2-2")
    #expect(ModelZoo.seedID("vgg16") == "003")
    #expect(ModelZoo.seedID("shufflenet-v2-1.5x") == "000")
    #expect(ModelZoo.seedID("efficientnet-v2-s") == "004")
}

@Test func unknownNamesListTheValidOnes() throws {
    for bad in ["resnet-4-4-4", "vgg12", "shufflenet-v1-g5-1.0x", "nope"] {
        do {
            _ = try ModelZoo.build(bad, inputShape: [3, 32, 32], classes: 10, seed: 0)
            Issue.record("\(bad) should be refused")
        } catch let error as ModelError {
            let message = error.description
            #expect(message.contains("unknown model '\(bad)'"))
            for valid in ["resnet-2-2-2", "vgg19", "shufflenet-v1-g8-0.5x", "efficientnet-v2-s", "mobilenet-v1-large"] {
                #expect(message.contains(valid))
            }
        }
    }
}

@Test func refusedInputsSayWhy() throws {
    #expect(throws: ModelError.self) { try ModelZoo.build("vgg11", inputShape: [3, 64, 64], classes: 10, seed: 0) }
    #expect(throws: ModelError.self) { try ModelZoo.build("shufflenet-v2", inputShape: [3, 64, 64], classes: 10, seed: 0) }
    #expect(throws: ModelError.self) { try ModelZoo.build("mycnn", inputShape: [3, 32], classes: 10, seed: 0) }
    #expect(throws: ModelError.self) { try ModelZoo.build("mycnn", inputShape: [3, 32, 32], classes: 0, seed: 0) }
}

/// Every family and variant, at both dataset sizes, takes one real training step: finite loss, the
/// weights moved, and every gradient went back to the pool. (Not every tensor need move: an SE gate's single hidden ReLU unit can be dead for the
/// whole batch at initialisation, and then its two Linear weights get no gradient, in PyTorch too.)
@Test(arguments: ModelZoo.names)
func everyVariantRunsATrainingStep(name: String) throws {
    for (_, shape) in inputs {
        // On a thread of its own, so that the pool's count is this network's alone.
        let (value, moved, tensors, lentDelta) = try onOwnThread { () throws -> (Float, Int, Int, Int) in
            let network = try ModelZoo.build(name, inputShape: shape, classes: 10, seed: 3)
            let images = Tensor(shape: [2] + shape)
            var random = RandomSource(seed: 9)
            for i in 0..<images.count { images[i] = random.uniform(-1, 1) }
            let labels: [Int32] = [3, 7]
            let optimizer = try SGD(parameters: network.trainableParameters, learningRate: 0.1, momentum: 0.9)
            let before = network.trainableParameters.map { $0.value.array }
            optimizer.zeroGradients()
            let loss = CrossEntropyLoss()
            let value = try labels.withUnsafeBufferPointer {
                try loss.forward(logits: network.forward(images, training: true), labels: $0)
            }
            let lentBefore = GradientPool.forCurrentThread().lentCount
            network.backward(loss.gradient)
            optimizer.step()
            let moved = zip(before, network.trainableParameters).filter { $0.0 != $0.1.value.array }.count
            return (value, moved, before.count, GradientPool.forCurrentThread().lentCount - lentBefore)
        }
        #expect(value.isFinite && value > 0, "\(name) at \(shape): loss \(value)")
        #expect(moved * 10 >= tensors * 9, "\(name) at \(shape): \(tensors - moved) of \(tensors) tensors did not move")
        // Every gradient lent during backward came back: nothing accumulates from step to step.
        #expect(lentDelta == 0, "\(name) at \(shape): \(lentDelta) gradients not given back")
    }
}

/// The conv that reads the images leaves their gradient out (`Conv2d.computesInputGradient`, set by
/// `Network.init`): in every zoo model it is the first conv, and the models that pad 28x28 images first
/// (MobileNetV1, VGG) keep it there (Grad-CAM may read the padding's gradient). What it computes is checked
/// against the same conv computing dInput in `ConvolutionTests.stemLeavesInputGradientOut`.
@Test(arguments: ModelZoo.names)
func imageReadingConvLeavesTheImagesGradientOut(name: String) throws {
    for (_, shape) in inputs {
        let network = try ModelZoo.build(name, inputShape: shape, classes: 10, seed: 3)
        let convs = NetworkSpecWriter.allLayers(network.root).compactMap { $0 as? Conv2d }
        let leaving = convs.filter { !$0.computesInputGradient }
        let padsFirst = network.root.layers.first?.1 is ZeroPad2d
        #expect(leaving.count == (padsFirst ? 0 : 1), "\(name) at \(shape): \(leaving.map(\.name))")
        if let stem = leaving.first {
            #expect(stem.weight === network.stateDict.first?.1, "\(name) at \(shape): \(stem.name) is not the first conv")
        }
    }
}

/// Every family and variant, at both dataset sizes: folded inference (`Network.infer`) gives the eval
/// forward's logits, after a training step has moved the weights and the running statistics away from
/// their initial values (so the folded BatchNorms are not identities).
@Test(arguments: ModelZoo.names)
func everyVariantInfersAsItsEvalForward(name: String) throws {
    for (_, shape) in inputs {
        let network = try ModelZoo.build(name, inputShape: shape, classes: 10, seed: 5)
        let images = Tensor(shape: [3] + shape)
        var random = RandomSource(seed: 11)
        for i in 0..<images.count { images[i] = random.uniform(-1, 1) }
        let labels: [Int32] = [1, 4, 9]
        // A small step: the deep variants (efficientnet-v2-s) must stay finite on three images.
        let optimizer = try SGD(parameters: network.trainableParameters, learningRate: 0.001, momentum: 0.9)
        let loss = CrossEntropyLoss()
        for _ in 0..<2 {
            optimizer.zeroGradients()
            _ = try labels.withUnsafeBufferPointer { try loss.forward(logits: network.forward(images, training: true), labels: $0) }
            network.backward(loss.gradient)
            optimizer.step()
        }
        // Two steps on three images leave the deep variants' running statistics far from their activations:
        // efficientnet-v2-s's eval logits reach 1e10, where float rounding through its 100-odd folded layers
        // reached 1.2e-4 of them (the thread count, which other tests set while this one runs, moves the
        // weight gradients' rounding and with it that figure); a wrong fold is off by the logits' own size.
        expectInferMatchesForward(network, images, "\(name) at \(shape)", rtol: 1e-3)
    }
}

/// A batch whose activations would take too much memory runs through the network a few images at a time
/// (`Network.imagesPerInferencePass`): MobileNetV1's largest output, 512 x 18 x 18 floats an image, takes
/// passes of 24; 36 images (passes of 24 and 12) give the eval forward's logits over the whole batch,
/// while a small ResNet's and VGG11's batch of 64 stays one pass.
@Test func largeActivationsInferInPasses() throws {
    let network = try ModelZoo.build("mobilenet-v1", inputShape: [3, 32, 32], classes: 10, seed: 5)
    #expect(try ModelSummary.largestActivation(of: network) == 512 * 18 * 18)
    #expect(network.imagesPerInferencePass == 24)
    let images = Tensor(shape: [36, 3, 32, 32])
    var random = RandomSource(seed: 12)
    for i in 0..<images.count { images[i] = random.uniform(-1, 1) }
    expectInferMatchesForward(network, images, "mobilenet-v1 in passes of 24")
    for (name, shape) in [("resnet", [1, 28, 28]), ("vgg11", [3, 32, 32])] {
        let other = try ModelZoo.build(name, inputShape: shape, classes: 10, seed: 5)
        #expect(other.imagesPerInferencePass >= 64, "\(name)")
    }
}
