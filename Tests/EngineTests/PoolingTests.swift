import TestThreads
import Testing

@testable import Engine

@Suite struct PoolingTests {
    func named<L: Layer>(_ layer: L, _ name: String) -> L {
        layer.name = name
        return layer
    }

    @Test(arguments: [
        ("maxpool_k2_s2", Pool2d.Kind.max, 2, 2, 0),
        ("maxpool_k2_s2_odd", .max, 2, 2, 0),
        ("maxpool_k3_s2_p1", .max, 3, 2, 1),
        ("maxpool_k3_s2_p1_ties", .max, 3, 2, 1),
        ("maxpool_k3_s2_p1_negative", .max, 3, 2, 1),
        ("avgpool_k3_s2_p1_incl", .average(countIncludePad: true), 3, 2, 1),
        ("avgpool_k3_s2_p1_excl", .average(countIncludePad: false), 3, 2, 1),
        ("avgpool_k4", .average(countIncludePad: true), 4, 4, 0),
        ("avgpool_k2_s2", .average(countIncludePad: true), 2, 2, 0),
    ])
    func poolMatchesPyTorch(_ name: String, _ kind: Pool2d.Kind, _ kernel: Int, _ stride: Int, _ padding: Int) throws {
        try expectLayerMatchesFixture(named(Pool2d(kind, kernel: kernel, stride: stride, padding: padding), name),
                                      Fixture("ops_pool"), name)
    }

    @Test func globalAveragePoolMatchesPyTorch() throws {
        try expectLayerMatchesFixture(named(GlobalAvgPool(), "globalavg"), Fixture("ops_pool"), "globalavg")
    }

    @Test func zeroPadMatchesPyTorch() throws {
        try expectLayerMatchesFixture(named(ZeroPad2d(2), "zeropad_2"), Fixture("ops_pool"), "zeropad_2")
    }

    /// Max pooling has kinks where two inputs tie, so its check uses distinct values 0.1 apart (a shuffled ramp):
    /// a step of eps = 0.01 never changes which input wins.
    @Test func maxPoolGradientsMatchFiniteDifferences() throws {
        for (kernel, step, padding) in [(2, 2, 0), (3, 2, 1), (3, 1, 1)] {
            let shape = [2, 2, 7, 6]
            var random = RandomSource(seed: UInt64(kernel * 10 + step))
            var ramp = (0..<shape.reduce(1, *)).map { Float($0) * 0.1 - 8 }
            for i in stride(from: ramp.count - 1, to: 0, by: -1) { ramp.swapAt(i, random.nextInt(i + 1)) }
            try expectGradientsMatchFiniteDifferences(Pool2d(.max, kernel: kernel, stride: step, padding: padding),
                                                      inputShape: shape, input: ramp, samples: 84,
                                                      "maxpool k\(kernel) s\(step) p\(padding)")
        }
    }

    @Test func averagePoolAndPaddingGradientsMatchFiniteDifferences() throws {
        try expectGradientsMatchFiniteDifferences(Pool2d(.average(countIncludePad: true), kernel: 3, stride: 2, padding: 1),
                                                  inputShape: [2, 2, 7, 6], "avgpool incl")
        try expectGradientsMatchFiniteDifferences(Pool2d(.average(countIncludePad: false), kernel: 3, stride: 2, padding: 1),
                                                  inputShape: [2, 2, 7, 6], "avgpool excl")
        try expectGradientsMatchFiniteDifferences(GlobalAvgPool(), inputShape: [2, 3, 4, 5], "global avgpool")
        try expectGradientsMatchFiniteDifferences(ZeroPad2d(1), inputShape: [2, 2, 3, 4], "zeropad")
    }

    /// An average pool whose one window is the whole plane (the seeds' AvgPool2d(4) on 4x4 planes) runs the
    /// global pool's sums: the same values as the windowed kernel, forward and backward.
    @Test func wholePlaneAveragePoolAgreesWithTheWindowedKernel() throws {
        let x = seededTensor([3, 5, 4, 4], seed: 12), dy = seededTensor([3, 5, 1, 1], seed: 13)
        let pool = Pool2d(.average(countIncludePad: true), kernel: 4)
        let y = try pool.forward(x, training: true).array, dx = pool.backward(dy).array
        let sh = PoolShape(planes: 15, h: 4, w: 4, p: 1, q: 1, kernel: 4, stride: 4, pad: 0)
        let windowed = Tensor(shape: [15]), windowedGrad = Tensor(shape: [15 * 16])
        averagePoolForward(sh, countIncludePad: true, input: x.data, output: windowed.data)
        averagePoolBackward(sh, countIncludePad: true, gradOutput: dy.data, gradInput: windowedGrad.data)
        expectClose(y, windowed.array, "forward", rtol: 1e-6, atol: 1e-7)
        expectClose(dx, windowedGrad.array, "backward", rtol: 1e-6, atol: 1e-7)
        try expectGradientsMatchFiniteDifferences(Pool2d(.average(countIncludePad: true), kernel: 4),
                                                  inputShape: [2, 3, 4, 4], "whole-plane avgpool")
    }

    /// A 3x3 stride-2 average pool padded by one that counts the padding (ShuffleNetV1's shortcut) runs the
    /// stride-2 depthwise kernel with taps of 1/9: the windowed kernel's values, on even and odd planes, planes
    /// narrower than a vector's eight outputs and wider than one.
    @Test func strideTwoAveragePoolAgreesWithTheWindowedKernel() throws {
        for (h, w) in [(28, 28), (7, 7), (14, 9), (33, 40), (3, 2)] {
            let x = seededTensor([2, 3, h, w], seed: UInt64(h * 100 + w))
            let pool = Pool2d(.average(countIncludePad: true), kernel: 3, stride: 2, padding: 1)
            let y = try pool.forward(x, training: true)
            let sh = PoolShape(planes: 6, h: h, w: w, p: y.shape[2], q: y.shape[3], kernel: 3, stride: 2, pad: 1)
            let windowed = Tensor(shape: [y.count])
            averagePoolForward(sh, countIncludePad: true, input: x.data, output: windowed.data)
            expectClose(y.array, windowed.array, "\(h)x\(w)", rtol: 1e-6, atol: 1e-6)
        }
    }

    @Test func wrongInputShapeThrowsNamingLayerAndShapes() throws {
        let layers: [any Layer] = [named(Pool2d(.max, kernel: 3, stride: 2, padding: 1), "stem.pool"),
                                   named(GlobalAvgPool(), "head.pool"), named(ZeroPad2d(2), "pad")]
        for layer in layers {
            do {
                _ = try layer.forward(Tensor(shape: [2, 3, 8]), training: true)
                Issue.record("\(layer.name): no error for a [2, 3, 8] input")
            } catch let error as EngineError {
                #expect(error.description.contains(layer.name) && error.description.contains("[2, 3, 8]")
                        && error.description.contains("[N, C, H, W]"), "\(error)")
            }
        }
        // A window larger than the padded image.
        #expect(throws: EngineError.self) { try Pool2d(.max, kernel: 4).forward(Tensor(shape: [1, 1, 3, 3]), training: true) }
    }

    @Test func buffersDoNotGrowAcrossSteps() throws {
        // Per layer, (output capacity, output address, dx capacity, dx address) per step.
        let seenPerLayer = try onOwnThread { () throws -> [(String, [[Int]])] in
            let layers: [any Layer] = [Pool2d(.max, kernel: 3, stride: 2, padding: 1),
                                       Pool2d(.average(countIncludePad: false), kernel: 3, stride: 2, padding: 1),
                                       GlobalAvgPool(), ZeroPad2d(1)]
            var random = RandomSource(seed: 4)
            let x = Tensor(shape: [3, 2, 7, 7], values: randomValues(294, &random))
            return try layers.map { layer in
                var seen: [[Int]] = []
                for _ in 0..<3 {
                    let y = try layer.forward(x, training: true)
                    let dx = layer.backward(Tensor(shape: y.shape, values: randomValues(y.count, &random)))
                    seen.append([y.capacity, Int(bitPattern: y.data), dx.capacity, Int(bitPattern: dx.data)])
                    GradientPool.forCurrentThread().give(dx)  // as a container does once it has read dx
                }
                return (layer.typeName, seen)
            }
        }
        for (name, seen) in seenPerLayer {
            for s in seen.dropFirst() { #expect(s == seen[0], "\(name)") }
        }
    }
}
