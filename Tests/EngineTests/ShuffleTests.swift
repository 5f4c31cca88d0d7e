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

    @Test func channelsNotDivisibleByGroupsThrows() {
        #expect(throws: EngineError.self) {
            try ChannelShuffle(groups: 4, order: .groupsFirst).forward(Tensor(shape: [1, 6, 2, 2]), training: true)
        }
    }
}
