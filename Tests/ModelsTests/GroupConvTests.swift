import Engine
import Testing
@testable import Models

/// GroupConv keeps seed 002's per-group weights (`convs.i.weight`) but computes with one grouped conv;
/// it must equal that conv, pass optimizer updates of its slices through, and accumulate their gradients.
@Test func groupConvEqualsOneGroupedConvAndAccumulatesSliceGradients() throws {
    var r1 = RandomSource(seed: 3), r2 = RandomSource(seed: 3), data = RandomSource(seed: 4)
    let grouped = GroupConv(6, 9, kernel: 1, groups: 3, random: &r1)
    let reference = Conv2d(6, 9, kernel: 1, groups: 3, bias: false, random: &r2)
    #expect(grouped.stateDict().map(\.0) == ["convs.0.weight", "convs.1.weight", "convs.2.weight"])
    #expect(grouped.weights.map(\.shape) == Array(repeating: [3, 2, 1, 1], count: 3))

    // An optimizer step on one slice must reach the next forward.
    grouped.weights[1].value.data[0] += 0.5
    reference.weight.value.data[6] += 0.5

    let x = Tensor(shape: [2, 6, 4, 4], values: (0..<192).map { _ in data.uniform(-1, 1) })
    let gradOut = Tensor(shape: [2, 9, 4, 4], values: (0..<288).map { _ in data.uniform(-1, 1) })
    for step in 1...2 {
        let y = try grouped.forward(x, training: true).array
        let yRef = try reference.forward(x, training: true).array
        #expect(zip(y, yRef).allSatisfy { abs($0 - $1) <= 1e-6 })
        let gx = grouped.backward(gradOut).array
        let gxRef = reference.backward(gradOut).array
        #expect(zip(gx, gxRef).allSatisfy { abs($0 - $1) <= 1e-6 })
        let refGrad = try #require(reference.weight.grad).array
        for (g, w) in grouped.weights.enumerated() {
            let slice = Array(refGrad[(g * 6)..<((g + 1) * 6)])
            let ours = try #require(w.grad).array
            #expect(zip(ours, slice).allSatisfy { abs($0 - $1) <= 1e-5 }, "step \(step) group \(g)")
        }
    }
}
