/// SplitMix64: the data pipeline's own tiny generator, so shuffles and augmentation draws are a
/// fixed function of their seed on every platform and Swift version.
struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    /// A generator for one (seed, stream, index) triple: used to give each epoch and each sample
    /// its own independent draws, so any batch can be rebuilt without replaying the ones before.
    init(seed: UInt64, stream: UInt64, index: UInt64 = 0) {
        var mixer = SplitMix64(seed: seed ^ 0x5EED_DA7A_0000_0000)
        let a = mixer.next()
        mixer.state ^= stream &* 0x9E37_79B9_7F4A_7C15
        let b = mixer.next()
        mixer.state ^= index &* 0xD1B5_4A32_D192_ED03
        state = a ^ b ^ mixer.next()
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<bound (bound > 0), by Lemire's multiply-shift; the tiny bias is irrelevant here.
    mutating func below(_ bound: Int) -> Int {
        Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(bound)).high)
    }
}

/// Fisher-Yates over 0..<count, written out so the permutation never depends on the standard library.
func shuffledIndices(count: Int, using rng: inout SplitMix64) -> [Int] {
    var order = Array(0..<count)
    var i = count - 1
    while i > 0 {
        let j = rng.below(i + 1)
        order.swapAt(i, j)
        i -= 1
    }
    return order
}
