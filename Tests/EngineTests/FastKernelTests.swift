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

    /// The stride-1 depthwise kernels on padded planes against the row-by-row kernels, forward and backward,
    /// padded and unpadded, square and not, with and without bias.
    @Test func depthwiseStride1MatchesRowKernel() {
        for (h, w, k, pad, bias) in [(8, 8, 3, 1, true), (9, 7, 3, 0, false), (6, 11, 5, 2, true), (5, 5, 3, 1, false)] {
            let p = h + 2 * pad - k + 1, q = w + 2 * pad - k + 1
            let sh = ConvShape(n: 3, c: 5, h: h, w: w, k: 5, p: p, q: q, r: k, s: k, strideH: 1, strideW: 1,
                               padH: pad, padW: pad, groups: 5)
            var random = RandomSource(seed: UInt64(h * 31 + w))
            func filled(_ n: Int) -> Tensor {
                let t = Tensor(shape: [n])
                for i in 0..<n { t[i] = random.uniform(-1, 1) }
                return t
            }
            let x = filled(sh.n * sh.c * h * w), weight = filled(sh.c * k * k), b = filled(sh.c)
            let dy = filled(sh.n * sh.c * p * q)
            let outFast = Tensor(shape: [dy.count]), outPlain = Tensor(shape: [dy.count])
            depthwiseConvForwardStride1(sh, input: x.data, weight: weight.data, bias: bias ? b.data : nil, output: outFast.data)
            depthwiseConvForwardAnyStride(sh, input: x.data, weight: weight.data, bias: bias ? b.data : nil, output: outPlain.data)
            let dxFast = Tensor(shape: [x.count]), dxPlain = Tensor(shape: [x.count])
            let dwFast = filled(weight.count), dwPlain = dwFast.clone()
            let dbFast = filled(sh.c), dbPlain = dbFast.clone()
            depthwiseConvBackwardStride1(sh, input: x.data, weight: weight.data, gradOutput: dy.data, gradInput: dxFast.data,
                                         gradWeight: dwFast.data, gradBias: bias ? dbFast.data : nil)
            depthwiseConvBackwardAnyStride(sh, input: x.data, weight: weight.data, gradOutput: dy.data, gradInput: dxPlain.data,
                                           gradWeight: dwPlain.data, gradBias: bias ? dbPlain.data : nil)
            let label = "\(h)x\(w) k\(k) pad \(pad)"
            for (fast, plain, what) in [(outFast, outPlain, "output"), (dxFast, dxPlain, "dx"), (dwFast, dwPlain, "dw"),
                                        (dbFast, dbPlain, "db")] {
                var worst: Float = 0
                for i in 0..<fast.count { worst = max(worst, abs(fast[i] - plain[i]) / max(1, abs(plain[i]))) }
                #expect(worst < 1e-5, "\(what) of \(label): worst error \(worst)")
            }
        }
    }
}
