import Testing

@testable import Engine

/// The fast paths the fixtures' small shapes do not reach (eight-wide SIMD loops, thread splits), checked
/// against the plain kernels they replace.
@Suite struct FastKernelTests {
    /// 2x2/2 max pooling, eight outputs at a time, against the any-window kernel: ties (small integers)
    /// must pick the first in row-major order, NaN must win, and the outputs past a multiple of eight
    /// take the scalar tail.
    @Test func maxPool2x2MatchesAnyWindowKernel() {
        for (h, w) in [(6, 20), (5, 17), (4, 16), (8, 34)] {
            let sh = PoolShape(planes: 6, h: h, w: w, p: h / 2, q: w / 2, kernel: 2, stride: 2, pad: 0)
            var random = RandomSource(seed: UInt64(h * 100 + w))
            let count = sh.planes * h * w
            let x = UnsafeMutablePointer<Float>.allocate(capacity: count)
            defer { x.deallocate() }
            for i in 0..<count { x[i] = Float(random.nextInt(5)) - 2 }
            x[3] = .nan
            x[w + 10] = .nan
            let outCount = sh.planes * sh.p * sh.q
            let fast = Tensor(shape: [outCount]), fastIndex = Tensor(shape: [outCount])
            let plain = Tensor(shape: [outCount]), plainIndex = Tensor(shape: [outCount])
            maxPool2x2Forward(sh, input: x, output: fast.data, argmax: fastIndex.data)
            maxPoolForwardAnyWindow(sh, input: x, output: plain.data, argmax: plainIndex.data)
            for i in 0..<outCount {
                #expect(fast[i] == plain[i] || (fast[i].isNaN && plain[i].isNaN), "value \(i) of \(h)x\(w)")
                #expect(fastIndex[i] == plainIndex[i], "argmax \(i) of \(h)x\(w)")
            }
        }
    }

    /// ReLU's blended backward against the definition, over a length that leaves a scalar tail.
    @Test func reluBackwardMatchesDefinition() {
        let n = 40_003
        var random = RandomSource(seed: 5)
        let x = Tensor(shape: [n]), dy = Tensor(shape: [n]), dx = Tensor(shape: [n])
        for i in 0..<n {
            x[i] = random.nextInt(7) == 0 ? 0 : random.uniform(-1, 1)
            dy[i] = random.uniform(-1, 1)
        }
        reluBackward(dx: dx.data, dy: dy.data, x: x.data, n: n)
        for i in 0..<n { #expect(dx[i] == (x[i] > 0 ? dy[i] : 0)) }
    }
}
