import Foundation
import Training
@testable import TUI

/// Hand-made engine events: a 10-class run, some steps, one evaluation with images.
enum Sample {
    static let classNames = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"]

    static let run = RunDescription(
        sessionID: "s1", sessionPath: "/tmp/s1", model: "resnet20", dataset: "fashion-mnist", classNames: classNames,
        epochs: 10, batchSize: 128, stepsPerEpoch: 100, stepsPerRecord: 10, startEpoch: 1, optimizer: "sgd", schedule: "cosine",
        learningRate: 0.1, parameterCount: 270_000, layers: layers)

    /// A small ResNet-like tree: a stem, two stages of one basic block each, pooling and the classifier.
    static let layers: [LayerInfo] = {
        var l: [LayerInfo] = [
            LayerInfo(path: "conv1", type: "Conv2d", depth: 0, outputShape: [16, 28, 28], parameterCount: 144),
            LayerInfo(path: "bn1", type: "BatchNorm2d", depth: 0, outputShape: [16, 28, 28], parameterCount: 32),
            LayerInfo(path: "relu", type: "ReLU", depth: 0, outputShape: [16, 28, 28], parameterCount: 0),
        ]
        for (stage, (c, hw)) in [(16, 14), (32, 7)].enumerated() {
            let name = "layer\(stage + 1)"
            let shape = [c, hw, hw]
            l.append(LayerInfo(path: name, type: "Sequential", depth: 0, outputShape: shape, parameterCount: 0))
            l.append(LayerInfo(path: name + ".0", type: "BasicBlock", depth: 1, outputShape: shape, parameterCount: 0))
            for k in 1...2 {
                let inC = k == 1 && stage == 1 ? 16 : c
                l.append(LayerInfo(path: "\(name).0.conv\(k)", type: "Conv2d", depth: 2, outputShape: shape, parameterCount: inC * c * 9))
                l.append(LayerInfo(path: "\(name).0.bn\(k)", type: "BatchNorm2d", depth: 2, outputShape: shape, parameterCount: 2 * c))
                l.append(LayerInfo(path: "\(name).0.relu\(k)", type: "ReLU", depth: 2, outputShape: shape, parameterCount: 0))
            }
        }
        l.append(LayerInfo(path: "pool", type: "AdaptiveAvgPool2d", depth: 0, outputShape: [32], parameterCount: 0))
        l.append(LayerInfo(path: "fc", type: "Linear", depth: 0, outputShape: [10], parameterCount: 330))
        return l
    }()

    static func layerIndex(_ path: String) -> Int { layers.firstIndex { $0.path == path }! }

    /// Weights [out, inputs, 3, 3]: oriented edge detectors, one angle per output channel.
    static func filters(layer: String = "conv1", outputs: Int = 16, inputs: Int = 1) -> FilterBank {
        var w: [Float] = []
        for o in 0..<outputs {
            let angle = Double(o) * .pi / Double(outputs) * 2
            for i in 0..<inputs { for y in 0..<3 { for x in 0..<3 {
                w.append(Float(cos(angle) * Double(x - 1) + sin(angle) * Double(y - 1)) * 0.3 + Float(i - 1) * 0.05)
            } } }
        }
        return FilterBank(layer: layer, shape: [outputs, inputs, 3, 3], weights: w)
    }

    /// 16 channels of 14x14: stripes and blobs per channel; `signed` false is the ReLU of the same maps
    /// (channel 5 is dead: all zeros).
    static func layerView(layer: String = "layer1.0.conv1", testIndex: Int = 0, signed: Bool = true,
                          channels: Int = 16, size: Int = 14, filters: FilterBank? = Sample.filters()) -> LayerView {
        var values: [Float] = []
        for c in 0..<channels { for y in 0..<size { for x in 0..<size {
            let v = Float(sin(Double(x) * 0.3 * Double(c % 4 + 1) + Double(c)) + cos(Double(y) * 0.25 * Double(c % 3 + 1))) * (1 + Float(c) * 0.1) - 0.3
            values.append(signed ? v : (c == 5 ? 0 : max(0, v)))
        } } }
        let mean = values.reduce(0, +) / Float(max(1, values.count))
        return LayerView(layer: layer, testIndex: testIndex, globalStep: 150, shape: [channels, size, size], values: values,
                         minimum: values.min() ?? 0, maximum: values.max() ?? 0, mean: mean,
                         zeroFraction: Float(values.filter { $0 == 0 }.count) / Float(max(1, values.count)), filters: filters)
    }

    static let parameterLayers = ["conv1", "bn1", "layer1.0.conv1", "layer1.0.bn1", "layer1.0.conv2", "layer1.0.bn2",
                                  "layer2.0.conv1", "layer2.0.bn1", "layer2.0.conv2", "layer2.0.bn2", "fc"]
    static let rectifiers = ["relu", "layer1.0.relu1", "layer1.0.relu2", "layer2.0.relu1", "layer2.0.relu2"]

    /// Health at record r: weight norms grow slowly, gradients shrink with noise; fc updates too fast
    /// (1e-2), layer2.0.conv2 too slowly (1e-5); one rectifier nearly dead.
    static func health(_ r: Int) -> HealthRecord {
        let t = Float(r)
        let layers = parameterLayers.enumerated().map { (k, name) -> LayerHealth in
            let ratio: Float = name == "fc" ? 1.2e-2 : name == "layer2.0.conv2" ? 1.5e-5 : 1e-3 * (1 + 0.3 * sin(t + Float(k)))
            return LayerHealth(layer: name, weightNorm: 2 + Float(k) * 0.7 + t * 0.02,
                               gradientNorm: (0.5 + 0.2 * sin(t * 0.7 + Float(k))) / (1 + t * 0.05), updateRatio: ratio)
        }
        let relus = rectifiers.enumerated().map { (k, name) in
            RectifierHealth(layer: name, zeroFraction: name == "layer2.0.relu2" ? 0.93 + 0.002 * t : 0.35 + 0.05 * Float(k) + 0.01 * sin(t))
        }
        return HealthRecord(epoch: (r * 5 - 1) / 100 + 1, globalStep: r * 5, layers: layers, rectifiers: relus)
    }

    static let anomaly = Anomaly(epoch: 2, globalStep: 151, layer: "layer2.0.conv2",
                                 message: "gradient of layer2.0.conv2.weight has NaN")

    static func step(_ globalStep: Int) -> StepEvent {
        StepEvent(epoch: (globalStep - 1) / 100 + 1, step: (globalStep - 1) % 100 + 1, stepsPerEpoch: 100,
                  globalStep: globalStep, totalSteps: 1000, etaSeconds: 312)
    }

    static func record(_ globalStep: Int, loss: Float, accuracy: Float = 0.5, lr: Float = 0.1) -> StepRecord {
        StepRecord(epoch: (globalStep - 1) / 100 + 1, step: (globalStep - 1) % 100 + 1, globalStep: globalStep,
                   loss: loss, accuracy: accuracy, imagesPerSecond: 1234, learningRate: lr)
    }

    /// A 28x28 grey image: a bright square whose position depends on `seed`. The model gave the predicted class
    /// `confidence`, two others 0.3 and 0.1 of what is left; the true class `trueProbability` unless it is one
    /// of those three (then that probability); the loss is -log of it.
    static func image(index: Int, trueClass: Int, predicted: Int, seed: Int = 0, channels: Int = 1,
                      confidence: Float = 0.6, trueProbability: Float = 0.05) -> PredictedImage {
        var pixels = [UInt8](repeating: 0, count: channels * 28 * 28)
        for c in 0..<channels {
            for y in 0..<28 { for x in 0..<28 {
                let inside = abs(x - 8 - seed % 12) < 6 && abs(y - 14) < 8
                pixels[c * 784 + y * 28 + x] = inside ? UInt8(200 + c * 20) : UInt8(x * 3)
            } }
        }
        let others = (0..<10).filter { $0 != predicted }
        let rest = 1 - confidence
        let topK = [ClassProbability(classIndex: predicted, probability: confidence),
                    ClassProbability(classIndex: others[0], probability: rest * 0.75),
                    ClassProbability(classIndex: others[1], probability: rest * 0.25)]
        let pTrue = topK.first { $0.classIndex == trueClass }?.probability ?? trueProbability
        return PredictedImage(testIndex: index, channels: channels, height: 28, width: 28, pixels: pixels,
                              trueClass: trueClass, predictedClass: predicted, topK: topK,
                              trueProbability: pTrue, loss: -log(pTrue))
    }

    static func evaluation(globalStep: Int = 100, testAccuracy: Float = 0.85) -> EvaluationEvent {
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: 10), count: 10)
        for t in 0..<10 { confusion[t][t] = 90 - t; confusion[t][(t + 1) % 10] = 10 + t }
        let preview = (0..<12).map { image(index: $0, trueClass: $0 % 10, predicted: $0 % 3 == 0 ? ($0 + 1) % 10 : $0 % 10, seed: $0) }
        // Mistakes: the loss order differs from the test-index order (the browser's default is by loss).
        let misclassified = (0..<10).map {
            image(index: 100 + $0, trueClass: $0, predicted: ($0 + 1) % 10, seed: $0,
                  confidence: 0.5 + Float($0 * 7 % 10) * 0.04, trueProbability: 0.02 + Float($0 * 3 % 10) * 0.01)
        } + [image(index: 200, trueClass: 6, predicted: 0, seed: 3, confidence: 0.9, trueProbability: 0.001)]
        // Correct but unsure: the true class at 0.3 to 0.5, least sure first.
        let leastSure = [(300, 2, 0.31), (301, 5, 0.45), (302, 2, 0.38), (303, 7, 0.5)].map {
            image(index: $0.0, trueClass: $0.1, predicted: $0.1, seed: $0.0, confidence: Float($0.2))
        }.sorted { $0.loss > $1.loss }
        return EvaluationEvent(epoch: globalStep / 100, globalStep: globalStep, trainLoss: 0.5, trainAccuracy: 0.8,
                               testLoss: 0.45, testAccuracy: testAccuracy,
                               perClassAccuracy: (0..<10).map { 0.95 - Float($0) * 0.07 }, confusion: confusion,
                               preview: preview, misclassified: misclassified.sorted { $0.loss > $1.loss },
                               leastSure: leastSure, learningRate: 0.1, seconds: 30,
                               imagesPerSecond: 1200)
    }

    /// A run a little past its first evaluation, with one manual LR change, a health record every 5 steps.
    static var events: [TrainingEvent] { events(changingLearningRate: true) }

    static func events(changingLearningRate: Bool) -> [TrainingEvent] {
        var e: [TrainingEvent] = [.started(run), .stateChanged(.running)]
        for s in 1...150 {
            e.append(.step(step(s)))
            if s % run.stepsPerRecord == 0 {
                let lr: Float = changingLearningRate && s > 120 ? 0.05 : 0.1
                e.append(.record(record(s, loss: 2.3 - Float(s) * 0.01, accuracy: Float(s) / 200, lr: lr)))
            }
            if s % 5 == 0 { e.append(.health(health(s / 5))) }
            if s == 100 { e.append(.evaluation(evaluation())) }
            if s == 120 && changingLearningRate { e.append(.learningRateChanged(0.05, globalStep: 120, manual: true)) }
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
