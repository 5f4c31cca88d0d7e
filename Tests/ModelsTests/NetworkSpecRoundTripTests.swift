import Engine
import Foundation
import Testing
@testable import Models

/// `cnntui models --spec NAME` for every zoo model and variant, read back: the same parameter count, the
/// same state-dict names and shapes, and (with the zoo network's weights and buffers copied over) the same
/// logits, at the digits' 1x28x28 and the photos' 3x32x32.
@Suite struct NetworkSpecRoundTripTests {
    static let cases = ModelZoo.names.flatMap { name in [[1, 28, 28], [3, 32, 32]].map { (name, $0) } }

    @Test(arguments: cases)
    func specBuildsTheSameNetwork(_ name: String, _ input: [Int]) throws {
        let zoo = try ModelZoo.build(name, inputShape: input, classes: 10, seed: 1)
        let text = try ModelZoo.specText(name, inputShape: input, classes: 10)
        let file = FileManager.default.temporaryDirectory
            .appendingPathComponent("spec-roundtrip-\(ProcessInfo.processInfo.processIdentifier)-\(name)-\(input[0]).cnn").path
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let spec = try ModelZoo.build(file, inputShape: input, classes: 10, seed: 2)

        #expect(spec.parameterCount == zoo.parameterCount, "\(name) parameters")
        #expect(spec.stateDict.map(\.0) == zoo.stateDict.map(\.0), "\(name) state-dict names")
        #expect(spec.stateDict.map(\.1.shape) == zoo.stateDict.map(\.1.shape), "\(name) state-dict shapes")
        #expect(ModelZoo.family(file) == ModelZoo.family(name), "\(name) family (and so its recipe)")

        for ((_, to), (_, from)) in zip(spec.stateDict, zoo.stateDict) {
            to.value.data.update(from: from.value.data, count: from.count)
        }
        var random = RandomSource(seed: 3)
        let x = Tensor(shape: [2] + input, values: (0..<(2 * input.reduce(1, *))).map { _ in random.uniform(-1, 1) })
        let a = try zoo.forward(x, training: false).array
        let b = try spec.forward(x, training: false).array
        #expect(a == b, "\(name) logits")
    }

    /// The README's own network, shipped as `Assets/models/tiny-resnet.cnn`, builds at both input shapes, with the
    /// same trainable parameter count every time (24,670 at 1x28x28).
    @Test func theShippedExampleBuilds() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Assets/models/tiny-resnet.cnn").path
        let digits = try ModelZoo.build(file, inputShape: [1, 28, 28], classes: 10, seed: 0)
        #expect(digits.parameterCount == 24_670)
        _ = try ModelZoo.build(file, inputShape: [3, 32, 32], classes: 10, seed: 0)
    }

    /// The printed text reads like the family's table: ResNet's stages as repeated basic blocks.
    @Test func resNetSpecReadsLikeItsTable() throws {
        let text = try ModelZoo.specText("resnet-3-3-3", inputShape: [3, 32, 32], classes: 10)
        #expect(text.contains("""
        layer2: sequential
          basic-block 32 stride=2
          repeat 2
            basic-block 32
        """))
        #expect(text.contains("family ResNet"))
        #expect(text.contains("fc: linear classes"))
    }
}
