@testable import Engine
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

/// In inference a GroupConv takes the BatchNorm and ReLU after it into its conv, as a plain conv does: the
/// plan has one folded step, whose output equals the three layers' eval forward, also after an update of a
/// slice (the fold reads the slices as they are now) and inside an evaluation's frozen scope.
@Test func groupConvFoldsItsBatchNormInInference() throws {
    var random = RandomSource(seed: 5), data = RandomSource(seed: 6)
    let grouped = GroupConv(6, 9, kernel: 1, groups: 3, random: &random)
    let bn = BatchNorm2d(9)
    for c in 0..<9 {
        bn.weight.value[c] = 0.5 + 0.1 * Float(c)
        bn.bias.value[c] = 0.05 * Float(c) - 0.2
        bn.runningMean.value[c] = 0.02 * Float(c)
        bn.runningVar.value[c] = 0.7 + 0.05 * Float(c)
    }
    let block = Sequential(indexed: [grouped, bn, Activation(.relu)])
    guard case let .conv(conv, batchNorm, activation) = try #require(block.inferencePlan.first) else {
        Issue.record("GroupConv + BatchNorm + ReLU did not fold: \(block.inferencePlan)")
        return
    }
    #expect(conv === grouped && batchNorm === bn && activation == .relu && block.inferencePlan.count == 1)
    let network = Network(root: block, inputShape: [6, 5, 5], classes: 9, random: RandomStream(seed: 1))
    let x = Tensor(shape: [2, 6, 5, 5], values: (0..<300).map { _ in data.uniform(-1, 1) })
    func expectInferEqualsForward(_ what: String) throws {
        // infer first: the forward copies the slices into the conv itself, which would hide an infer that did not.
        let inferred = try block.infer(x).array, reference = try block.forward(x, training: false).array
        #expect(zip(inferred, reference).allSatisfy { abs($0 - $1) <= 1e-5 }, "\(what)")
    }
    try expectInferEqualsForward("as built")
    grouped.weights[2].value.data[1] += 0.75
    try expectInferEqualsForward("after a slice's update")
    try network.withFrozenWeights {
        #expect(grouped.reusesFoldedWeights, "the frozen scope reaches the GroupConv's conv")
        try expectInferEqualsForward("in a frozen scope")
        try expectInferEqualsForward("in a frozen scope, the fold reused")
    }
}
