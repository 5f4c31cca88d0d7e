import Engine
import Foundation
import Testing
@testable import Models
@testable import Training

/// Grad-CAM against PyTorch (scripts/fixtures/gradcam.py: the same checkpoint, images and layers give the same raw
/// cam and the same resized, normalised map within 1e-4), the backward observer, and the stages of every zoo model.
@Suite struct GradCAMTests {
    static func fixtureNetwork(_ family: String) throws -> (Network, [String: Safetensors.Entry], [String]) {
        let url = try #require(Bundle.module.url(forResource: "gradcam_" + family, withExtension: "safetensors",
                                                 subdirectory: "Fixtures"))
        let (entries, metadata) = try Safetensors.read(contentsOf: url)
        let network: Network
        switch family {
        case "mycnn":
            network = try ModelZoo.network(inputShape: [1, 28, 28], classes: 10, seed: 7) {
                try MyCNN.build(MyCNN.table[0], input: $0, classes: $1, factory: &$2)
            }
        case "resnet":
            network = try ModelZoo.network(inputShape: [3, 32, 32], classes: 10, seed: 7) {
                ResNet.build(ResNet.fixtureRows[0], input: $0, classes: $1, factory: &$2)
            }
        default:
            network = try ModelZoo.network(inputShape: [3, 32, 32], classes: 10, seed: 7) {
                ShuffleNetV2.build(ShuffleNetV2.fixtureRow, input: $0, classes: $1, factory: &$2)
            }
        }
        try network.root.loadStateDict(entries, file: url.path)
        let layers = try #require(metadata["layers"]).split(separator: ",").map(String.init)
        return (network, entries, [try #require(metadata["default"])] + layers)
    }

    @Test(arguments: ["mycnn", "resnet", "shufflenet_v2"])
    func mapsMatchPyTorch(_ family: String) throws {
        let (network, entries, named) = try Self.fixtureNetwork(family)
        let gradCAM = GradCAM(network: network)
        #expect(gradCAM.layers[gradCAM.defaultLayer].path == named[0], "\(family): default stage")
        let layers = Array(named.dropFirst())
        let images = try #require(entries["__images"])
        let labels = try #require(entries["__labels"]).values.map { Int($0) }
        let size = network.inputShape.reduce(1, *)
        var worst: Float = 0
        for i in 0..<labels.count {
            let image = Array(images.values[i * size ..< (i + 1) * size])
            let logits = try network.forward(Tensor(shape: [1] + network.inputShape, values: image), training: false).array
            let predicted = logits.indices.max { logits[$0] < logits[$1] } ?? 0
            for path in layers {
                let stage = try #require(gradCAM.layers.firstIndex { $0.path == path }, "\(family): no stage \(path)")
                for (kind, c) in [("predicted", predicted), ("true", labels[i])] {
                    let result = try gradCAM.map(image: image, layer: stage, classIndex: c)
                    let cam = try #require(entries["__cam.\(i).\(path).\(kind)"])
                    let map = try #require(entries["__map.\(i).\(path).\(kind)"])
                    #expect(cam.shape == Array(gradCAM.layers[stage].shape.dropFirst()))
                    let scale = max(cam.values.max() ?? 0, 1e-12)
                    for (a, b) in zip(result.cam, cam.values) { worst = max(worst, abs(a - b) / scale) }
                    #expect(result.map.count == map.values.count)
                    for (j, (a, b)) in zip(result.map, map.values).enumerated() {
                        #expect(abs(a - b) <= 1e-4, "\(family) image \(i) \(path) \(kind) map[\(j)]: \(a) vs PyTorch \(b)")
                        worst = max(worst, abs(a - b))
                    }
                }
            }
        }
        #expect(worst <= 1e-4, "\(family): worst difference \(worst)")
        print("Grad-CAM \(family): worst difference against PyTorch \(worst)")
    }

    /// No parameter gradient survives a map, and the network computes the same logits after as before.
    @Test func aMapLeavesTheNetworkAsItWas() throws {
        let (network, entries, _) = try Self.fixtureNetwork("resnet")
        let image = Array(try #require(entries["__images"]).values.prefix(3 * 32 * 32))
        let input = Tensor(shape: [1, 3, 32, 32], values: image)
        let before = try network.forward(input, training: false).array
        let state = network.stateDict.map { $0.1.value.array }
        let gradCAM = GradCAM(network: network)
        _ = try gradCAM.map(image: image, layer: gradCAM.defaultLayer, classIndex: 3)
        #expect(network.trainableParameters.allSatisfy { $0.grad?.array.allSatisfy { $0 == 0 } ?? true })
        #expect(network.stateDict.map { $0.1.value.array } == state)
        let after = try network.forward(input, training: false).array
        #expect(after == before)
    }

    /// The observer sees dL/d(child output) exactly: a finite difference of the loss through one child's output.
    @Test func backwardObserverReportsTheGradientOfEachChildOutput() throws {
        let network = ProbeTests.residualNetwork()
        let input = Tensor(shape: [1, 1, 4, 4], values: (0..<16).map { Float($0) / 8 - 1 })
        final class Recorder: BackwardObserver {
            var seen: [(String, [Float])] = []
            func layerWillBackward(_ layer: any Layer, gradOutput: Tensor) { seen.append((layer.displayName, gradOutput.array)) }
        }
        let recorder = Recorder()
        network.root.backwardObserver = recorder
        let logits = try network.forward(input, training: false)
        let gradLogits = Tensor(shape: logits.shape)
        gradLogits.data[1] = 1
        network.backward(gradLogits)
        network.root.backwardObserver = nil
        #expect(recorder.seen.map(\.0) == ["fc", "flatten", "block", "stem"])
        // d logit1 / d stem output, by central differences through the rest of the network.
        let stemGradient = try #require(recorder.seen.last?.1)
        let stem = try network.root.layers[0].1.forward(input, training: false).array
        let rest = Sequential(Array(network.root.layers.dropFirst()))
        for k in [0, 5, 17, 31] {
            var plus = stem, minus = stem
            plus[k] += 1e-2
            minus[k] -= 1e-2
            let up = try rest.forward(Tensor(shape: [1, 2, 4, 4], values: plus), training: false).array[1]
            let down = try rest.forward(Tensor(shape: [1, 2, 4, 4], values: minus), training: false).array[1]
            #expect(abs((up - down) / 2e-2 - stemGradient[k]) <= 2e-3, "stem output \(k)")
        }
    }

    /// Every zoo model at both dataset shapes: stages of 4D maps in forward order, the default one at least 4x4,
    /// and a finite map of the input's size in [0, 1] for it and the first stage.
    @Test(arguments: ModelZoo.names)
    func everyZooModelHasStagesAndFiniteMaps(_ name: String) throws {
        for shape in [[1, 28, 28], [3, 32, 32]] {
            guard let network = try? ModelZoo.build(name, inputShape: shape, classes: 10, seed: 1) else { continue }
            let gradCAM = GradCAM(network: network)
            #expect(!gradCAM.layers.isEmpty, "\(name) \(shape): no stages")
            let sizes = gradCAM.layers.map { $0.shape[1] * $0.shape[2] }
            #expect(sizes == sizes.sorted(by: >), "\(name) \(shape): stages not from fine to coarse: \(gradCAM.layers.map(\.label))")
            let chosen = gradCAM.layers[gradCAM.defaultLayer]
            #expect(chosen.shape[1] >= 4 && chosen.shape[2] >= 4, "\(name) \(shape): default \(chosen.label)")
            let image = (0..<shape.reduce(1, *)).map { Float(($0 * 37) % 101) / 50 - 1 }
            for layer in Set([gradCAM.defaultLayer, 0]) {
                let result = try gradCAM.map(image: image, layer: layer, classIndex: 2)
                #expect(result.map.count == shape[1] * shape[2])
                #expect(result.map.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1 }, "\(name) \(shape) \(gradCAM.layers[layer].label)")
                #expect(result.cam.allSatisfy { $0.isFinite })
            }
            print("\(name) \(shape): " + gradCAM.layers.enumerated().map { ($0.offset == gradCAM.defaultLayer ? "*" : "") + $0.element.label }.joined(separator: ", "))
        }
    }

    /// VGG on 28x28 digits pads them to 32x32 inside the network: its map must be the map the same weights give
    /// the padded picture, cut back to the digit, so the heat sits on the pixels that caused it.
    @Test func aPaddedInputsMapIsCutFromThePaddedFrame() throws {
        let small = try ModelZoo.build("vgg11", inputShape: [1, 28, 28], classes: 10, seed: 3)
        let large = try ModelZoo.build("vgg11", inputShape: [1, 32, 32], classes: 10, seed: 4)
        let weights = Dictionary(uniqueKeysWithValues: small.stateDict.map { ($0.0, $0.1) })
        for (key, parameter) in large.stateDict {
            let source = try #require(weights[key], "\(key) missing from the padded network")
            parameter.value.data.update(from: source.value.data, count: parameter.count)
        }
        let image = (0..<784).map { Float(($0 * 37) % 101) / 50 - 1 }
        var padded = [Float](repeating: 0, count: 32 * 32)
        for y in 0..<28 { for x in 0..<28 { padded[(y + 2) * 32 + x + 2] = image[y * 28 + x] } }
        let smallCAM = GradCAM(network: small), largeCAM = GradCAM(network: large)
        let a = try smallCAM.map(image: image, layer: smallCAM.defaultLayer, classIndex: 3)
        let b = try largeCAM.map(image: padded, layer: largeCAM.defaultLayer, classIndex: 3)
        #expect(a.cam == b.cam)
        var cut = (0..<28).flatMap { y in (0..<28).map { x in b.map[(y + 2) * 32 + x + 2] } }
        minMaxNormalise(&cut)
        #expect(zip(a.map, cut).allSatisfy { abs($0 - $1) < 1e-5 })
    }

    @Test func bilinearResizeAndNormaliseAsPyTorch() {
        // F.interpolate(torch.tensor([[[[0., 1.], [2., 3.]]]]), size=(4, 4), mode="bilinear", align_corners=False)
        var out = [Float](repeating: 0, count: 16)
        bilinearResize(dst: &out, src: [0, 1, 2, 3], inH: 2, inW: 2, outH: 4, outW: 4)
        let expected: [Float] = [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3]
        #expect(zip(out, expected).allSatisfy { abs($0 - $1) < 1e-6 }, "\(out)")
        var flat: [Float] = [0, 0, 0]
        minMaxNormalise(&flat)
        #expect(flat == [0, 0, 0])
    }
}
