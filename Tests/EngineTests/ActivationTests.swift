import Testing
@testable import Engine

@Suite struct ActivationTests {
    @Test(arguments: [Activation.Kind.relu, .silu, .sigmoid])
    func matchesTorch(_ kind: Activation.Kind) throws {
        let fx = try Fixture("misc_activation")
        let name = kind.rawValue.lowercased()
        let layer = Activation(kind)
        let y = try layer.forward(try fx.tensor("\(name).x"), training: true)
        expectClose(y, try fx.values("\(name).y"), "\(name) y")
        expectClose(layer.backward(try fx.tensor("\(name).dy")), try fx.values("\(name).dx"), "\(name) dx")
    }

    @Test(arguments: [Activation.Kind.relu, .relu6, .silu, .sigmoid])
    func gradientsMatchFiniteDifferences(_ kind: Activation.Kind) throws {
        // ReLU6's inputs reach past 6, so its clipped top is checked too.
        let x = seededTensor([2, 3, 4, 4], seed: 5, scale: kind == .relu6 ? 8 : 4)
        // Keep ReLU's and ReLU6's inputs a step away from their kinks (0 and 6), where the difference
        // quotient is not the derivative.
        for i in 0..<x.count where abs(x[i]) < 0.1 { x[i] = x[i] < 0 ? -0.5 : 0.5 }
        for i in 0..<x.count where abs(x[i] - 6) < 0.1 { x[i] = x[i] < 6 ? 5.5 : 6.5 }
        try expectGradientsMatchFiniteDifferences(Activation(kind), input: x)
    }

    /// ReLU6 clips at both ends and passes the gradient only strictly between them, as F.relu6 does.
    @Test func relu6ClipsAtZeroAndSix() throws {
        let x = Tensor(shape: [6], values: [-3, 0, 2.5, 6, 7, 100])
        let layer = Activation(.relu6)
        #expect(try layer.forward(x, training: true).array == [0, 0, 2.5, 6, 6, 6])
        #expect(layer.backward(Tensor(shape: [6], values: [1, 1, 1, 1, 1, 1])).array == [0, 0, 1, 0, 0, 0])
    }

    /// Twice over: the first four values go through the eight-lane kernel, the last four through its scalar tail.
    @Test func sigmoidAndSiLUStayFiniteForLargeInputs() throws {
        let ends: [Float] = [-1000, -90, 90, 1000]
        let x = Tensor(shape: [12], values: ends + [0, 0, 0, 0] + ends)
        for offset in [0, 8] {
            let sig = try Activation(.sigmoid).forward(x, training: false).array[offset..<offset + 4]
            #expect(sig.allSatisfy { $0 >= 0 && $0 <= 1 } && sig.first == 0 && sig.last == 1)
            let silu = try Activation(.silu).forward(x, training: false).array[offset..<offset + 4]
            #expect(silu.allSatisfy(\.isFinite) && silu.last == 1000 && silu.first == 0)
        }
    }

    /// The eight-lane sigmoid and SiLU (their own exp) against the scalar ones (libm's exp) from -100 to 100:
    /// within two float roundings, relative to the larger of |y| and a floor (1e-30, times |x| for SiLU) that
    /// covers the values below -87, where e^x turns subnormal and the eight-lane exp gives 0.
    @Test func eightLaneSigmoidMatchesTheScalarOne() {
        let count = 20_001
        var worstSigmoid: Float = 0, worstSiLU: Float = 0
        var x = [Float](repeating: 0, count: 8)
        for start in stride(from: 0, to: count, by: 8) {
            for lane in 0..<8 { x[lane] = -100 + 200 * Float(min(start + lane, count - 1)) / Float(count - 1) }
            let v = SIMD8<Float>(x)
            let s8 = sigmoid8(v), silu = silu8(v)
            for lane in 0..<8 {
                let s = sigmoid(x[lane])
                worstSigmoid = max(worstSigmoid, abs(s8[lane] - s) / max(abs(s), 1e-30))
                let siluScalar = x[lane] * s
                worstSiLU = max(worstSiLU, abs(silu[lane] - siluScalar) / max(abs(siluScalar), 1e-30 * abs(x[lane])))
            }
        }
        #expect(worstSigmoid < 3e-7, "sigmoid8 is \(worstSigmoid) from sigmoid")
        #expect(worstSiLU < 3e-7, "silu8 is \(worstSiLU) from x * sigmoid(x)")
    }
}
