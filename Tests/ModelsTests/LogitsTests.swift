import Engine
import Foundation
import Testing
@testable import Models

/// Our forward pass in eval mode against PyTorch's logits, with PyTorch's trained weights loaded; then,
/// where the fixture has one, a train-mode batch: the loss and every parameter's gradient against PyTorch's
/// (the whole backward: every container, the gradient pool, the fast conv paths).
func expectLogitsMatch(_ fixture: String, inputShape: [Int],
                       _ build: (_ input: [Int], _ classes: Int, _ factory: inout LayerFactory) throws -> [(String, any Layer)]) throws {
    let url = try #require(Bundle.module.url(forResource: "logits_" + fixture, withExtension: "safetensors", subdirectory: "Fixtures"))
    let (entries, _) = try Safetensors.read(contentsOf: url)
    let network = try ModelZoo.network(inputShape: inputShape, classes: 10, seed: 7, build)
    let expectedKeys = Set(entries.keys.filter { !$0.hasPrefix("__") })
    #expect(Set(network.stateDict.map(\.0)) == expectedKeys, "\(fixture) state-dict keys")
    try network.root.loadStateDict(entries, file: url.path)
    let input = try #require(entries["__input"])
    let expected = try #require(entries["__logits"])
    let logits = try network.forward(Tensor(shape: input.shape, values: input.values), training: false)
    #expect(logits.shape == expected.shape)
    for (i, (a, b)) in zip(logits.array, expected.values).enumerated() {
        #expect(abs(a - b) <= 1e-4 * max(1, abs(b)), "\(fixture) logit \(i): \(a) vs PyTorch \(b)")
    }
    // Folded inference (`Network.infer`: BatchNorms and ReLUs folded into the convs) gives the same logits.
    let x = Tensor(shape: input.shape, values: input.values)
    expectInferMatchesForward(network, x, "\(fixture) with PyTorch's weights")
    // In an evaluation's scope each conv folds once and the next batches reuse the folds.
    network.withFrozenWeights {
        expectInferMatchesForward(network, x, "\(fixture), folded once")
        expectInferMatchesForward(network, x, "\(fixture), the folds reused")
    }

    guard let trainInput = entries["__train_input"], let trainLabels = entries["__train_labels"],
          let expectedLoss = entries["__train_loss"] else { return }
    network.zeroGradients()
    let loss = CrossEntropyLoss()
    let labels = trainLabels.values.map { Int32($0) }
    let value = try labels.withUnsafeBufferPointer {
        try loss.forward(logits: network.forward(Tensor(shape: trainInput.shape, values: trainInput.values), training: true),
                         labels: $0)
    }
    #expect(abs(value - expectedLoss.values[0]) <= 1e-5 * max(1, abs(expectedLoss.values[0])),
            "\(fixture) train loss \(value) vs PyTorch \(expectedLoss.values[0])")
    network.backward(loss.gradient)
    var checked = 0
    for (name, parameter) in network.stateDict where parameter.isTrainable {
        let expectedGrad = try #require(entries["__grad." + name], "\(fixture): PyTorch has no gradient for \(name)")
        let grad = try #require(parameter.grad?.array)
        let scale = expectedGrad.values.reduce(Float(0)) { max($0, abs($1)) }
        var worst: Float = 0
        for (a, b) in zip(grad, expectedGrad.values) { worst = max(worst, abs(a - b)) }
        #expect(worst <= 1e-4 * max(scale, 1e-2), "\(fixture) grad \(name): worst difference \(worst), largest entry \(scale)")
        checked += 1
    }
    #expect(checked > 0)
    // The train step moved every BatchNorm's running statistics: the folded weights follow (nothing stale).
    // A new evaluation folds again: the last one's folds, made before the train step, are not kept.
    network.withFrozenWeights { expectInferMatchesForward(network, x, "\(fixture) after a train step, in a new scope") }
    expectInferMatchesForward(network, x, "\(fixture) after a train step")
}

/// `network.infer(x)` against `network.forward(x, training: false)`: within `rtol` relative, 1e-4 unless
/// said (the fold multiplies the weights by the BN scale before the sum instead of the sum after it).
func expectInferMatchesForward(_ network: Network, _ x: Tensor, _ what: String, rtol: Float = 1e-4,
                               sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        let reference = try network.forward(x, training: false).array
        let inferred = try network.infer(x).array
        let finite = reference.allSatisfy { $0.isFinite }
        #expect(finite, "\(what): the eval forward's logits are not finite", sourceLocation: sourceLocation)
        #expect(inferred.count == reference.count, "\(what): logit count", sourceLocation: sourceLocation)
        for (i, (a, b)) in zip(inferred, reference).enumerated() {
            #expect(abs(a - b) <= rtol * max(1, abs(b)), "\(what) logit \(i): infer \(a) vs forward \(b)",
                    sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("\(what): \(error)", sourceLocation: sourceLocation)
    }
}

@Test func myCNNLogitsMatchPyTorch() throws {
    try expectLogitsMatch("mycnn", inputShape: [1, 28, 28]) { try MyCNN.build(MyCNN.table[0], input: $0, classes: $1, factory: &$2) }
}

@Test func resNetLogitsMatchPyTorch() throws {
    try expectLogitsMatch("resnet", inputShape: [3, 32, 32]) { ResNet.build(ResNet.fixtureRows[0], input: $0, classes: $1, factory: &$2) }
}

@Test func resNetOnFashionMNISTShapesMatchesPyTorch() throws {
    try expectLogitsMatch("resnet_28", inputShape: [1, 28, 28]) { ResNet.build(ResNet.fixtureRows[0], input: $0, classes: $1, factory: &$2) }
}

@Test func seResNetLogitsMatchPyTorch() throws {
    try expectLogitsMatch("se_resnet", inputShape: [3, 32, 32]) { ResNet.build(ResNet.fixtureRows[1], input: $0, classes: $1, factory: &$2) }
}

@Test func vggLogitsMatchPyTorch() throws {
    try expectLogitsMatch("vgg", inputShape: [3, 32, 32]) { VGG.build(VGG.fixtureRow, input: $0, classes: $1, factory: &$2) }
}

@Test func mobileNetV1LogitsMatchPyTorch() throws {
    try expectLogitsMatch("mobilenet_v1", inputShape: [3, 32, 32]) {
        MobileNetV1.build(MobileNetV1.fixtureRow, input: $0, classes: $1, factory: &$2)
    }
}

@Test func shuffleNetV1LogitsMatchPyTorch() throws {
    try expectLogitsMatch("shufflenet_v1", inputShape: [3, 32, 32]) {
        ShuffleNetV1.build(ShuffleNetV1.fixtureRow, input: $0, classes: $1, factory: &$2)
    }
}

@Test func shuffleNetV2LogitsMatchPyTorch() throws {
    try expectLogitsMatch("shufflenet_v2", inputShape: [3, 32, 32]) {
        ShuffleNetV2.build(ShuffleNetV2.fixtureRow, input: $0, classes: $1, factory: &$2)
    }
}

@Test func efficientNetV2LogitsMatchPyTorch() throws {
    try expectLogitsMatch("efficientnet_v2", inputShape: [3, 32, 32]) {
        EfficientNetV2.build(EfficientNetV2.fixtureRow, input: $0, classes: $1, factory: &$2)
    }
}
