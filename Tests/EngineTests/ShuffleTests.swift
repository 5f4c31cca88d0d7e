import Testing
@testable import Engine

@Suite struct ChannelShuffleTests {
    @Test(arguments: [("groupsFirst", ChannelShuffle.Order.groupsFirst), ("channelsFirst", .channelsFirst)], [2, 3])
    func matchesTorch(_ order: (String, ChannelShuffle.Order), groups: Int) throws {
        let fx = try Fixture("misc_shuffle")
        let name = "\(order.0)_g\(groups)"
        let layer = ChannelShuffle(groups: groups, order: order.1)
        expectClose(try layer.forward(try fx.tensor("\(name).x"), training: true), try fx.values("\(name).y"), "\(name) y")
        expectClose(layer.backward(try fx.tensor("\(name).dy")), try fx.values("\(name).dx"), "\(name) dx")
    }

    @Test(arguments: [ChannelShuffle.Order.groupsFirst, .channelsFirst])
    func gradientsMatchFiniteDifferences(_ order: ChannelShuffle.Order) throws {
        try expectGradientsMatchFiniteDifferences(ChannelShuffle(groups: 3, order: order),
                                                  input: seededTensor([2, 6, 2, 2], seed: 8))
    }

    /// A channel join followed by a shuffle infers in one pass (each channel copied straight to its shuffled
    /// place) as the two layers' eval forwards one after the other: a split at 2 of 6 channels and
    /// a concatenation of 2 and 4 channels with a ReLU, for both orders and 2 or 3 groups.
    @Test(arguments: [ChannelShuffle.Order.groupsFirst, .channelsFirst], [2, 3])
    func joinThenShuffleInfersInOnePass(_ order: ChannelShuffle.Order, groups: Int) throws {
        var random = RandomSource(seed: 21)
        let x = seededTensor([3, 6, 3, 5], seed: 9)
        let split = SplitConcat(splitAt: 2, body: Sequential([("conv", Conv2d(4, 4, kernel: 1, bias: true, random: &random))]))
        let concat = Concat(branches: [Sequential([("conv", Conv2d(6, 2, kernel: 1, random: &random))]),
                                       Sequential([("conv", Conv2d(6, 4, kernel: 3, padding: 1, random: &random))])],
                            activation: Activation(.relu))
        for join in [split, concat] as [any ChannelJoin] {
            let shuffle = ChannelShuffle(groups: groups, order: order)
            guard case .shuffledJoin = inferenceSteps([join, shuffle])[0] else {
                Issue.record("\(join.typeName) + shuffle is not one step")
                continue
            }
            let expected = try shuffle.forward(try join.forward(x, training: false), training: false).array
            let fused = try runInference(inferenceSteps([join, shuffle]), x)
            #expect(fused.shape == [3, 6, 3, 5])
            // The convs' own inference may sum in another order than their forward: equal to a few ulps.
            expectClose(fused.array, expected, "\(join.typeName), \(order), \(groups) groups", rtol: 1e-5, atol: 1e-6)
        }
    }

    @Test func channelsNotDivisibleByGroupsThrows() {
        #expect(throws: EngineError.self) {
            try ChannelShuffle(groups: 4, order: .groupsFirst).forward(Tensor(shape: [1, 6, 2, 2]), training: true)
        }
    }
}
