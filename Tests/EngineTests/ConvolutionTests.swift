import TestThreads
import Testing

@testable import Engine

/// A Conv2d configuration matching one case of scripts/fixtures/ops_conv.py.
struct ConvCase: Sendable, CustomTestStringConvertible {
    var name: String
    var inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int, groups: Int, bias: Bool
    init(_ name: String, _ inChannels: Int, _ outChannels: Int, k: Int, s: Int, p: Int, g: Int, bias: Bool = true) {
        self.name = name
        self.inChannels = inChannels
        self.outChannels = outChannels
        kernel = k
        stride = s
        padding = p
        groups = g
        self.bias = bias
    }
    var testDescription: String { name }

    func makeLayer(seed: UInt64 = 7) -> Conv2d {
        var random = RandomSource(seed: seed)
        let conv = Conv2d(inChannels, outChannels, kernel: kernel, stride: stride, padding: padding, groups: groups,
                          bias: bias, random: &random)
        conv.name = name
        return conv
    }
}

@Suite struct ConvolutionTests {
    @Test(arguments: [
        ConvCase("conv_k1_s1_p0_g1", 4, 6, k: 1, s: 1, p: 0, g: 1),
        ConvCase("conv_k1_s1_p0_g3", 6, 9, k: 1, s: 1, p: 0, g: 3),
        ConvCase("conv_k1_s2_p0_g1", 4, 5, k: 1, s: 2, p: 0, g: 1),
        ConvCase("conv_k1_s1_p1_g1", 3, 4, k: 1, s: 1, p: 1, g: 1, bias: false),
        ConvCase("conv_k3_s1_p1_g1", 3, 5, k: 3, s: 1, p: 1, g: 1),
        ConvCase("conv_k3_s2_p1_g1", 4, 6, k: 3, s: 2, p: 1, g: 1),
        ConvCase("conv_k3_s1_p0_g1_nobias", 3, 4, k: 3, s: 1, p: 0, g: 1, bias: false),
        ConvCase("conv_k3_s2_p1_g2", 4, 6, k: 3, s: 2, p: 1, g: 2),
        ConvCase("conv_k3_s1_p1_g3", 6, 9, k: 3, s: 1, p: 1, g: 3, bias: false),
        ConvCase("conv_k3_s2_p1_g3", 6, 6, k: 3, s: 2, p: 1, g: 3),
        ConvCase("conv_k5_s1_p2_g1", 3, 4, k: 5, s: 1, p: 2, g: 1),
        ConvCase("conv_k5_s2_p2_g1", 2, 3, k: 5, s: 2, p: 2, g: 1),
        ConvCase("conv_k7_s2_p3_g1", 3, 4, k: 7, s: 2, p: 3, g: 1),
        ConvCase("conv_k7_s1_p0_g1", 2, 3, k: 7, s: 1, p: 0, g: 1),
        ConvCase("conv_dw_k3_s1_p1", 5, 5, k: 3, s: 1, p: 1, g: 5),
        ConvCase("conv_dw_k3_s2_p1", 4, 4, k: 3, s: 2, p: 1, g: 4, bias: false),
        ConvCase("conv_dw_k3_s1_p0", 4, 4, k: 3, s: 1, p: 0, g: 4),
        ConvCase("conv_dw_k5_s2_p2", 3, 3, k: 5, s: 2, p: 2, g: 3),
        ConvCase("conv_dw_k7_s1_p3", 2, 2, k: 7, s: 1, p: 3, g: 2, bias: false),
        ConvCase("conv_dwmult2_k3_s1_p1", 3, 6, k: 3, s: 1, p: 1, g: 3),
        ConvCase("conv_k1_s1_p0_g1_plane256", 2, 3, k: 1, s: 1, p: 0, g: 1),
        ConvCase("conv_k1_s1_p0_g2_plane256", 4, 4, k: 1, s: 1, p: 0, g: 2),
        ConvCase("conv_k3_s1_p1_g1_plane256", 2, 3, k: 3, s: 1, p: 1, g: 1),
    ])
    func matchesPyTorch(_ c: ConvCase) throws {
        try expectLayerMatchesFixture(c.makeLayer(), Fixture("ops_conv"), c.name)
    }

    @Test(arguments: [
        (ConvCase("normal_k3_s1_p1", 3, 4, k: 3, s: 1, p: 1, g: 1), [2, 3, 5, 6]),
        (ConvCase("strided_k3_s2_p1", 3, 4, k: 3, s: 2, p: 1, g: 1), [2, 3, 7, 6]),
        (ConvCase("pointwise", 4, 3, k: 1, s: 1, p: 0, g: 1), [2, 4, 3, 5]),
        (ConvCase("grouped_g3", 6, 6, k: 3, s: 1, p: 1, g: 3, bias: false), [1, 6, 5, 5]),
        (ConvCase("grouped_pointwise_g2", 4, 6, k: 1, s: 1, p: 0, g: 2), [2, 4, 3, 3]),
        (ConvCase("depthwise_s1_p1", 3, 3, k: 3, s: 1, p: 1, g: 3), [2, 3, 5, 6]),
        (ConvCase("depthwise_s2_p1", 4, 4, k: 3, s: 2, p: 1, g: 4), [1, 4, 7, 7]),
        (ConvCase("depthwise_k5_s2_p0", 2, 2, k: 5, s: 2, p: 0, g: 2), [1, 2, 9, 8]),
    ])
    func gradientsMatchFiniteDifferences(_ c: ConvCase, _ shape: [Int]) throws {
        try expectGradientsMatchFiniteDifferences(c.makeLayer(), inputShape: shape, c.name)
    }

    /// Several images share one GEMM when the output plane is small; this must match running them one by one.
    /// 15x15 planes put 4 images in a GEMM, so a batch of 5 also runs a last chunk of one.
    @Test(arguments: [(ConvCase("small_plane_k3", 3, 4, k: 3, s: 1, p: 1, g: 1), 4),
                      (ConvCase("small_plane_pointwise", 3, 4, k: 1, s: 1, p: 0, g: 1), 4),
                      (ConvCase("chunked_k3", 3, 4, k: 3, s: 1, p: 1, g: 1), 15),
                      (ConvCase("chunked_pointwise", 3, 4, k: 1, s: 1, p: 0, g: 1), 15)])
    func batchedGemmMatchesPerImage(_ c: ConvCase, _ side: Int) throws {
        let n = 5, h = side, w = side
        let shape = [n, c.inChannels, h, w], outShape = [n, c.outChannels, h, w]
        let inSize = c.inChannels * h * w, outSize = c.outChannels * h * w
        #expect(convImagesPerGemm(ConvShape(n: n, c: c.inChannels, h: h, w: w, k: c.outChannels, p: h, q: w,
                                            r: c.kernel, s: c.kernel, strideH: 1, strideW: 1,
                                            padH: c.padding, padW: c.padding, groups: 1)) > 1)
        var random = RandomSource(seed: 3)
        let x = randomValues(n * inSize, &random), dy = randomValues(n * outSize, &random)
        let batched = c.makeLayer()
        let whole = try batched.forward(Tensor(shape: shape, values: x), training: true).array
        let wholeGrad = batched.backward(Tensor(shape: outShape, values: dy)).array
        let single = c.makeLayer()
        for i in 0..<n {
            let xi = Array(x[(i * inSize)..<((i + 1) * inSize)]), dyi = Array(dy[(i * outSize)..<((i + 1) * outSize)])
            let y = try single.forward(Tensor(shape: [1, c.inChannels, h, w], values: xi), training: true).array
            expectClose(Array(whole[(i * outSize)..<((i + 1) * outSize)]), y, "image \(i) output")
            let g = single.backward(Tensor(shape: [1, c.outChannels, h, w], values: dyi)).array
            expectClose(Array(wholeGrad[(i * inSize)..<((i + 1) * inSize)]), g, "image \(i) grad_input")
        }
        expectClose(batched.weight.grad?.array ?? [], single.weight.grad?.array ?? [], "accumulated grad_weight")
        expectClose(batched.bias?.grad?.array ?? [], single.bias?.grad?.array ?? [], "accumulated grad_bias")
    }

    /// A conv that leaves its input's gradient out (`computesInputGradient` false, a network's stem) on the
    /// paths that can: the weight and bias gradients of the same conv computing it, and zeros for dInput. The
    /// tile path plain and on stride phases, the GEMM path on one image and several a GEMM; a path that needs
    /// input channels in fours computes it anyway.
    @Test(arguments: [(ConvCase("tiles", 3, 8, k: 3, s: 1, p: 1, g: 1), 32, ConvPath.tiles),
                      (ConvCase("tiles_strided", 3, 8, k: 3, s: 2, p: 1, g: 1), 32, .tiles),
                      (ConvCase("gemm_batched", 1, 8, k: 3, s: 1, p: 1, g: 1), 6, .gemm),
                      (ConvCase("gemm_strided", 3, 8, k: 5, s: 2, p: 2, g: 1), 9, .gemm),
                      (ConvCase("direct", 4, 8, k: 3, s: 1, p: 1, g: 1), 12, .direct)])
    func stemLeavesInputGradientOut(_ c: ConvCase, _ side: Int, _ path: ConvPath) throws {
        let n = 5, shape = [n, c.inChannels, side, side]
        var random = RandomSource(seed: 4)
        let x = Tensor(shape: shape, values: randomValues(shape.reduce(1, *), &random))
        let full = c.makeLayer(), stem = c.makeLayer()
        stem.computesInputGradient = false
        let y = try full.forward(x, training: true)
        _ = try stem.forward(x, training: true)
        let p = (side + 2 * c.padding - c.kernel) / c.stride + 1
        #expect(ConvPath(ConvShape(n: n, c: c.inChannels, h: side, w: side, k: c.outChannels, p: p, q: p,
                                   r: c.kernel, s: c.kernel, strideH: c.stride, strideW: c.stride,
                                   padH: c.padding, padW: c.padding, groups: 1)) == path)
        let dy = Tensor(shape: y.shape, values: randomValues(y.count, &random))
        let dxFull = full.backward(dy).array, dxStem = stem.backward(dy).array
        // Close, not equal: other tests change the thread count meanwhile, and with it the weight gradient's sums.
        expectClose(stem.weight.grad?.array ?? [], full.weight.grad?.array ?? [], "grad_weight")
        expectClose(stem.bias?.grad?.array ?? [], full.bias?.grad?.array ?? [], "grad_bias")
        if path.canLeaveOutInputGradient {
            #expect(dxStem.allSatisfy { $0 == 0 } && dxFull.contains { $0 != 0 })
        } else {
            expectClose(dxStem, dxFull, "grad_input")
        }
    }

    @Test func wrongInputShapeThrowsNamingLayerAndShapes() throws {
        let conv = ConvCase("stage1.conv", 3, 4, k: 3, s: 1, p: 1, g: 1).makeLayer()
        #expect(throws: EngineError.self) { try conv.forward(Tensor(shape: [2, 5, 8, 8]), training: true) }
        do {
            _ = try conv.forward(Tensor(shape: [2, 5, 8, 8]), training: true)
        } catch let error as EngineError {
            let message = error.description
            #expect(message.contains("stage1.conv") && message.contains("[2, 5, 8, 8]") && message.contains("[N, 3, H, W]"),
                    "\(message)")
        }
        // Too small for the kernel, and the wrong rank.
        #expect(throws: EngineError.self) {
            try ConvCase("c", 3, 4, k: 7, s: 1, p: 0, g: 1).makeLayer().forward(Tensor(shape: [1, 3, 5, 5]), training: true)
        }
        #expect(throws: EngineError.self) { try conv.forward(Tensor(shape: [3, 8, 8]), training: true) }
    }

    @Test(arguments: [
        ConvCase("general", 3, 4, k: 3, s: 2, p: 1, g: 1),
        ConvCase("pointwise", 4, 6, k: 1, s: 1, p: 0, g: 2),
        ConvCase("depthwise", 4, 4, k: 3, s: 1, p: 1, g: 4),
    ])
    func buffersDoNotGrowAcrossSteps(_ c: ConvCase) throws {
        // (output capacity, output address, dx capacity, dx address, im2col capacity) per step.
        let seen = try onOwnThread { () throws -> [[Int]] in
            let conv = c.makeLayer()
            var random = RandomSource(seed: 5)
            let x = Tensor(shape: [3, c.inChannels, 9, 9], values: randomValues(3 * c.inChannels * 81, &random))
            var seen: [[Int]] = []
            for _ in 0..<3 {
                let y = try conv.forward(x, training: true)
                let dy = Tensor(shape: y.shape, values: randomValues(y.count, &random))
                let dx = conv.backward(dy)
                seen.append([y.capacity, Int(bitPattern: y.data), dx.capacity, Int(bitPattern: dx.data), conv.columns.capacity])
                GradientPool.forCurrentThread().give(dx)  // as a container does once it has read dx
            }
            return seen
        }
        for s in seen.dropFirst() {
            #expect(s == seen[0])
        }
    }
}
