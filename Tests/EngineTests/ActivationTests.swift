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

    @Test(arguments: [Activation.Kind.relu, .silu, .sigmoid])
    func gradientsMatchFiniteDifferences(_ kind: Activation.Kind) throws {
        let x = seededTensor([2, 3, 4, 4], seed: 5, scale: 4)
        // Keep ReLU's inputs a step away from its kink, where the difference quotient is not the derivative.
        for i in 0..<x.count where abs(x[i]) < 0.1 { x[i] = x[i] < 0 ? -0.5 : 0.5 }
        try expectGradientsMatchFiniteDifferences(Activation(kind), input: x)
    }

    @Test func sigmoidAndSiLUStayFiniteForLargeInputs() throws {
        let x = Tensor(shape: [4], values: [-1000, -90, 90, 1000])
        let sig = try Activation(.sigmoid).forward(x, training: false).array
        #expect(sig.allSatisfy { $0 >= 0 && $0 <= 1 } && sig[0] == 0 && sig[3] == 1)
        let silu = try Activation(.silu).forward(x, training: false).array
        #expect(silu.allSatisfy(\.isFinite) && silu[3] == 1000 && silu[0] == 0)
    }
}
