import Testing
@testable import Engine

@Suite struct CrossEntropyTests {
    @Test(arguments: [1, 5], [Float(0), 0.1])
    func matchesTorch(batch: Int, smoothing: Float) throws {
        let fx = try Fixture("misc_loss")
        let name = "n\(batch)_s\(smoothing)"
        let loss = CrossEntropyLoss(labelSmoothing: smoothing)
        let labels = try fx.labels("n\(batch).labels")
        let value = try labels.withUnsafeBufferPointer { try loss.forward(logits: try fx.tensor("n\(batch).logits"), labels: $0) }
        expectClose([value], try fx.values("\(name).loss"), "\(name) loss")
        expectClose(loss.gradient, try fx.values("\(name).grad"), "\(name) dlogits")
    }

    @Test(arguments: [1, 5])
    func softmaxMatchesTorch(batch: Int) throws {
        let fx = try Fixture("misc_loss")
        let probabilities = Tensor(shape: [0])
        softmax(try fx.tensor("n\(batch).logits"), into: probabilities)
        expectClose(probabilities, try fx.values("n\(batch).softmax"), "softmax n\(batch)")
        let large = Tensor(shape: [1, 3], values: [1000, 999, -1000])
        softmax(large, into: probabilities)
        #expect(probabilities.array.allSatisfy(\.isFinite) && abs(probabilities.array.reduce(0, +) - 1) < 1e-6)
    }

    @Test func gradientMatchesFiniteDifferences() throws {
        let loss = CrossEntropyLoss(labelSmoothing: 0.1)
        let logits = seededTensor([4, 6], seed: 5, scale: 3)
        let labels: [Int32] = [0, 5, 2, 2]
        try labels.withUnsafeBufferPointer { labels in
            _ = try loss.forward(logits: logits, labels: labels)
            let analytic = loss.gradient.array
            var numeric = [Float](repeating: 0, count: logits.count)
            let step: Float = 1e-2
            for i in 0..<logits.count {
                let saved = logits[i]
                logits[i] = saved + step
                let plus = try loss.forward(logits: logits, labels: labels)
                logits[i] = saved - step
                let minus = try loss.forward(logits: logits, labels: labels)
                logits[i] = saved
                numeric[i] = (plus - minus) / (2 * step)
            }
            expectClose(analytic, numeric, "dlogits vs finite differences", rtol: 1e-2, atol: 1e-3)
        }
    }

    @Test(arguments: [Int32(7), -1])
    func labelOutsideClassesThrowsNamingIt(_ bad: Int32) throws {
        let labels: [Int32] = [1, bad, 0]
        let error = labels.withUnsafeBufferPointer { labels in
            #expect(throws: EngineError.self) { try CrossEntropyLoss().forward(logits: Tensor(shape: [3, 7]), labels: labels) }
        }
        let message = error.map(String.init(describing:)) ?? ""
        #expect(message.contains("CrossEntropyLoss") && message.contains("label \(bad)") && message.contains("0..<7"), "\(message)")
    }

    @Test func logitsNotMatchingLabelsThrow() {
        let labels: [Int32] = [1, 2]
        labels.withUnsafeBufferPointer { labels in
            #expect(throws: EngineError.self) { try CrossEntropyLoss().forward(logits: Tensor(shape: [3, 7]), labels: labels) }
            #expect(throws: EngineError.self) { try CrossEntropyLoss().forward(logits: Tensor(shape: [2, 7, 1]), labels: labels) }
        }
    }
}
