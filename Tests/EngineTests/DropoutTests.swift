import Testing
@testable import Engine

@Suite struct DropoutTests {
    private func ones(_ shape: [Int]) -> Tensor {
        let t = Tensor(shape: shape)
        t.fill(1)
        return t
    }

    @Test func sameSeedSameMaskOtherSeedOtherMask() throws {
        let x = seededTensor([4, 8, 5, 5], seed: 1)
        let a = try Dropout(p: 0.4, random: RandomStream(seed: 7)).forward(x, training: true).array
        let b = try Dropout(p: 0.4, random: RandomStream(seed: 7)).forward(x, training: true).array
        let c = try Dropout(p: 0.4, random: RandomStream(seed: 8)).forward(x, training: true).array
        #expect(a == b)
        #expect(a != c)
    }

    @Test func keepsTheMeanAndDropsAboutP() throws {
        let p: Float = 0.3
        let y = try Dropout(p: p, random: RandomStream(seed: 3)).forward(ones([20, 1000]), training: true).array
        let mean = y.reduce(0, +) / Float(y.count)
        let dropped = Float(y.filter { $0 == 0 }.count) / Float(y.count)
        #expect(abs(mean - 1) < 0.02, "mean \(mean)")
        #expect(abs(dropped - p) < 0.01, "dropped fraction \(dropped)")
        #expect(y.allSatisfy { $0 == 0 || abs($0 - 1 / (1 - p)) < 1e-6 })
    }

    @Test func backwardAppliesTheSameMask() throws {
        let layer = Dropout(p: 0.5, random: RandomStream(seed: 4))
        let x = seededTensor([3, 50], seed: 2)
        let y = try layer.forward(x, training: true).array
        let dy = seededTensor([3, 50], seed: 9)
        let dx = layer.backward(dy).array
        for i in 0..<y.count {
            let scale: Float = y[i] == 0 ? 0 : 2
            #expect(dx[i] == dy[i] * scale)
        }
    }

    @Test func identityInEvalAndForZeroP() throws {
        let x = seededTensor([2, 3, 4, 4], seed: 6)
        let dy = seededTensor([2, 3, 4, 4], seed: 7)
        for unit in [Dropout.Unit.element, .sample] {
            for (layer, training) in [(Dropout(p: 0.5, random: RandomStream(seed: 1), unit: unit), false),
                                      (Dropout(p: 0, random: RandomStream(seed: 1), unit: unit), true)] {
                #expect(try layer.forward(x, training: training).array == x.array)
                #expect(layer.backward(dy).array == dy.array)
            }
        }
    }

    @Test func dropPathDropsWholeSamples() throws {
        let p: Float = 0.25
        let layer = Dropout(p: p, random: RandomStream(seed: 11), unit: .sample)
        let (N, D) = (4000, 12)
        let x = seededTensor([N, 3, 2, 2], seed: 3)
        let y = try layer.forward(x, training: true).array
        var kept = 0
        for n in 0..<N {
            let sample = y[(n * D)..<((n + 1) * D)]
            let expected = x.array[(n * D)..<((n + 1) * D)]
            if sample.allSatisfy({ $0 == 0 }) { continue }
            kept += 1
            #expect(zip(sample, expected).allSatisfy { abs($0 - $1 / (1 - p)) < 1e-6 })
        }
        #expect(abs(Float(kept) / Float(N) - (1 - p)) < 0.03, "kept \(kept) of \(N)")
        let dy = ones([N, 3, 2, 2])
        let dx = layer.backward(dy).array
        for n in 0..<N {
            let keptSample = y[n * D..<(n + 1) * D].contains { $0 != 0 }
            #expect(dx[n * D] == (keptSample ? 1 / (1 - p) : 0))
        }
        let same = try Dropout(p: p, random: RandomStream(seed: 11), unit: .sample).forward(x, training: true).array
        #expect(same == y)
    }

    @Test func probabilityOutsideZeroOneThrows() {
        #expect(throws: EngineError.self) { try Dropout(p: 1.5, random: RandomStream(seed: 1)).forward(Tensor(shape: [2]), training: true) }
        #expect(throws: EngineError.self) { try Dropout(p: -0.1, random: RandomStream(seed: 1), unit: .sample).forward(Tensor(shape: [2, 1]), training: true) }
    }
}
