import Data
import Engine
import Foundation
import Models
import Testing
@testable import Training

/// The learning-rate finder: fastai's schedule, smoothing, stopping and suggestion rules on curves with known
/// answers, and a real sweep that must leave the network, its optimizer and a later run exactly as they were.
@Suite struct LRFinderTests {
    // MARK: - Rules on synthetic curves

    @Test func theScheduleIsFastaisExponentialFromStartTowardsEnd() {
        let s = LRFinderSettings()
        #expect(s.start == 1e-7 && s.end == 10 && s.iterations == 100)
        #expect(s.learningRate(at: 0) == 1e-7)
        // Eight decades over 100 batches: batch 50 is four decades up; the end is reached one batch past the last.
        #expect(abs(s.learningRate(at: 50) / 1e-3 - 1) < 1e-12)
        #expect(abs(s.learningRate(at: 100) / 10 - 1) < 1e-12)
        #expect(s.learningRate(at: 99) < 10)
    }

    @Test func badSettingsNameTheirFlag() {
        func flag(_ s: LRFinderSettings) -> String? {
            do { try s.validate() } catch let TrainingError.invalidFlag(flag, _) { return flag } catch { return "?" }
            return nil
        }
        #expect(flag(LRFinderSettings()) == nil)
        #expect(flag(LRFinderSettings(start: 10, end: 1e-7)) == "--end")
        #expect(flag(LRFinderSettings(start: 0)) == "--start")
        #expect(flag(LRFinderSettings(start: .nan)) == "--start")
        #expect(flag(LRFinderSettings(end: .infinity)) == "--end")
        #expect(flag(LRFinderSettings(iterations: 5)) == "--iterations")
    }

    @Test func theSmoothedLossIsAnEMAWithBiasCorrection() {
        var smoother = LossSmoother()
        // After one value the corrected average is that value (uncorrected it would be 0.02 of it).
        #expect(abs(smoother.add(2.5) - 2.5) < 1e-12)
        #expect(abs(smoother.add(2.5) - 2.5) < 1e-12)
        var other = LossSmoother()
        _ = other.add(1)
        // (0.98 * 0.02 * 1 + 0.02 * 3) / (1 - 0.98^2) = (0.98 + 3) / 1.98
        #expect(abs(other.add(3) - 3.98 / 1.98) < 1e-12)
    }

    @Test func theCurveStopsOncePastFourTimesItsMinimumOrNotFiniteOrAtTheEnd() {
        var curve = LRFinderCurve(iterations: 100)
        #expect(curve.add(learningRate: 1e-7, loss: 1) == nil)
        // (0.98 * 0.02 + 0.02 * 3.97) / (1 - 0.98^2) = 0.099 / 0.0396 = 2.5: below 4 x 1, goes on.
        #expect(curve.add(learningRate: 2e-7, loss: 3.97) == nil)
        #expect(abs(curve.points[1].smoothed - 2.5) < 1e-6)
        // Next: (0.98 * 0.099 + 0.02 * x) / (1 - 0.98^3) passes 4 for x > 6.91: 6.8 goes on, 7.0 stops.
        var below = curve
        #expect(below.add(learningRate: 3e-7, loss: 6.8) == nil)
        #expect(curve.add(learningRate: 3e-7, loss: 7.0) == .diverged)
        #expect(curve.points.last.map { $0.smoothed > 4 && $0.smoothed < 4.05 } == true)

        var nan = LRFinderCurve(iterations: 100)
        _ = nan.add(learningRate: 1e-7, loss: 2)
        #expect(nan.add(learningRate: 2e-7, loss: .nan) == .notFinite)
        var badGradient = LRFinderCurve(iterations: 100)
        #expect(badGradient.add(learningRate: 1e-7, loss: 2, finite: false) == .notFinite)

        var short = LRFinderCurve(iterations: 3)
        #expect(short.add(learningRate: 1, loss: 2) == nil && short.add(learningRate: 2, loss: 1.9) == nil)
        #expect(short.add(learningRate: 3, loss: 1.8) == .completed)
    }

    /// Checked against fastai's `valley` and `steep` run in Python on the same lists.
    @Test func valleyAndSteepPickFastaisPoints() {
        let losses = [3.0, 3.1, 2.9, 2.5, 2.0, 1.2, 1.0, 0.8, 1.5, 3.0]
        // The longest descent, 3.0 (or 3.1) down to 0.8, has 7 points and ends at 7; fastai's max_start is
        // 7 - 7 = 0, sections 7/3, so index 0 + 2 + 1 = 3.
        #expect(LRSuggestions.valley(losses) == 3)
        // Evenly spaced in log LR, the steepest fall is 2.0 -> 1.2, whose left end is index 4.
        let rates = (0..<10).map { pow(10, Double($0) / 2) }
        #expect(LRSuggestions.steep(rates: rates, losses: losses) == 4)
        // The slope is against log LR: 1.0 -> 0.95 over a 10 % step falls faster than 1.8 -> 1.0 over a 5x step.
        #expect(LRSuggestions.steep(rates: [1e-4, 2e-4, 1e-3, 1.1e-3, 1e-2], losses: [2.0, 1.8, 1.0, 0.95, 0.5]) == 2)
        #expect(LRSuggestions.valley([]) == nil && LRSuggestions.steep(rates: [1], losses: [1]) == nil)
        // A plain descent: the middle.
        #expect(LRSuggestions.valley([5, 4, 3, 2, 1, 0]) == 2)
    }

    /// 100 points whose steepest drop and longest descent lie in the parts fastai trims (the first tenth, the last
    /// five), a slower descent between them, and a NaN at 70: suggestions come only from points 10...69.
    @Test func suggestionsComeFromTheTrimmedCurve() throws {
        var points: [LRFinderPoint] = []
        for i in 0..<100 {
            let rate = Float(1e-7 * pow(10, 8 * Double(i) / 100))
            var smoothed: Float
            switch i {
            case 0..<10: smoothed = 50 - Float(i) * 5          // a steep fall, trimmed away
            case 10..<70: smoothed = 3 - Float(i - 10) * 0.04   // the descent suggestions must come from
            case 70: smoothed = .nan
            default: smoothed = 100 - Float(i)                  // a long descent after the NaN, cut off
            }
            points.append(LRFinderPoint(learningRate: rate, loss: smoothed, smoothed: smoothed))
        }
        points[40].smoothed = 1.0   // one sudden drop in the middle: the steepest point
        let kept = LRSuggestions.trimmed(points, iterations: 100)
        #expect(kept.startIndex == 10 && kept.endIndex == 70)
        let suggestions = LRSuggestions.suggest(points, iterations: 100)
        let steep = try #require(suggestions.first { $0.rule == .steep })
        #expect(steep.learningRate == points[39].learningRate)
        // The longest descent of points 10..69 skips the dip at 40 (1.0 is below its successors): 59 points,
        // from 10 to 69. fastai: max_start = 69 - 59 = 10, sections 59/3, index 10 + 19 + 9 = 38.
        let valley = try #require(suggestions.first { $0.rule == .valley })
        #expect(valley.learningRate == points[38].learningRate && valley.loss == points[38].smoothed)
        // Untrimmed, both would have been elsewhere.
        #expect(LRSuggestions.valley(points.prefix(70).map { Double($0.smoothed) }) != 38)

        // Too short for fastai's trim: no suggestion.
        #expect(LRSuggestions.suggest(Array(points.prefix(15)), iterations: 100).isEmpty)
    }

    // MARK: - A real sweep

    /// The tiny network (conv, BatchNorm, dropout, linear) part-way through training, and its loader.
    static func trainedTinyNetwork(optimizer kind: TrainingConfig.OptimizerKind) throws -> (TrainingStep, BatchLoader) {
        var config = TinyRun.config(epochs: 1, schedule: "constant")
        config.optimizer = kind
        config.momentum = kind == .sgd ? 0.9 : 0
        config.weightDecay = 5e-4
        let data = try RunData(config, sources: TinyRun.sources)
        let network = TinyRun.network(inputShape: data.dataset.shape, classes: TinyRun.classes, seed: config.seed)
        let optimizer = try OptimizerFactory.make(config, parameters: network.trainableParameters)
        let step = TrainingStep(network: network, optimizer: optimizer, loss: CrossEntropyLoss(labelSmoothing: 0.1))
        let loader = try data.trainLoader(config)
        // Three steps first, so momentum buffers, moments, step counts and BN counters are not at their zeros.
        loader.startEpoch(7)
        for _ in 0..<3 {
            let batch = try #require(loader.next())
            step.load(images: batch.images, labels: batch.labels, count: batch.count)
            loader.recycle(consume batch)
            _ = try step.train()
        }
        return (step, loader)
    }

    static func bits(_ entries: [(String, Safetensors.Entry)]) -> [String: [UInt32]] {
        Dictionary(uniqueKeysWithValues: entries.map { ($0.0, $0.1.values.map(\.bitPattern)) })
    }

    @Test(arguments: [TrainingConfig.OptimizerKind.sgd, .adam, .adamw])
    func aSweepRestoresWeightsOptimizerStateAndBatchNormStatisticsBitForBit(kind: TrainingConfig.OptimizerKind) throws {
        let (step, loader) = try Self.trainedTinyNetwork(optimizer: kind)
        let network = step.network, optimizer = step.optimizer
        optimizer.learningRate = 0.0123
        let weights = Self.bits(network.root.stateDictEntries())
        let state = Self.bits(optimizer.stateEntries())
        let random = network.random.source
        #expect(weights.keys.contains("bn.running_mean") && weights.keys.contains("bn.num_batches_tracked"))

        var changedDuringSweep = false
        let result = try LRSweep.run(step: step, loader: loader, settings: LRFinderSettings(iterations: 30),
                                     onPoint: { _ in
            if Self.bits(network.root.stateDictEntries()) != weights && Self.bits(optimizer.stateEntries()) != state {
                changedDuringSweep = true
            }
        })
        #expect(changedDuringSweep, "the sweep should train")
        #expect(result.points.count >= 6 && result.points.count <= 30)
        // 6 batches per epoch: a sweep of up to 30 runs on through several epochs.
        #expect(result.stop == .completed || result.stop == .diverged || result.stop == .notFinite)
        #expect(result.points.map(\.learningRate) == (0..<result.points.count).map {
            Float(LRFinderSettings(iterations: 30).learningRate(at: $0))
        })

        #expect(Self.bits(network.root.stateDictEntries()) == weights)
        #expect(Self.bits(optimizer.stateEntries()) == state)
        #expect(network.random.source == random)
        #expect(optimizer.learningRate == 0.0123)
    }

    /// One model of each zoo family, at CIFAR's shape with its seed recipe's optimizer, on 8 random images:
    /// six batches of two, then everything is as before.
    @Test(arguments: ["mycnn", "resnet-2-2-2", "se-resnet-2-2-2", "vgg11", "mobilenet-v1", "shufflenet-v1-g3-0.5x",
                      "shufflenet-v2-0.5x", "efficientnet-v2-s"])
    func everyZooFamilySweepsAndIsRestored(model: String) throws {
        var random = RandomSource(seed: 3)
        let images = ImageSet(channels: 3, height: 32, width: 32, pixels: (0..<8 * 3 * 32 * 32).map { _ in UInt8(random.nextInt(256)) },
                              labels: (0..<8).map { Int32($0 % 10) })
        let dataset = Dataset(name: "random", classNames: (0..<10).map(String.init), train: images, test: images,
                              mean: [0.5], std: [0.25], source: "memory")
        let sources = RunSources(loadDataset: { _, _ in dataset }, buildModel: { config, shape, classes in
            try ModelZoo.build(config.model, inputShape: shape, classes: classes, seed: config.seed)
        })
        let config = try TrainingConfig.resolve(model: model, family: ModelZoo.family(model), dataset: "random",
                                                dataDirectory: nil, overrides: { var o = TrainingOverrides(); o.batchSize = 2; o.threads = 1; return o }())
        let data = try RunData(config, sources: sources)
        let network = try sources.buildModel(config, data.dataset.shape, 10)
        let step = TrainingStep(network: network, optimizer: try OptimizerFactory.make(config, parameters: network.trainableParameters),
                                loss: CrossEntropyLoss(labelSmoothing: config.labelSmoothing))
        let weights = Self.bits(network.root.stateDictEntries()), state = Self.bits(step.optimizer.stateEntries())
        let result = try LRSweep.run(step: step, loader: try data.trainLoader(config), settings: LRFinderSettings(iterations: 6))
        #expect(!result.points.isEmpty)
        #expect(Self.bits(network.root.stateDictEntries()) == weights && Self.bits(step.optimizer.stateEntries()) == state)
    }

    @Test func aSweepCanBeCancelledAndStillRestores() throws {
        let (step, loader) = try Self.trainedTinyNetwork(optimizer: .sgd)
        let weights = Self.bits(step.network.root.stateDictEntries())
        var seen = 0
        let result = try LRSweep.run(step: step, loader: loader, settings: LRFinderSettings(), isCancelled: { seen >= 4 },
                                     onPoint: { _ in seen += 1 })
        #expect(result.stop == .cancelled && result.points.count == 4 && result.suggestions.isEmpty)
        #expect(Self.bits(step.network.root.stateDictEntries()) == weights)
    }

    /// A run after a sweep trains exactly as one without: the sweep builds its own model from the seed and its own
    /// loader, and takes nothing from the run's random streams.
    @Test func aRunAfterTheSweepIsBitIdenticalToOneWithout() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let store = SessionStore(root: root)
        let config = TinyRun.config(epochs: 2, schedule: "constant")

        let without = TinyRun.run(RunRequest(.new(config), sessions: store, sources: TinyRun.sources))
        let handle = LRFinderRun.start(config, settings: LRFinderSettings(iterations: 20), sources: TinyRun.sources)
        var finished: LRFinderResult?
        while finished == nil {
            handle.waitForEvents(timeout: 10)
            for case let .finished(result) in handle.drain() { finished = result }
        }
        handle.wait()
        #expect((finished?.points.count ?? 0) >= 6)
        let after = TinyRun.run(RunRequest(.new(config), sessions: store, sources: TinyRun.sources))

        func figures(_ events: [TrainingEvent]) -> [[Float]] {
            TinyRun.records(in: events).map { [$0.loss, $0.accuracy, $0.learningRate] }
        }
        #expect(!figures(without).isEmpty && figures(after) == figures(without))
        let a = try Self.lastModel(TinyRun.session(of: without)), b = try Self.lastModel(TinyRun.session(of: after))
        #expect(!a.isEmpty && a == b)
    }

    static func lastModel(_ sessionPath: String?) throws -> [String: [UInt32]] {
        let path = try #require(sessionPath)
        let directory = try #require(Session(id: "", url: URL(fileURLWithPath: path)).checkpoint(.last))
        return try CheckpointStore.readModel(in: directory).mapValues { $0.values.map(\.bitPattern) }
    }

    @Test func aSweepThatCannotStartFailsWithTheFlag() {
        let handle = LRFinderRun.start(TinyRun.config(), settings: LRFinderSettings(start: 10, end: 1e-7), sources: TinyRun.sources)
        var events: [LRFinderEvent] = []
        while !events.contains(where: { if case .failed = $0 { true } else { false } }) {
            handle.waitForEvents(timeout: 10)
            events += handle.drain()
        }
        handle.wait()
        #expect(events.count == 1)
        if case let .failed(message) = events.first { #expect(message.hasPrefix("--end:")) }
    }
}
