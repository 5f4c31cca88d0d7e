import TestThreads
import Testing

@testable import Engine

@Suite struct LinearTests {
    func makeLinear(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, name: String = "fc") -> Linear {
        var random = RandomSource(seed: 11)
        let layer = Linear(inFeatures, outFeatures, bias: bias, random: &random)
        layer.name = name
        return layer
    }

    @Test func withBias() throws { try expectLayerMatchesFixture(makeLinear(7, 5), Fixture("ops_linear"), "linear_bias") }
    @Test func withoutBias() throws {
        try expectLayerMatchesFixture(makeLinear(6, 4, bias: false), Fixture("ops_linear"), "linear_nobias")
    }
    @Test func fourDimensionalInputIsFlattened() throws {
        try expectLayerMatchesFixture(makeLinear(12, 5), Fixture("ops_linear"), "linear_4d")
    }

    @Test func gradientsMatchFiniteDifferences() throws {
        try expectGradientsMatchFiniteDifferences(makeLinear(6, 4), inputShape: [3, 6], "linear")
        try expectGradientsMatchFiniteDifferences(makeLinear(12, 3, bias: false), inputShape: [2, 3, 2, 2], "linear 4-D")
    }

    @Test func wrongInputShapeThrowsNamingLayerAndShapes() throws {
        let layer = makeLinear(6, 4, name: "classifier.1")
        do {
            _ = try layer.forward(Tensor(shape: [2, 7]), training: true)
            Issue.record("no error for a [2, 7] input")
        } catch let error as EngineError {
            #expect(error == .shapeMismatch(layer: "classifier.1", expected: "[N, 6]", got: [2, 7]))
            #expect(error.description.contains("classifier.1") && error.description.contains("[2, 7]"))
        }
        #expect(throws: EngineError.self) { try layer.forward(Tensor(shape: [6]), training: true) }
    }

    @Test func buffersDoNotGrowAcrossSteps() throws {
        // (output capacity, output address, dx capacity, dx address) per step.
        let seen = try onOwnThread { () throws -> [[Int]] in
            let layer = makeLinear(6, 4)
            var random = RandomSource(seed: 2)
            let x = Tensor(shape: [5, 6], values: randomValues(30, &random))
            var seen: [[Int]] = []
            for _ in 0..<3 {
                let y = try layer.forward(x, training: true)
                let dx = layer.backward(Tensor(shape: y.shape, values: randomValues(y.count, &random)))
                seen.append([y.capacity, Int(bitPattern: y.data), dx.capacity, Int(bitPattern: dx.data)])
                GradientPool.forCurrentThread().give(dx)  // as a container does once it has read dx
            }
            return seen
        }
        for s in seen.dropFirst() { #expect(s == seen[0]) }
    }
}
