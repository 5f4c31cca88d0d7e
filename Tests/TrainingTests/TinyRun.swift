import Data
import Engine
import Foundation
@testable import Training

/// A tiny synthetic problem and network, so whole runs take milliseconds.
enum TinyRun {
    static let classes = 3
    static let side = 6

    /// Class c lights up band c of the image (rows 2c, 2c+1), plus deterministic noise.
    static func imageSet(count: Int, salt: UInt64) -> ImageSet {
        var random = RandomSource(seed: salt)
        var pixels: [UInt8] = []
        var labels: [Int32] = []
        for i in 0..<count {
            let label = i % classes
            labels.append(Int32(label))
            for y in 0..<side {
                for _ in 0..<side {
                    let lit = y / 2 == label
                    pixels.append(UInt8((lit ? 150 : 40) + random.nextInt(90)))
                }
            }
        }
        return ImageSet(channels: 1, height: side, width: side, pixels: pixels, labels: labels)
    }

    static func dataset() -> Dataset {
        Dataset(name: "synthetic", classNames: ["top", "middle", "bottom"], train: imageSet(count: 24, salt: 1),
                test: imageSet(count: 12, salt: 2), mean: [0.5], std: [0.25], source: "memory")
    }

    /// conv-BN-ReLU-maxpool, dropout, linear: every kind of state a checkpoint must carry
    /// (weights, BN running statistics and counter, the dropout random stream).
    static func network(inputShape: [Int], classes: Int, seed: UInt64) -> Network {
        var random = RandomSource(seed: seed)
        let stream = RandomStream(seed: seed &+ 1)
        let channels = 4
        let pooled = inputShape[1] / 2 * (inputShape[2] / 2)
        let root = Sequential([
            ("conv", Conv2d(inputShape[0], channels, kernel: 3, padding: 1, random: &random)),
            ("bn", BatchNorm2d(channels)),
            ("relu", Activation(.relu)),
            ("pool", Pool2d(.max, kernel: 2)),
            ("flatten", Flatten()),
            ("dropout", Dropout(p: 0.2, random: stream)),
            ("fc", Linear(channels * pooled, classes, random: &random)),
        ])
        return Network(root: root, inputShape: inputShape, classes: classes, random: stream)
    }

    static let sources = RunSources(
        loadDataset: { _, _ in dataset() },
        buildModel: { config, shape, classes in network(inputShape: shape, classes: classes, seed: config.seed) })

    /// 6 steps per epoch (24 images, batch 4).
    static func config(epochs: Int = 2, schedule: String = "cosine:warmup=1:min=0.001", metricsEvery: Int = 1) -> TrainingConfig {
        TrainingConfig(model: "tiny", dataset: "synthetic", epochs: epochs, batchSize: 4, optimizer: .adam,
                       learningRate: 0.01, weightDecay: 1e-4, schedule: schedule, augmentation: "flip", seed: 5,
                       threads: 1, metricsEvery: metricsEvery)
    }

    static func records(in events: [TrainingEvent]) -> [StepRecord] {
        events.compactMap { if case let .record(r) = $0 { r } else { nil } }
    }

    /// Runs a request to its end and returns every event it posted.
    static func run(_ request: RunRequest, whileRunning: (TrainingHandle, TrainingEvent) -> Void = { _, _ in }) -> [TrainingEvent] {
        let handle = Trainer.start(request)
        var events: [TrainingEvent] = []
        var ended = false
        while !ended {
            handle.events.waitForEvents(timeout: 5)
            for event in handle.events.drain() {
                events.append(event)
                whileRunning(handle, event)
                switch event {
                case .finished, .failed: ended = true
                default: break
                }
            }
        }
        handle.wait()
        return events
    }

    static func session(of events: [TrainingEvent]) -> String? {
        for case let .started(run) in events { return run.sessionPath }
        return nil
    }

    static func failure(in events: [TrainingEvent]) -> String? {
        for case let .failed(message) in events { return message }
        return nil
    }
}
