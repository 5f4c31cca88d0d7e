import Testing

@testable import Engine

/// The fast paths the fixtures' small shapes do not reach (eight-wide SIMD loops, thread splits), checked
/// against the plain kernels they replace.
@Suite struct FastKernelTests {
    /// 2x2/2 max pooling, eight outputs at a time, against the any-window kernel: ties (small integers)
    /// must pick the first in row-major order, NaN must win, and the outputs past a multiple of eight
    /// take the scalar tail.
    /// Stride-2 unfold and fold, eight outputs per 16-float load, against the plain gather and scatter: every
    /// width, padding and tap column; the NaN sentinels either side of the row reach no output and stay as
    /// they were.
    @Test func strideTwoRowUnfoldAndFoldMatchScalarAndStayInTheRow() {
        for w in 8...41 {
            for pad in 0...2 {
                let q = (w + 2 * pad - 3) / 2 + 1
                let sh = ConvShape(n: 1, c: 1, h: 3, w: w, k: 1, p: 1, q: q, r: 3, s: 3, strideH: 2, strideW: 2,
                                   padH: pad, padW: pad, groups: 1)
                for tap in 0..<3 {
                    let guardFloats = 32, rowStart = guardFloats
                    let buffer = UnsafeMutablePointer<Float>.allocate(capacity: w + 2 * guardFloats)
                    defer { buffer.deallocate() }
                    for i in 0..<(w + 2 * guardFloats) { buffer[i] = i < rowStart || i >= rowStart + w ? .nan : Float(i) }
                    let src = buffer + rowStart - pad + tap
                    let qRange = validOutputRange(inCount: w, outCount: q, stride: 2, pad: pad, offset: tap)
                    var out = [Float](repeating: -1, count: q)
                    out.withUnsafeMutableBufferPointer {
                        unfoldRow(src, into: $0.baseAddress!, valid: qRange, rowEnd: w + pad - tap, sh)
                    }
                    let expected = (0..<q).map { qRange.contains($0) ? src[2 * $0] : 0 }
                    #expect(out == expected, "unfold w \(w) pad \(pad) tap \(tap)")

                    let col = (0..<q).map { Float($0) + 0.5 }
                    let before = (0..<(w + 2 * guardFloats)).map { buffer[$0] }
                    col.withUnsafeBufferPointer { foldRow($0.baseAddress!, onto: src, valid: qRange, rowEnd: w + pad - tap, sh) }
                    for i in 0..<(w + 2 * guardFloats) {
                        let x = i - rowStart + pad - tap  // offset from src
                        let added = x >= 0 && x % 2 == 0 && qRange.contains(x / 2) ? col[x / 2] : 0
                        let want = before[i] + added
                        #expect(buffer[i] == want || (buffer[i].isNaN && want.isNaN),
                                "fold w \(w) pad \(pad) tap \(tap) at \(i - rowStart)")
                    }
                }
            }
        }
    }

    /// The direct kernel's row copies, whole vectors with no scalar tail, on every row length up to 25: into
    /// padded planes the floats after the row up to its last vector become zeros and nothing further moves;
    /// onto the next row of a plane the last vector carries on with what follows in the source, and stops at
    /// the end of the part it may write. Sources that end with the row read only the row.
    @Test func rowCopiesEndInWholeVectors() {
        let sentinel: Float = -7
        for count in 1...25 {
            for readable in [count, count + 9] {
                let src = (0..<readable).map { Float($0 + 1) }
                var zeroFilled = [Float](repeating: sentinel, count: 40)
                src.withUnsafeBufferPointer { s in
                    zeroFilled.withUnsafeMutableBufferPointer { copyRowZeroFilled($0.baseAddress!, s.baseAddress!, count: count, readable: readable) }
                }
                let vectorEnd = (count + 7) / 8 * 8
                for i in 0..<40 {
                    let want = i < count ? Float(i + 1) : i < vectorEnd ? 0 : sentinel
                    #expect(zeroFilled[i] == want, "zero-filled count \(count) readable \(readable) at \(i)")
                }
                for writable in [count, count + 3, 40] {
                    var runningOn = [Float](repeating: sentinel, count: 40)
                    src.withUnsafeBufferPointer { s in
                        runningOn.withUnsafeMutableBufferPointer {
                            copyRowRunningOn($0.baseAddress!, s.baseAddress!, count: count, readable: readable, writable: writable)
                        }
                    }
                    for i in 0..<40 {
                        let written = i < count || (i < vectorEnd && i < writable)
                        let want = !written ? sentinel : i < readable ? Float(i + 1) : 0
                        #expect(runningOn[i] == want, "running on count \(count) readable \(readable) writable \(writable) at \(i)")
                    }
                }
            }
        }
    }

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

    /// The depthwise kernels on phase planes against the row-by-row kernels, forward and backward: stride 1
    /// and 2, padded and unpadded (unpadded stride-1 3x3 convs read the input planes in place, here on planes
    /// whose last outputs fall past the last whole vector, or all of them; stride-1 3x3 convs padded by one read
    /// a bordered copy, here also on planes one pixel wide and whose rows wrap inside a vector), square and not, odd and even sizes
    /// (whose last rows and columns a stride may skip), rows wide enough for the eight-wide stride-2 copies,
    /// planes that stack two images to a pass and leave the third alone, with and without bias.
    @Test func depthwisePhasedMatchesRowKernel() {
        for (h, w, k, stride, pad, bias) in [(8, 8, 3, 1, 1, true), (9, 7, 3, 1, 0, false), (6, 11, 5, 1, 2, true),
                                             (5, 5, 3, 1, 1, false), (8, 8, 3, 2, 1, true), (9, 7, 3, 2, 1, false),
                                             (10, 9, 5, 2, 2, true), (8, 6, 2, 2, 0, false), (12, 12, 3, 3, 1, true),
                                             (14, 14, 3, 1, 1, true), (33, 40, 3, 2, 1, false), (18, 18, 3, 1, 0, true),
                                             (6, 6, 3, 1, 0, true), (5, 13, 3, 1, 0, false), (30, 30, 3, 1, 0, true),
                                             (3, 9, 3, 1, 0, true), (7, 7, 3, 1, 1, true), (3, 11, 3, 1, 1, false),
                                             (17, 1, 3, 1, 1, true), (9, 2, 3, 1, 1, false), (28, 28, 3, 1, 1, true),
                                             (7, 7, 3, 2, 1, true), (14, 14, 3, 2, 1, false), (28, 28, 3, 2, 1, true)] {
            expectDepthwiseMatchesRowKernel(h: h, w: w, kernel: k, stride: stride, pad: pad, bias: bias, fast: .phased)
        }
    }

    /// The small-plane depthwise kernel (one matrix per channel) against the row-by-row kernels, on every
    /// plane size it takes: 1x1, 2x2, 4x4 and 2x8 planes, stride 1 and 2, 3x3 and 5x5 filters.
    @Test func depthwiseSmallPlaneMatchesRowKernel() {
        for (h, w, k, stride, pad, bias) in [(1, 1, 3, 1, 1, true), (2, 2, 3, 1, 1, false), (4, 4, 3, 1, 1, true),
                                             (4, 4, 3, 2, 1, false), (2, 2, 3, 2, 1, true), (3, 3, 5, 1, 2, false),
                                             (2, 8, 3, 1, 1, true)] {
            expectDepthwiseMatchesRowKernel(h: h, w: w, kernel: k, stride: stride, pad: pad, bias: bias, fast: .smallPlane)
        }
    }

    private enum DepthwiseKernel { case phased, smallPlane }

    private func expectDepthwiseMatchesRowKernel(h: Int, w: Int, kernel k: Int, stride: Int, pad: Int, bias: Bool,
                                                 fast kernel: DepthwiseKernel) {
        let p = (h + 2 * pad - k) / stride + 1, q = (w + 2 * pad - k) / stride + 1
        let sh = ConvShape(n: 3, c: 5, h: h, w: w, k: 5, p: p, q: q, r: k, s: k, strideH: stride, strideW: stride,
                           padH: pad, padW: pad, groups: 5)
        #expect(ConvPath(sh) == (kernel == .smallPlane ? .depthwiseSmallPlane : .depthwisePhased))
        var random = RandomSource(seed: UInt64(h * 31 + w))
        func filled(_ n: Int) -> Tensor {
            let t = Tensor(shape: [n])
            for i in 0..<n { t[i] = random.uniform(-1, 1) }
            return t
        }
        let x = filled(sh.n * sh.c * h * w), weight = filled(sh.c * k * k), b = filled(sh.c)
        let dy = filled(sh.n * sh.c * p * q)
        let outFast = Tensor(shape: [dy.count]), outPlain = Tensor(shape: [dy.count])
        if kernel == .smallPlane {
            depthwiseSmallPlaneForward(sh, input: x.data, weight: weight.data, bias: bias ? b.data : nil, output: outFast.data)
        } else {
            depthwiseConvForwardPhased(sh, input: x.data, weight: weight.data, bias: bias ? b.data : nil, output: outFast.data)
        }
        depthwiseConvForwardAnyStride(sh, input: x.data, weight: weight.data, bias: bias ? b.data : nil, output: outPlain.data)
        let dxFast = Tensor(shape: [x.count]), dxPlain = Tensor(shape: [x.count])
        let dwFast = filled(weight.count), dwPlain = dwFast.clone()
        let dbFast = filled(sh.c), dbPlain = dbFast.clone()
        if kernel == .smallPlane {
            depthwiseSmallPlaneBackward(sh, input: x.data, weight: weight.data, gradOutput: dy.data, gradInput: dxFast.data,
                                        gradWeight: dwFast.data, gradBias: bias ? dbFast.data : nil)
        } else {
            depthwiseConvBackwardPhased(sh, input: x.data, weight: weight.data, gradOutput: dy.data, gradInput: dxFast.data,
                                        gradWeight: dwFast.data, gradBias: bias ? dbFast.data : nil)
        }
        depthwiseConvBackwardAnyStride(sh, input: x.data, weight: weight.data, gradOutput: dy.data, gradInput: dxPlain.data,
                                       gradWeight: dwPlain.data, gradBias: bias ? dbPlain.data : nil)
        let label = "\(h)x\(w) k\(k) stride \(stride) pad \(pad)"
        for (fast, plain, what) in [(outFast, outPlain, "output"), (dxFast, dxPlain, "dx"), (dwFast, dwPlain, "dw"),
                                    (dbFast, dbPlain, "db")] {
            var worst: Float = 0
            for i in 0..<fast.count { worst = max(worst, abs(fast[i] - plain[i]) / max(1, abs(plain[i]))) }
            #expect(worst < 1e-5, "\(what) of \(label): worst error \(worst)")
        }
    }

    /// A BatchNorm2d followed by a ReLU in one Sequential runs fused (the BN rectifies, the ReLU passes
    /// through); outputs, input gradients and parameter gradients must equal the two layers run apart.
    @Test(arguments: [true, false])
    func fusedBatchNormReLUMatchesSeparateLayers(_ training: Bool) throws {
        let shape = [3, 4, 5, 7]
        var random = RandomSource(seed: 11)
        let x = Tensor(shape: shape, values: randomValues(shape.reduce(1, *), &random))
        let dy = Tensor(shape: shape, values: randomValues(shape.reduce(1, *), &random))
        func makeBN() -> BatchNorm2d {
            let bn = BatchNorm2d(4)
            for c in 0..<4 {
                bn.weight.value[c] = 0.5 + Float(c) * 0.3
                bn.bias.value[c] = Float(c) * 0.2 - 0.3
                bn.runningMean.value[c] = 0.1 * Float(c)
                bn.runningVar.value[c] = 0.8 + 0.1 * Float(c)
            }
            return bn
        }
        let fusedBN = makeBN(), fusedReLU = Activation(.relu)
        let fused = Sequential([("bn", fusedBN), ("relu", fusedReLU)])
        #expect(fusedBN.appliesReLU && fusedReLU.fusedInto === fusedBN)
        let apartBN = makeBN(), apartReLU = Activation(.relu)
        for p in fusedBN.trainableParameters + apartBN.trainableParameters { p.grad?.zero() }
        for _ in 0..<2 {
            let y = try fused.forward(x, training: training).array
            let yApart = try apartReLU.forward(apartBN.forward(x, training: training), training: training).array
            expectClose(y, yApart, "output", rtol: 1e-6, atol: 1e-7)
            let dx = fused.backward(dy).array
            let dxApart = apartBN.backward(apartReLU.backward(dy)).array
            expectClose(dx, dxApart, "grad_input", rtol: 1e-6, atol: 1e-7)
        }
        expectClose(fusedBN.weight.grad?.array ?? [], apartBN.weight.grad?.array ?? [], "grad_weight", rtol: 1e-6, atol: 1e-7)
        expectClose(fusedBN.bias.grad?.array ?? [], apartBN.bias.grad?.array ?? [], "grad_bias", rtol: 1e-6, atol: 1e-7)
        // The fused ReLU given any other tensor still rectifies it itself.
        let elsewhere = try fusedReLU.forward(Tensor(shape: [2], values: [-1, 2]), training: training).array
        #expect(elsewhere == [0, 2])
    }

    /// The tile-by-tile conv (3x3 and strided convs) against the whole-image im2col path, on planes whose
    /// row count leaves a partial last tile, with groups and bias.
    @Test(arguments: [(3, 2, 1, 1), (1, 2, 0, 1), (3, 1, 1, 2), (5, 2, 2, 1)])
    func tiledConvMatchesWholeImagePath(_ kernel: Int, _ stride: Int, _ pad: Int, _ groups: Int) {
        let (n, c, k, h, w) = (3, 4, 6, 19, 37)
        let p = (h + 2 * pad - kernel) / stride + 1, q = (w + 2 * pad - kernel) / stride + 1
        let sh = ConvShape(n: n, c: c, h: h, w: w, k: k, p: p, q: q, r: kernel, s: kernel,
                           strideH: stride, strideW: stride, padH: pad, padW: pad, groups: groups)
        #expect((ConvPath(sh) == .tiles) == (kernel > 1))
        var random = RandomSource(seed: UInt64(kernel * 10 + stride))
        let x = Tensor(shape: [n * c * h * w], values: randomValues(n * c * h * w, &random))
        let weight = Tensor(shape: [k * sh.patch], values: randomValues(k * sh.patch, &random))
        let bias = Tensor(shape: [k], values: randomValues(k, &random))
        let dy = Tensor(shape: [n * k * p * q], values: randomValues(n * k * p * q, &random))
        let tile = Tensor(shape: [convTileScratchFloats(sh)]), gradTile = Tensor(shape: [convTileScratchFloats(sh)])
        let columns = Tensor(shape: [sh.c * sh.r * sh.s * p * q + StridePhases.floats(sh)]), gathered = Tensor(shape: [1])
        let tiled = Tensor(shape: [n * k * p * q]), whole = Tensor(shape: [n * k * p * q])
        convForwardTiles(sh, images: 0..<n, input: x.data, weight: weight.data, bias: bias.data, output: tiled.data,
                         tile: tile.data)
        for i in 0..<n {
            let one = ConvShape(n: 1, c: c, h: h, w: w, k: k, p: p, q: q, r: kernel, s: kernel,
                                strideH: stride, strideW: stride, padH: pad, padW: pad, groups: groups)
            convForwardImages(one, images: 0..<1, input: x.data + i * c * h * w, weight: weight.data, bias: bias.data,
                              output: whole.data + i * k * p * q, columns: columns.data, gathered: gathered.data)
        }
        expectClose(tiled.array, whole.array, "output", rtol: 1e-5, atol: 1e-6)
        let dxTiled = Tensor(shape: [n * c * h * w]), dxWhole = Tensor(shape: [n * c * h * w])
        let dwTiled = Tensor(shape: [k * sh.patch]), dwWhole = Tensor(shape: [k * sh.patch])
        convBackwardTiles(sh, images: 0..<n, input: x.data, weight: weight.data, gradOutput: dy.data,
                          gradInput: dxTiled.data, gradWeight: dwTiled.data, tile: tile.data, gradTile: gradTile.data)
        for i in 0..<n {
            let one = ConvShape(n: 1, c: c, h: h, w: w, k: k, p: p, q: q, r: kernel, s: kernel,
                                strideH: stride, strideW: stride, padH: pad, padW: pad, groups: groups)
            convBackwardImages(one, images: 0..<1, input: x.data + i * c * h * w, weight: weight.data,
                               gradOutput: dy.data + i * k * p * q, gradInput: dxWhole.data + i * c * h * w,
                               gradWeight: dwWhole.data, columns: columns.data, gathered: gathered.data)
        }
        expectClose(dxTiled.array, dxWhole.array, "grad_input", rtol: 1e-5, atol: 1e-6)
        expectClose(dwTiled.array, dwWhole.array, "grad_weight", rtol: 1e-5, atol: 1e-5)
    }

    /// A strided conv's unfold through its stride phases against the plain im2col (the same copies, so
    /// equal), and its adjoint (fold into the phases, then merge) against col2im, over several images' columns,
    /// on odd planes, with strides that skip the image's last rows or columns and with unequal strides.
    @Test(arguments: [(3, 2, 2, 1, 1), (3, 2, 2, 0, 0), (5, 2, 2, 2, 2), (3, 2, 1, 1, 1), (3, 3, 3, 1, 0), (2, 2, 2, 0, 0)])
    func stridePhasesUnfoldAsIm2col(_ kernel: Int, _ strideH: Int, _ strideW: Int, _ padH: Int, _ padW: Int) {
        let (n, c, h, w) = (3, 4, 12, 19)
        let p = (h + 2 * padH - kernel) / strideH + 1, q = (w + 2 * padW - kernel) / strideW + 1
        let sh = ConvShape(n: n, c: c, h: h, w: w, k: 1, p: p, q: q, r: kernel, s: kernel,
                           strideH: strideH, strideW: strideW, padH: padH, padW: padW, groups: 1)
        #expect(StridePhases.apply(sh))
        var random = RandomSource(seed: UInt64(kernel * 100 + strideH * 10 + padH))
        let x = Tensor(shape: [n * c * h * w], values: randomValues(n * c * h * w, &random))
        let width = n * p * q, count = c * kernel * kernel * width
        let plain = Tensor(shape: [count]), phased = Tensor(shape: [count])
        im2col(x.data, images: n, sh, plain.data)
        let phases = Tensor(shape: [StridePhases.floats(sh)])
        for slot in 0..<n {
            StridePhases.split(x.data + slot * c * h * w, sh, into: phases.data)
            StridePhases.unfold(phases.data, sh, slot: slot, images: n, rows: 0..<p, into: phased.data)
        }
        let label = "\(kernel)x\(kernel) stride \(strideH),\(strideW) pad \(padH),\(padW)"
        #expect(phased.array == plain.array, "unfold of \(label)")
        let dCols = Tensor(shape: [count], values: randomValues(count, &random))
        let dxPlain = Tensor(shape: [n * c * h * w]), dxPhased = Tensor(shape: [n * c * h * w], values: randomValues(n * c * h * w, &random))
        col2im(dCols.data, images: n, sh, dxPlain.data)
        for slot in 0..<n {
            phases.zero()
            StridePhases.fold(dCols.data, sh, slot: slot, images: n, rows: 0..<p, into: phases.data)
            StridePhases.merge(phases.data, sh, into: dxPhased.data + slot * c * h * w)
        }
        expectClose(dxPhased.array, dxPlain.array, "fold and merge of \(label)", rtol: 1e-6, atol: 1e-6)
    }

    /// The one-pixel path (1x1 convs on 1x1 planes as one [N, C] x [C, K] GEMM) against the whole-image GEMM
    /// path it replaced, forward with bias and SiLU and backward, on a batch that the threads split unevenly.
    @Test(arguments: [(1, 7, 5), (13, 96, 40), (64, 24, 160)])
    func onePixelConvMatchesWholeImagePath(_ n: Int, _ c: Int, _ k: Int) {
        let sh = ConvShape(n: n, c: c, h: 1, w: 1, k: k, p: 1, q: 1, r: 1, s: 1,
                           strideH: 1, strideW: 1, padH: 0, padW: 0, groups: 1)
        #expect(ConvPath(sh) == .onePixel)
        var random = RandomSource(seed: UInt64(n * 1000 + c))
        let x = Tensor(shape: [n * c], values: randomValues(n * c, &random, -3, 3))
        let weight = Tensor(shape: [k * c], values: randomValues(k * c, &random))
        let bias = Tensor(shape: [k], values: randomValues(k, &random))
        let dy = Tensor(shape: [n * k], values: randomValues(n * k, &random))
        let gemm = ConvScratchSizes(sh, .gemm)
        let columns = Tensor(shape: [max(1, gemm.columns)]), gathered = Tensor(shape: [max(1, gemm.gathered)])
        let partials = Tensor(shape: [max(1, ConvScratchSizes(sh, .onePixel).weightPartials)])
        for activation in [ConvActivation.none, .silu] {
            let fast = Tensor(shape: [n * k]), plain = Tensor(shape: [n * k])
            convForward(sh, input: x.data, weight: weight.data, bias: bias.data, output: fast.data,
                        columns: columns.data, gathered: gathered.data, activation: activation)
            convForwardImages(sh, images: 0..<n, input: x.data, weight: weight.data, bias: bias.data, output: plain.data,
                              columns: columns.data, gathered: gathered.data, activation: activation)
            // Sums of up to 96 products of values up to 3: a few 1e-6 apart where they cancel.
            expectClose(fast.array, plain.array, "output \(activation) \(n)x\(c)->\(k)", rtol: 1e-5, atol: 2e-5)
        }
        let dxFast = Tensor(shape: [n * c]), dxPlain = Tensor(shape: [n * c])
        let dwFast = Tensor(shape: [k * c], values: randomValues(k * c, &random)), dwPlain = dwFast.clone()
        let dbFast = Tensor(shape: [k]), dbPlain = Tensor(shape: [k])
        convBackward(sh, input: x.data, weight: weight.data, gradOutput: dy.data, gradInput: dxFast.data,
                     gradWeight: dwFast.data, gradBias: dbFast.data, columns: columns.data, gathered: gathered.data,
                     weightPartials: partials.data)
        convBackwardImages(sh, images: 0..<n, input: x.data, weight: weight.data, gradOutput: dy.data,
                           gradInput: dxPlain.data, gradWeight: dwPlain.data, columns: columns.data, gathered: gathered.data)
        for i in 0..<n { for j in 0..<k { dbPlain[j] += dy[i * k + j] } }
        expectClose(dxFast.array, dxPlain.array, "grad_input", rtol: 1e-5, atol: 1e-6)
        expectClose(dwFast.array, dwPlain.array, "grad_weight", rtol: 1e-5, atol: 1e-5)
        expectClose(dbFast.array, dbPlain.array, "grad_bias", rtol: 1e-5, atol: 1e-6)
    }

    /// The direct conv (stride-1 "same" convs of 4-64 channels) against the whole-image im2col path, forward
    /// and backward, over plane sizes whose padded pitch leaves partial 24-pixel and 8-pixel blocks, with and
    /// without bias, in row mode (Q a multiple of 8, block counts not a multiple of 3) and on the padded pitch,
    /// through convForward/convBackward's thread split.
    @Test(arguments: [(3, 8, 12, 9, 13, true), (3, 16, 16, 8, 8, false), (5, 4, 8, 7, 11, true), (3, 64, 32, 5, 4, false),
                      (3, 8, 4, 5, 8, true), (3, 12, 8, 6, 16, false)])
    func directConvMatchesWholeImagePath(_ kernel: Int, _ c: Int, _ k: Int, _ h: Int, _ w: Int, _ withBias: Bool) {
        let pad = (kernel - 1) / 2
        let sh = ConvShape(n: 5, c: c, h: h, w: w, k: k, p: h, q: w, r: kernel, s: kernel,
                           strideH: 1, strideW: 1, padH: pad, padW: pad, groups: 1)
        #expect(ConvPath(sh) == .direct)
        expectSameAsWholeImagePath(sh, withBias: withBias, atol: 1e-5)
    }

    /// The direct path's backward with a stride-1 dInput on F(4x4, 3x3) (`ConvPath.runsGradInputOnWinograd4x4`:
    /// the turned weights over dOutput, 32 to 64 output channels of that conv, batches that fill the image lanes)
    /// against the same reference, in row mode (16 wide) and on the pitch, the F(4x4) tiles whole and cut.
    @Test(arguments: [(32, 32, 14, 14, 16), (16, 32, 9, 9, 8), (32, 64, 8, 16, 16)])
    func directGradInputOnWinogradMatchesWholeImagePath(_ c: Int, _ k: Int, _ h: Int, _ w: Int, _ n: Int) {
        let sh = ConvShape(n: n, c: c, h: h, w: w, k: k, p: h, q: w, r: 3, s: 3,
                           strideH: 1, strideW: 1, padH: 1, padW: 1, groups: 1)
        #expect(ConvPath(sh) == .direct && ConvPath.runsGradInputOnWinograd4x4(sh))
        // F(4x4, 3x3)'s transforms: ulps of the sums' scale (up to 576 products, about 10; one of 64 K values
        // 2.2e-4 off in a 64-channel case).
        expectSameAsWholeImagePath(sh, withBias: true, atol: 4e-4)
    }

    /// The direct conv of stride-2 3x3 convs (padding 1, on stride phases) against the same reference: even and
    /// odd planes (an odd one's phases differ in size), row mode (Q a multiple of 8) and the phase pitch, one
    /// image or several per weight-gradient sweep, down to a 1x1 output; rows split sixteen pixels at a time
    /// (8 to 32 wide, whose last sixteen run past the row) and rows under eight pixels, split phase by phase. Each batch is two sweeps and one
    /// image, so that the last sweep leaves slots that held the images before.
    @Test(arguments: [(16, 32, 28, 28, true), (32, 64, 14, 14, false), (16, 32, 13, 11, false), (8, 4, 7, 7, true),
                      (4, 8, 9, 16, false), (32, 64, 5, 3, true), (64, 64, 32, 32, false), (4, 4, 1, 2, true),
                      (8, 8, 8, 8, true), (4, 12, 10, 9, false), (12, 8, 3, 10, true)])
    func directStridedConvMatchesWholeImagePath(_ c: Int, _ k: Int, _ h: Int, _ w: Int, _ withBias: Bool) {
        func shape(_ n: Int) -> ConvShape {
            ConvShape(n: n, c: c, h: h, w: w, k: k, p: (h - 1) / 2 + 1, q: (w - 1) / 2 + 1, r: 3, s: 3,
                      strideH: 2, strideW: 2, padH: 1, padW: 1, groups: 1)
        }
        let sh = shape(2 * DirectLayout(shape(64)).images + 1)
        #expect(ConvPath(sh) == .direct)
        #expect(ConvPath(sh, forwardOnly: true) == .direct)
        // Sums of up to 576 products (about 10 in size), tap by tap rather than channel by channel as im2col
        // orders them: a few ulps of that scale.
        expectSameAsWholeImagePath(sh, withBias: withBias, atol: 3e-5)
    }

    /// The Winograd path (wide 3x3 convs) against the same reference: even and odd planes
    /// (odd ones cut the last tile row and column), down to 1x1, with and without bias; whole groups of eight
    /// images in the vector lanes (16) and whole groups and a short one (7 images in the last: 15, 6: 14).
    @Test(arguments: [(64, 64, 8, 8, true, 15), (64, 96, 5, 7, false, 14), (128, 64, 4, 4, true, 16), (64, 64, 1, 1, false, 15),
                      (48, 192, 7, 6, false, 14), (96, 64, 6, 3, true, 15), (64, 64, 7, 7, false, 16)])
    func winogradMatchesWholeImagePath(_ c: Int, _ k: Int, _ h: Int, _ w: Int, _ withBias: Bool, _ n: Int) {
        let sh = ConvShape(n: n, c: c, h: h, w: w, k: k, p: h, q: w, r: 3, s: 3,
                           strideH: 1, strideW: 1, padH: 1, padW: 1, groups: 1)
        #expect(ConvPath(sh) == .winograd)
        // Fewer images than a vector's lanes take another path.
        var single = sh
        single.n = 1
        #expect(!ConvPath.fillsImageLanes(single) && ConvPath(single) != .winograd)
        // Its transforms add terms of both signs before the GEMM: a few float ulps of the outputs' scale
        // (sums of 600-1200 products, about 10) rather than of each output.
        expectSameAsWholeImagePath(sh, withBias: withBias, atol: 1e-4)
    }

    /// Winograd F(4x4, 3x3), the inference path of 3x3 "same" convs of 32 to 64 channels, against the same
    /// reference: batches that fill whole groups of eight images and batches that leave lanes empty, planes whose
    /// last tile row and column are cut (7x7, 5x9, 2x3) or whole (28x28, 4x4), 1x1, and each output pass. Every
    /// work item again on one thread must give the same bits: with fewer groups than threads (one group of up
    /// to eight images) a group's filter parts follow one another there and reuse its transformed input.
    @Test(arguments: [(32, 32, 28, 28, 9), (32, 32, 14, 14, 8), (64, 64, 7, 7, 17), (32, 12, 5, 9, 3), (48, 64, 1, 1, 1),
                      (64, 8, 4, 4, 2), (32, 16, 2, 3, 11), (32, 32, 14, 14, 5)])
    func winograd4x4MatchesWholeImagePath(_ c: Int, _ k: Int, _ h: Int, _ w: Int, _ n: Int) {
        let sh = ConvShape(n: n, c: c, h: h, w: w, k: k, p: h, q: w, r: 3, s: 3,
                           strideH: 1, strideW: 1, padH: 1, padW: 1, groups: 1)
        // Batches that leave more lanes empty than a fifth of their images take another path; the kernel still
        // runs them (a batch's last group may be short).
        #expect((ConvPath(sh, forwardOnly: true) == .winograd4x4) == ConvPath.fillsImageLanes(sh))
        #expect(ConvPath(sh) != .winograd4x4)
        var random = RandomSource(seed: UInt64(c * 100 + h))
        let x = Tensor(shape: [n * c * h * w], values: randomValues(n * c * h * w, &random))
        let weight = Tensor(shape: [k * sh.patch], values: randomValues(k * sh.patch, &random))
        let bias = Tensor(shape: [k], values: randomValues(k, &random))
        let sizes = ConvScratchSizes(sh, .winograd4x4)
        let columns = Tensor(shape: [sizes.columns]), gathered = Tensor(shape: [sizes.gathered])
        for activation in [ConvActivation.none, .relu, .silu] {
            let fast = Tensor(shape: [n * k * h * w], values: [Float](repeating: .nan, count: n * k * h * w))
            convForward(sh, input: x.data, weight: weight.data, bias: bias.data, output: fast.data,
                        columns: columns.data, gathered: gathered.data, activation: activation, path: .winograd4x4)
            let whole = wholeImageForward(sh, x: x, weight: weight, bias: bias, activation: activation)
            // The transforms add terms of both signs with coefficients up to 8 before the products: ulps of the
            // outputs' scale (sums of 72-576 products, about 10).
            expectClose(fast.array, whole.array, "\(activation) \(c)->\(k) on \(h)x\(w), batch \(n)", rtol: 1e-5, atol: 2e-4)

            let serial = Tensor(shape: [n * k * h * w], values: [Float](repeating: .nan, count: n * k * h * w))
            let u = columns.data + sizes.sharedColumnsStart
            transformWinograd4x4Weights(weight.data, sh, into: u)
            convForwardWinograd4x4(sh, items: 0..<Winograd4x4Layout(sh).items, input: x.data, transformedWeights: u,
                                   bias: bias.data, output: serial.data, columns: columns.data, gathered: gathered.data,
                                   activation: activation)
            let differing = zip(serial.array, fast.array).filter { $0 != $1 }.count
            #expect(differing == 0, "one thread, \(activation) \(c)->\(k) on \(h)x\(w), batch \(n): \(differing) values differ")
        }
    }

    /// Each conv path's fused output pass (bias, then ReLU, ReLU6 or SiLU, as the value is written) against
    /// the same path without it followed by the activation on its own: the same float operations, so equal
    /// for ReLU and ReLU6; SiLU's eight-lane and scalar forms (`silu8`, `sigmoid`) may part by a rounding.
    /// The pointwise convs on 1x1 and 2x2 planes batch images into one GEMM and scatter the result; unpadded
    /// 3x3 depthwise convs apply it as each vector is stored, the input's last plane ending in single outputs.
    @Test(arguments: [(64, 64, 8, 7, 3, 1, 1, 1), (16, 16, 9, 13, 3, 1, 1, 1), (16, 16, 8, 16, 3, 1, 1, 1),
                      (3, 16, 28, 28, 3, 1, 1, 1), (16, 32, 28, 28, 3, 2, 1, 1), (32, 48, 7, 7, 1, 1, 0, 1),
                      (32, 48, 16, 16, 1, 1, 0, 1), (24, 24, 14, 14, 3, 1, 1, 24), (24, 24, 4, 4, 3, 2, 1, 24),
                      (64, 96, 1, 1, 1, 1, 0, 1), (40, 24, 2, 2, 1, 1, 0, 1), (24, 24, 10, 9, 3, 1, 0, 24)])
    func fusedActivationMatchesSeparatePass(_ c: Int, _ k: Int, _ h: Int, _ w: Int, _ kernel: Int, _ stride: Int,
                                            _ pad: Int, _ groups: Int) {
        let n = 5
        let p = (h + 2 * pad - kernel) / stride + 1, q = (w + 2 * pad - kernel) / stride + 1
        let sh = ConvShape(n: n, c: c, h: h, w: w, k: k, p: p, q: q, r: kernel, s: kernel,
                           strideH: stride, strideW: stride, padH: pad, padW: pad, groups: groups)
        var random = RandomSource(seed: UInt64(c * 1000 + k * 10 + h))
        // Inputs up to 8 so that ReLU6 clips at both ends.
        let x = Tensor(shape: [n * c * h * w], values: randomValues(n * c * h * w, &random, -8, 8))
        let weight = Tensor(shape: [k * sh.patch], values: randomValues(k * sh.patch, &random))
        let bias = Tensor(shape: [k], values: randomValues(k, &random))
        let sizes = ConvScratchSizes(sh)
        let columns = Tensor(shape: [max(1, sizes.columns)]), gathered = Tensor(shape: [max(1, sizes.gathered)])
        for withBias in [true, false] {
            let plain = Tensor(shape: [n * k * p * q])
            convForward(sh, input: x.data, weight: weight.data, bias: withBias ? bias.data : nil, output: plain.data,
                        columns: columns.data, gathered: gathered.data)
            for activation in [ConvActivation.relu, .relu6, .silu] {
                let fused = Tensor(shape: [n * k * p * q])
                convForward(sh, input: x.data, weight: weight.data, bias: withBias ? bias.data : nil, output: fused.data,
                            columns: columns.data, gathered: gathered.data, activation: activation)
                let expected = plain.array.map(activation.apply)
                let label = "\(ConvPath(sh)) \(c)->\(k) \(h)x\(w) \(activation) bias \(withBias)"
                if activation == .silu {
                    expectClose(fused.array, expected, label, rtol: 1e-6, atol: 1e-6)
                } else {
                    #expect(fused.array == expected, "\(label)")
                }
            }
        }
    }

    /// A residual block's sum in a conv's output pass (`convForward`'s `residual`) against the conv without it and
    /// the sum and activation after it, as a block's separate pass computes them: the same float operations, so
    /// equal but for SiLU's eight-lane form. The inference paths: the direct kernel on the pitch and in row mode,
    /// F(4x4, 3x3) with whole and short groups of images, and paths that sum in a pass of their own (F(2x2, 3x3),
    /// the pointwise GEMM).
    @Test(arguments: [(16, 16, 28, 28, 3, 9), (16, 16, 8, 16, 3, 5), (32, 32, 14, 14, 3, 8), (64, 64, 7, 7, 3, 15),
                      (128, 64, 6, 6, 3, 16), (32, 48, 7, 7, 1, 5)])
    func residualSumMatchesSeparatePass(_ c: Int, _ k: Int, _ h: Int, _ w: Int, _ kernel: Int, _ n: Int) {
        let pad = (kernel - 1) / 2
        let sh = ConvShape(n: n, c: c, h: h, w: w, k: k, p: h, q: w, r: kernel, s: kernel,
                           strideH: 1, strideW: 1, padH: pad, padW: pad, groups: 1)
        let path = ConvPath(sh, forwardOnly: true)
        #expect(path.addsResidual == (kernel == 3 && c <= 64), "\(path)")
        var random = RandomSource(seed: UInt64(c * 1000 + k * 10 + h))
        let x = Tensor(shape: [n * c * h * w], values: randomValues(n * c * h * w, &random, -2, 2))
        let weight = Tensor(shape: [k * sh.patch], values: randomValues(k * sh.patch, &random))
        let bias = Tensor(shape: [k], values: randomValues(k, &random))
        let residual = Tensor(shape: [n * k * h * w], values: randomValues(n * k * h * w, &random, -4, 4))
        let sizes = ConvScratchSizes(sh, path)
        let columns = Tensor(shape: [max(1, sizes.columns)]), gathered = Tensor(shape: [max(1, sizes.gathered)])
        let plain = Tensor(shape: [n * k * h * w])
        convForward(sh, input: x.data, weight: weight.data, bias: bias.data, output: plain.data,
                    columns: columns.data, gathered: gathered.data, path: path)
        for activation in [ConvActivation.none, .relu, .relu6, .silu] {
            let fused = Tensor(shape: [n * k * h * w], values: [Float](repeating: .nan, count: n * k * h * w))
            convForward(sh, input: x.data, weight: weight.data, bias: bias.data, output: fused.data, columns: columns.data,
                        gathered: gathered.data, activation: activation, residual: residual.data, path: path)
            let expected = zip(plain.array, residual.array).map { activation.apply($0 + $1) }
            let label = "\(path) \(c)->\(k) \(h)x\(w) batch \(n) \(activation)"
            if activation == .silu {
                expectClose(fused.array, expected, label, rtol: 1e-6, atol: 1e-6)
            } else {
                #expect(fused.array == expected, "\(label)")
            }
        }
    }

    /// `Sequential.infer` (conv with its BatchNorm folded into the weights and bias, activation in the output
    /// pass) against `forward(training: false)` (conv, BN with running statistics, activation apart), on every
    /// conv path; the folded weights follow a change of the running statistics (nothing is cached).
    @Test(arguments: [(64, 64, 7, 7, 3, 1, 1, 1), (16, 16, 14, 14, 3, 1, 1, 1), (1, 16, 28, 28, 3, 1, 1, 1),
                      (32, 64, 14, 14, 3, 2, 1, 1), (32, 48, 7, 7, 1, 1, 0, 1), (24, 24, 14, 14, 3, 1, 1, 24),
                      (24, 24, 4, 4, 3, 2, 1, 24)])
    func foldedConvBatchNormMatchesEvalForward(_ c: Int, _ k: Int, _ h: Int, _ w: Int, _ kernel: Int, _ stride: Int,
                                               _ pad: Int, _ groups: Int) throws {
        var random = RandomSource(seed: UInt64(c * 100 + k + h))
        let x = Tensor(shape: [6, c, h, w], values: randomValues(6 * c * h * w, &random, -2, 2))
        for activation in [nil, Activation.Kind.relu, .relu6, .silu, .sigmoid] {
            for withBias in [true, false] {
                let conv = Conv2d(c, k, kernel: kernel, stride: stride, padding: pad, groups: groups, bias: withBias,
                                  random: &random)
                let bn = BatchNorm2d(k)
                func randomizeStatistics() {
                    for i in 0..<k {
                        bn.weight.value[i] = random.uniform(0.2, 2)
                        bn.bias.value[i] = random.uniform(-1, 1)
                        bn.runningMean.value[i] = random.uniform(-0.5, 0.5)
                        bn.runningVar.value[i] = random.uniform(0.05, 3)
                    }
                }
                randomizeStatistics()
                var layers: [(String, any Layer)] = [("conv", conv), ("bn", bn)]
                if let activation { layers.append(("act", Activation(activation))) }
                let sequential = Sequential(layers)
                let label = "\(c)->\(k) \(h)x\(w) k\(kernel) s\(stride) g\(groups) \(activation.map { "\($0)" } ?? "none") bias \(withBias)"
                for round in 0..<2 {
                    let reference = try sequential.forward(x, training: false).array
                    let folded = try sequential.infer(x).array
                    // Winograd F(4x4, 3x3) (the 64- and 32-channel 3x3 convs) adds a few ulps of the outputs'
                    // scale (up to about 10 here) where the other paths round each output on its own.
                    expectClose(folded, reference, "round \(round) of \(label)", rtol: 1e-4, atol: 5e-5)
                    randomizeStatistics()
                }
            }
        }
    }

    /// A ResNet block's stride-2 conv1 and downsample run as one (stacked filters, `Residual.infer`) against each
    /// conv's own folded inference, with and without bias, ReLU on the first only: 56 stacked filters on the
    /// direct path (one split into stride phases), 72 on the GEMM path (one unfold); and which pairs are
    /// refused (other geometry, the stride-1 convs that take other paths).
    @Test func pairedConvsInferAsEachOnItsOwn() throws {
        var random = RandomSource(seed: 17)
        let x = Tensor(shape: [5, 16, 13, 11], values: randomValues(5 * 16 * 13 * 11, &random, -2, 2))
        for (withBias, sideChannels) in [(true, 24), (false, 24), (true, 40)] {
            let first = Conv2d(16, 32, kernel: 3, stride: 2, padding: 1, bias: withBias, random: &random)
            let side = Conv2d(16, sideChannels, kernel: 3, stride: 2, padding: 1, bias: withBias, random: &random)
            let bn1 = BatchNorm2d(32), bn2 = BatchNorm2d(sideChannels)
            for (bn, count) in [(bn1, 32), (bn2, sideChannels)] {
                for i in 0..<count {
                    bn.weight.value[i] = random.uniform(0.2, 2)
                    bn.bias.value[i] = random.uniform(-1, 1)
                    bn.runningMean.value[i] = random.uniform(-0.5, 0.5)
                    bn.runningVar.value[i] = random.uniform(0.05, 3)
                }
            }
            #expect(first.pairs(with: side, input: x.shape))
            let (y1, y2) = try first.infer(x, batchNorm: bn1, activation: .relu, pairedWith: side, batchNorm: bn2,
                                           activation: nil)
            let (paired1, paired2) = (y1.array, y2.array)
            expectClose(paired1, try first.infer(x, batchNorm: bn1, activation: .relu).array, "conv1, bias \(withBias)",
                        rtol: 1e-5, atol: 1e-5)
            expectClose(paired2, try side.infer(x, batchNorm: bn2, activation: nil).array, "downsample, bias \(withBias)",
                        rtol: 1e-5, atol: 1e-5)
        }
        let stride2 = Conv2d(16, 32, kernel: 3, stride: 2, padding: 1, random: &random)
        #expect(!stride2.pairs(with: Conv2d(16, 32, kernel: 1, stride: 2, random: &random), input: x.shape))
        #expect(!stride2.pairs(with: Conv2d(8, 32, kernel: 3, stride: 2, padding: 1, random: &random), input: x.shape))
        #expect(!stride2.pairs(with: stride2, input: x.shape))
        let sameConv = Conv2d(16, 16, kernel: 3, padding: 1, random: &random)
        #expect(!sameConv.pairs(with: Conv2d(16, 16, kernel: 3, padding: 1, random: &random), input: x.shape))
    }

    /// Inference's direct path for input channel counts backward cannot take (the 1- and 3-channel stems,
    /// stride 1 and 2), against the whole-image GEMM, through convForward's thread split.
    @Test(arguments: [(1, 16, 28, 28, 1), (3, 16, 32, 32, 1), (3, 24, 9, 13, 1), (5, 8, 7, 7, 1), (3, 32, 32, 32, 2),
                      (3, 24, 13, 9, 2), (1, 16, 9, 16, 2)])
    func inferenceDirectPathTakesAnyInputChannels(_ c: Int, _ k: Int, _ h: Int, _ w: Int, _ stride: Int) {
        let n = 5, p = (h - 1) / stride + 1, q = (w - 1) / stride + 1
        let sh = ConvShape(n: n, c: c, h: h, w: w, k: k, p: p, q: q, r: 3, s: 3,
                           strideH: stride, strideW: stride, padH: 1, padW: 1, groups: 1)
        #expect(ConvPath(sh) != .direct)
        #expect(ConvPath(sh, forwardOnly: true) == .direct)
        var random = RandomSource(seed: UInt64(c * 100 + k + h))
        let x = Tensor(shape: [n * c * h * w], values: randomValues(n * c * h * w, &random))
        let weight = Tensor(shape: [k * sh.patch], values: randomValues(k * sh.patch, &random))
        let bias = Tensor(shape: [k], values: randomValues(k, &random))
        let sizes = ConvScratchSizes(sh, .direct)
        let columns = Tensor(shape: [sizes.columns]), gathered = Tensor(shape: [max(1, sizes.gathered)])
        let direct = Tensor(shape: [n * k * p * q])
        convForward(sh, input: x.data, weight: weight.data, bias: bias.data, output: direct.data,
                    columns: columns.data, gathered: gathered.data, activation: .relu, path: .direct)
        let whole = wholeImageForward(sh, x: x, weight: weight, bias: bias, activation: .relu)
        // Sums of up to 576 products (about 10 in size), tap by tap rather than as im2col orders them.
        expectClose(direct.array, whole.array, "\(c)->\(k) on \(h)x\(w), stride \(stride)", rtol: 1e-5, atol: 3e-5)
    }

    /// Winograd's transformed batch is four times the input and output: VGG11's widest conv at 32x32 fits
    /// the limit even at batch 128; a wide conv on 112x112 images would need gigabytes and goes elsewhere.
    @Test func winogradKeepsItsScratchBounded() {
        func shape(n: Int, c: Int, k: Int, side: Int) -> ConvShape {
            ConvShape(n: n, c: c, h: side, w: side, k: k, p: side, q: side, r: 3, s: 3,
                      strideH: 1, strideW: 1, padH: 1, padW: 1, groups: 1)
        }
        #expect(ConvPath(shape(n: 128, c: 64, k: 128, side: 16)) == .winograd)
        #expect(ConvPath(shape(n: 64, c: 48, k: 192, side: 112)) != .winograd)
        let big = shape(n: 64, c: 48, k: 192, side: 112)
        #expect(ConvScratchSizes(big).columns + ConvScratchSizes(big).gathered <= winogradScratchLimit)
    }

    /// convForward/convBackward on a whole batch (whatever path `sh` takes, through its thread split) against
    /// one image at a time through the plain im2col GEMMs.
    /// The reference forward: `convForwardImages`, im2col and one GEMM, an image at a time.
    private func wholeImageForward(_ sh: ConvShape, x: Tensor, weight: Tensor, bias: Tensor, activation: ConvActivation) -> Tensor {
        var one = sh
        one.n = 1
        let columns = Tensor(shape: [one.patch * sh.outPlane + StridePhases.floats(one)]), gathered = Tensor(shape: [1])
        let whole = Tensor(shape: [sh.n * sh.k * sh.outPlane])
        for i in 0..<sh.n {
            convForwardImages(one, images: 0..<1, input: x.data + i * sh.c * sh.inPlane, weight: weight.data, bias: bias.data,
                              output: whole.data + i * sh.k * sh.outPlane, columns: columns.data, gathered: gathered.data,
                              activation: activation)
        }
        return whole
    }

    private func expectSameAsWholeImagePath(_ sh: ConvShape, withBias: Bool, atol: Float) {
        let n = sh.n, c = sh.c, k = sh.k, h = sh.h, w = sh.w, p = sh.p, q = sh.q
        var random = RandomSource(seed: UInt64(c * 100 + h))
        let x = Tensor(shape: [n * c * h * w], values: randomValues(n * c * h * w, &random))
        let weight = Tensor(shape: [k * sh.patch], values: randomValues(k * sh.patch, &random))
        let bias = Tensor(shape: [k], values: randomValues(k, &random))
        let dy = Tensor(shape: [n * k * p * q], values: randomValues(n * k * p * q, &random))
        let sizes = ConvScratchSizes(sh)
        let columns = Tensor(shape: [sizes.columns]), gathered = Tensor(shape: [max(1, sizes.gathered)])
        let partials = Tensor(shape: [max(1, sizes.weightPartials)])
        let direct = Tensor(shape: [n * k * p * q])
        convForward(sh, input: x.data, weight: weight.data, bias: withBias ? bias.data : nil, output: direct.data,
                    columns: columns.data, gathered: gathered.data)
        let dxDirect = Tensor(shape: [n * c * h * w])
        let dwDirect = Tensor(shape: [k * sh.patch], values: randomValues(k * sh.patch, &random)), dwWhole = dwDirect.clone()
        convBackward(sh, input: x.data, weight: weight.data, gradOutput: dy.data, gradInput: dxDirect.data,
                     gradWeight: dwDirect.data, gradBias: nil, columns: columns.data, gathered: gathered.data,
                     weightPartials: partials.data)

        var one = sh
        one.n = 1
        let wholeColumns = Tensor(shape: [one.patch * p * q + StridePhases.floats(one)]), wholeGathered = Tensor(shape: [1])
        let whole = Tensor(shape: [n * k * p * q]), dxWhole = Tensor(shape: [n * c * h * w])
        for i in 0..<n {
            convForwardImages(one, images: 0..<1, input: x.data + i * c * h * w, weight: weight.data,
                              bias: withBias ? bias.data : nil, output: whole.data + i * k * p * q,
                              columns: wholeColumns.data, gathered: wholeGathered.data)
            convBackwardImages(one, images: 0..<1, input: x.data + i * c * h * w, weight: weight.data,
                               gradOutput: dy.data + i * k * p * q, gradInput: dxWhole.data + i * c * h * w,
                               gradWeight: dwWhole.data, columns: wholeColumns.data, gathered: wholeGathered.data)
        }
        let label = "\(sh.r)x\(sh.s)/\(sh.strideH) \(c)->\(k) on \(h)x\(w), batch \(n)"
        expectClose(direct.array, whole.array, "output of \(label)", rtol: 1e-5, atol: atol)
        expectClose(dxDirect.array, dxWhole.array, "grad_input of \(label)", rtol: 1e-5, atol: atol)
        expectClose(dwDirect.array, dwWhole.array, "grad_weight of \(label)", rtol: 1e-4, atol: 10 * atol)
    }
}
