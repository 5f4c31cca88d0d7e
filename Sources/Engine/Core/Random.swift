/// The engine's one seeded random source (xoshiro256**, seeded through SplitMix64), so that a run is
/// reproducible from its seed and its state can be checkpointed as four integers.
public struct RandomSource: Sendable, Equatable, Codable {
    public var state: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var s = seed
        func splitMix() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    public mutating func next() -> UInt64 {
        let result = ((state.1 &* 5) << 7 | (state.1 &* 5) >> 57) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = (state.3 << 45) | (state.3 >> 19)
        return result
    }

    /// Uniform in [0, 1) with 24 bits, as a float32 can hold.
    public mutating func nextFloat() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Uniform in [low, high).
    public mutating func uniform(_ low: Float, _ high: Float) -> Float { low + (high - low) * nextFloat() }

    /// Uniform integer in 0..<bound.
    public mutating func nextInt(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    public static func == (a: RandomSource, b: RandomSource) -> Bool {
        a.state.0 == b.state.0 && a.state.1 == b.state.1 && a.state.2 == b.state.2 && a.state.3 == b.state.3
    }

    enum CodingKeys: String, CodingKey { case s0, s1, s2, s3 }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        state = (try c.decode(UInt64.self, forKey: .s0), try c.decode(UInt64.self, forKey: .s1),
                 try c.decode(UInt64.self, forKey: .s2), try c.decode(UInt64.self, forKey: .s3))
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(state.0, forKey: .s0); try c.encode(state.1, forKey: .s1)
        try c.encode(state.2, forKey: .s2); try c.encode(state.3, forKey: .s3)
    }
}

/// A random source shared by the layers of one network that draw at training time (dropout, drop-path),
/// so the network's whole random state is one value to checkpoint.
public final class RandomStream {
    public var source: RandomSource
    public init(seed: UInt64) { source = RandomSource(seed: seed) }
}

/// PyTorch's default initialisation, drawn from our seeded source.
public enum Initializer {
    /// `kaiming_uniform_(w, a=sqrt(5))` as `nn.Conv2d`/`nn.Linear.reset_parameters` do: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    /// Biases use the same bound. `fanIn` = in_channels/groups * kh * kw, or in_features.
    public static func pytorchDefault(_ t: Tensor, fanIn: Int, random: inout RandomSource) {
        let bound = 1 / Float(fanIn).squareRoot()
        for i in 0..<t.count { t.data[i] = random.uniform(-bound, bound) }
    }

    /// A weight of `shape` and, when `bias`, a bias of `biasCount`, both initialised as `pytorchDefault`
    /// (the weight drawn first), as `nn.Conv2d` and `nn.Linear` build theirs.
    public static func pytorchWeightAndBias(shape: [Int], biasCount: Int, bias: Bool, fanIn: Int,
                                            random: inout RandomSource) -> (weight: Parameter, bias: Parameter?) {
        let weight = Parameter(shape: shape)
        pytorchDefault(weight.value, fanIn: fanIn, random: &random)
        guard bias else { return (weight, nil) }
        let b = Parameter(shape: [biasCount])
        pytorchDefault(b.value, fanIn: fanIn, random: &random)
        return (weight, b)
    }
}
