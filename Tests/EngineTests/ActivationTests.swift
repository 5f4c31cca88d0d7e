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

    @Test func sigmoidAndSiLUStayFiniteForLargeInputs() throws {
        let x = Tensor(shape: [4], values: [-1000, -90, 90, 1000])
        let sig = try Activation(.sigmoid).forward(x, training: false).array
        #expect(sig.allSatisfy { $0 >= 0 && $0 <= 1 } && sig[0] == 0 && sig[3] == 1)
        let silu = try Activation(.silu).forward(x, training: false).array
        #expect(silu.allSatisfy(\.isFinite) && silu[3] == 1000 && silu[0] == 0)
    }
}
