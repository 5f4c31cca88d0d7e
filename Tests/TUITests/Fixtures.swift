import Training
@testable import TUI

/// Hand-made engine events: a 10-class run, some steps, one evaluation with images.
enum Sample {
    static let classNames = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"]

    static let run = RunDescription(
        sessionID: "s1", sessionPath: "/tmp/s1", model: "resnet20", dataset: "fashion-mnist", classNames: classNames,
        epochs: 10, batchSize: 128, stepsPerEpoch: 100, stepsPerRecord: 10, startEpoch: 1, optimizer: "sgd", schedule: "cosine",
        learningRate: 0.1, parameterCount: 270_000)

    static func step(_ globalStep: Int) -> StepEvent {
        StepEvent(epoch: (globalStep - 1) / 100 + 1, step: (globalStep - 1) % 100 + 1, stepsPerEpoch: 100,
                  globalStep: globalStep, totalSteps: 1000, etaSeconds: 312)
    }

    static func record(_ globalStep: Int, loss: Float, accuracy: Float = 0.5, lr: Float = 0.1) -> StepRecord {
        StepRecord(epoch: (globalStep - 1) / 100 + 1, step: (globalStep - 1) % 100 + 1, globalStep: globalStep,
                   loss: loss, accuracy: accuracy, imagesPerSecond: 1234, learningRate: lr)
    }

    /// A 28x28 grey image: a bright square whose position depends on `seed`.
    static func image(index: Int, trueClass: Int, predicted: Int, seed: Int = 0, channels: Int = 1) -> PredictedImage {
        var pixels = [UInt8](repeating: 0, count: channels * 28 * 28)
        for c in 0..<channels {
            for y in 0..<28 { for x in 0..<28 {
                let inside = abs(x - 8 - seed % 12) < 6 && abs(y - 14) < 8
                pixels[c * 784 + y * 28 + x] = inside ? UInt8(200 + c * 20) : UInt8(x * 3)
            } }
        }
        let others = (0..<10).filter { $0 != predicted }
        return PredictedImage(testIndex: index, channels: channels, height: 28, width: 28, pixels: pixels,
                              trueClass: trueClass, predictedClass: predicted,
                              topK: [ClassProbability(classIndex: predicted, probability: 0.6),
                                     ClassProbability(classIndex: others[0], probability: 0.3),
                                     ClassProbability(classIndex: others[1], probability: 0.1)])
    }

    static func evaluation(globalStep: Int = 100, testAccuracy: Float = 0.85) -> EvaluationEvent {
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: 10), count: 10)
        for t in 0..<10 { confusion[t][t] = 90 - t; confusion[t][(t + 1) % 10] = 10 + t }
        let preview = (0..<12).map { image(index: $0, trueClass: $0 % 10, predicted: $0 % 3 == 0 ? ($0 + 1) % 10 : $0 % 10, seed: $0) }
        let misclassified = (0..<10).map { image(index: 100 + $0, trueClass: $0, predicted: ($0 + 1) % 10, seed: $0) }
            + [image(index: 200, trueClass: 6, predicted: 0, seed: 3)]
        return EvaluationEvent(epoch: globalStep / 100, globalStep: globalStep, trainLoss: 0.5, trainAccuracy: 0.8,
                               testLoss: 0.45, testAccuracy: testAccuracy,
                               perClassAccuracy: (0..<10).map { 0.95 - Float($0) * 0.07 }, confusion: confusion,
                               preview: preview, misclassified: misclassified, learningRate: 0.1, seconds: 30,
                               imagesPerSecond: 1200)
    }

    /// A run a little past its first evaluation, with one manual LR change.
    static var events: [TrainingEvent] {
        var e: [TrainingEvent] = [.started(run), .stateChanged(.running)]
        for s in 1...150 {
            e.append(.step(step(s)))
            if s % run.stepsPerRecord == 0 {
                e.append(.record(record(s, loss: 2.3 - Float(s) * 0.01, accuracy: Float(s) / 200, lr: s > 120 ? 0.05 : 0.1)))
            }
            if s == 100 { e.append(.evaluation(evaluation())) }
            if s == 120 { e.append(.learningRateChanged(0.05, globalStep: 120, manual: true)) }
        }
        return e
    }
    static var model: DashboardModel { DashboardModel.folding(events) }
}

extension CellGrid {
    /// A grid filled with a known character, so tests see exactly which cells a widget wrote.
    static func filled(_ width: Int, _ height: Int, with c: Character = "x") -> CellGrid {
        CellGrid(width: width, height: height, fill: Cell(c))
    }
    var text: String { lines.joined(separator: "\n") }
    func contains(_ s: String) -> Bool { lines.contains { $0.contains(s) } }
    /// Every cell of `rect` satisfies the predicate.
    func allCells(in rect: Rect, satisfy predicate: (Cell) -> Bool) -> Bool {
        for y in rect.y..<rect.maxY { for x in rect.x..<rect.maxX where !predicate(self[x, y]) { return false } }
        return true
    }
}
