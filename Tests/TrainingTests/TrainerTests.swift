import Engine
import Foundation
import Testing
@testable import Training

/// The checkpointed tensors of a session's `last` checkpoint, by name.
private func lastTensors(_ sessionPath: String) throws -> (model: [String: [Float]], optimizer: [String: [Float]]) {
    let session = Session(id: "", url: URL(fileURLWithPath: sessionPath))
    let directory = try #require(session.checkpoint(.last))
    let state = try CheckpointStore.readTrainState(in: directory)
    return (try CheckpointStore.readModel(in: directory).mapValues(\.values),
            try CheckpointStore.readOptimizer(in: directory, digest: state.optimizerDigest).mapValues(\.values))
}

/// Bit patterns, so that -0.0 vs 0.0 or a NaN would count as a difference.
private func bits(_ tensors: [String: [Float]]) -> [String: [UInt32]] { tensors.mapValues { $0.map(\.bitPattern) } }

/// Metric lines without the wall-clock fields.
private func metrics(_ sessionPath: String) throws -> [MetricRecord] {
    let data = try Data(contentsOf: URL(fileURLWithPath: sessionPath).appendingPathComponent("metrics.jsonl"))
    return try data.split(separator: UInt8(ascii: "\n")).map {
        var record = try JSONDecoder().decode(MetricRecord.self, from: Data($0))
        record.imagesPerSecond = nil
        record.seconds = nil
        return record
    }
}

@Suite(.serialized) struct TrainerTests {
    /// Stops at the epoch boundary (6 steps per epoch) and in the middle of epoch 1; with a record every 4 steps,
    /// both stops fall inside a record's window, which the checkpoint must carry over.
    @Test(arguments: [(6, 1), (3, 1), (6, 4), (3, 4)])
    func resumedRunIsBitIdenticalToAnUninterruptedOne(stopAt: Int, metricsEvery: Int) throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let store = SessionStore(root: root)
        let config = TinyRun.config(metricsEvery: metricsEvery)

        let straight = TinyRun.run(RunRequest(.new(config), sessions: store, sources: TinyRun.sources))
        #expect(TinyRun.failure(in: straight) == nil)
        let straightPath = try #require(TinyRun.session(of: straight))

        let first = TinyRun.run(RunRequest(.new(config), sessions: store, sources: TinyRun.sources,
                                           stopAtGlobalStep: stopAt))
        let interruptedPath = try #require(TinyRun.session(of: first))
        let stoppedState = try CheckpointStore.readTrainState(
            in: #require(Session(id: "", url: URL(fileURLWithPath: interruptedPath)).checkpoint(.last)))
        #expect(stoppedState.position.globalStep == stopAt)
        #expect(stoppedState.position.recordWindow.seen == 4 * (stopAt % metricsEvery))
        let second = TinyRun.run(RunRequest(.resume(id: interruptedPath, epochs: nil), sessions: store, sources: TinyRun.sources))
        #expect(TinyRun.failure(in: second) == nil)
        guard case let .started(run)? = second.first(where: { if case .started = $0 { true } else { false } }) else {
            Issue.record("no started event")
            return
        }
        #expect(run.sessionPath == interruptedPath)
        #expect(run.startEpoch == (stopAt == 6 ? 2 : 1))

        let a = try lastTensors(straightPath)
        let b = try lastTensors(interruptedPath)
        #expect(!a.model.isEmpty && a.model.keys.contains("bn.running_mean") && a.model.keys.contains("bn.num_batches_tracked"))
        #expect(bits(a.model) == bits(b.model))
        #expect(bits(a.optimizer) == bits(b.optimizer))
        #expect(try metrics(straightPath) == metrics(interruptedPath))
        #expect(try metrics(straightPath).filter { $0.kind == .step }.count == 12 / metricsEvery)
        // The records the two runs posted are the same (but for their wall-clock speed).
        func figures(_ events: [TrainingEvent]) -> [StepRecord] {
            TinyRun.records(in: events).map { var r = $0; r.imagesPerSecond = 0; return r }
        }
        #expect(figures(straight) == figures(first + second))
        // The evaluations after the resume report what the straight run reported.
        let straightEvaluations = straight.compactMap { if case let .evaluation(e) = $0 { e.testLoss } else { nil } }
        let resumedEvaluations = (first + second).compactMap { if case let .evaluation(e) = $0 { e.testLoss } else { nil } }
        #expect(straightEvaluations.count == 2)
        #expect(straightEvaluations == resumedEvaluations)
    }

    @Test func pauseLearningRateSaveAndResumeCommands() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        var stepsWhilePaused = 0
        var paused = false
        var stepRates: [Float] = []
        let events = TinyRun.run(RunRequest(.new(TinyRun.config(epochs: 1, schedule: "constant")),
                                            sessions: SessionStore(root: root), sources: TinyRun.sources,
                                            startPaused: true)) { handle, event in
            switch event {
            case .stateChanged(.paused):
                paused = true
                handle.send(.setLearningRate(0.02))
                handle.send(.setLearningRate(-1))  // ignored: not a learning rate
                handle.send(.saveCheckpoint)
            case .checkpointSaved where paused:
                paused = false
                handle.send(.resume)
            case .step:
                if paused { stepsWhilePaused += 1 }
            case let .record(record):
                stepRates.append(record.learningRate)
            default:
                break
            }
        }
        #expect(TinyRun.failure(in: events) == nil)
        #expect(stepsWhilePaused == 0)
        let changes = events.compactMap { if case let .learningRateChanged(lr, step, manual) = $0 { (lr, step, manual) } else { nil } }
        #expect(changes.count == 1)
        #expect(changes.first?.0 == 0.02 && changes.first?.2 == true)
        let pauseAt = try #require(events.firstIndex(of: .stateChanged(.paused)))
        let resumeAt = try #require(events.lastIndex(of: .stateChanged(.running)))
        #expect(pauseAt < resumeAt)
        // Every step ran after the pause, at the new rate; the metrics record the change.
        #expect(!stepRates.isEmpty && stepRates.allSatisfy { $0 == 0.02 })
        #expect(!events[..<pauseAt].contains { if case .step = $0 { true } else { false } })
        let path = try #require(TinyRun.session(of: events))
        let records = try metrics(path)
        #expect(records.contains { $0.kind == .lr && $0.lrChange == "manual" && $0.lr == 0.02 })
        #expect(records.filter { $0.kind == .epoch }.count == 1)
    }

    @Test func stopWhilePausedSavesAndEnds() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let events = TinyRun.run(RunRequest(.new(TinyRun.config()), sessions: SessionStore(root: root),
                                            sources: TinyRun.sources, startPaused: true)) { handle, event in
            if event == .stateChanged(.paused) { handle.send(.stop) }
        }
        #expect(TinyRun.failure(in: events) == nil)
        #expect(events.contains { if case .checkpointSaved(_, 0) = $0 { true } else { false } })
        #expect(!events.contains { if case .step = $0 { true } else { false } })
        #expect(events.last.map { if case .finished = $0 { true } else { false } } == true)
    }

    @Test func evaluationEventsDescribeTheTestSet() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let events = TinyRun.run(RunRequest(.new(TinyRun.config(epochs: 1, schedule: "constant")), sessions: SessionStore(root: root),
                                            sources: TinyRun.sources))
        #expect(TinyRun.failure(in: events) == nil)
        let evaluation = try #require(events.compactMap { if case let .evaluation(e) = $0 { e } else { nil } }.first)
        #expect(evaluation.confusion.count == 3 && evaluation.confusion.allSatisfy { $0.count == 3 })
        #expect(evaluation.confusion.flatMap { $0 }.reduce(0, +) == 12)
        let correct = (0..<3).reduce(0) { $0 + evaluation.confusion[$1][$1] }
        #expect(evaluation.testAccuracy == Float(correct) / 12)
        #expect(evaluation.perClassAccuracy.count == 3)
        #expect(evaluation.preview.count == 12)  // fewer test images than the preview holds
        #expect(evaluation.misclassified.count == 12 - correct)
        #expect(evaluation.misclassified.allSatisfy { !$0.isCorrect })
        for image in evaluation.preview {
            #expect(image.pixels.count == 36 && image.topK.count == 3)
            #expect(zip(image.topK, image.topK.dropFirst()).allSatisfy { $0.probability >= $1.probability })
            #expect(abs(image.topK.map(\.probability).reduce(0, +) - 1) < 1e-4)
            #expect(image.predictedClass == image.topK[0].classIndex)
        }
        // `cnntui eval` on the saved checkpoint agrees with what the run reported.
        let path = try #require(TinyRun.session(of: events))
        let model = try SessionModel(session: Session(id: "", url: URL(fileURLWithPath: path)), sources: TinyRun.sources)
        let offline = try model.evaluate()
        #expect(offline.accuracy == evaluation.testAccuracy)
        #expect(offline.confusion == evaluation.confusion)
        #expect(abs(offline.loss - evaluation.testLoss) <= 1e-6 * max(1, abs(evaluation.testLoss)))
        let dataset = TinyRun.dataset()
        let predictions = try model.predict([Array(dataset.test.image(at: 0)), Array(dataset.test.image(at: 1))], k: 2)
        #expect(predictions.count == 2 && predictions.allSatisfy { $0.top.count == 2 })
        #expect(predictions[0].top[0].classIndex == evaluation.preview[0].predictedClass)
        let logits = predictions[0].logits
        #expect(logits.count == dataset.classNames.count && logits.firstIndex(of: logits.max()!) == predictions[0].top[0].classIndex)
    }

    @Test func aDamagedCheckpointIsRefusedAndTheSessionLeftAlone() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let store = SessionStore(root: root)
        let first = TinyRun.run(RunRequest(.new(TinyRun.config()), sessions: store, sources: TinyRun.sources, stopAtGlobalStep: 3))
        let path = try #require(TinyRun.session(of: first))
        let session = Session(id: "", url: URL(fileURLWithPath: path))
        let model = try #require(session.checkpoint(.last)).appendingPathComponent("model.safetensors")
        var bytes = try Data(contentsOf: model)
        bytes[bytes.count - 1] ^= 0x01
        try bytes.write(to: model)
        let before = try snapshot(URL(fileURLWithPath: path))

        let resumed = TinyRun.run(RunRequest(.resume(id: path, epochs: nil), sessions: store, sources: TinyRun.sources))
        let message = try #require(TinyRun.failure(in: resumed))
        #expect(message.contains(model.path))
        #expect(try snapshot(URL(fileURLWithPath: path)) == before)

        try bytes.prefix(bytes.count / 2).write(to: model)
        let truncated = try snapshot(URL(fileURLWithPath: path))
        let again = TinyRun.run(RunRequest(.resume(id: path, epochs: nil), sessions: store, sources: TinyRun.sources))
        #expect(TinyRun.failure(in: again)?.contains(model.path) == true)
        #expect(try snapshot(URL(fileURLWithPath: path)) == truncated)
    }

    @Test func setupErrorsNameTheFlag() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        var config = TinyRun.config()
        config.dataset = "no-such-dataset"
        config.dataDirectory = root.path
        let events = TinyRun.run(RunRequest(.new(config), sessions: SessionStore(root: root)))
        #expect(TinyRun.failure(in: events)?.hasPrefix("--dataset") == true)
        #expect(RunInfo.list(SessionStore(root: root)).isEmpty)  // nothing was created
        // The failure is told once, as the last event; no `stateChanged(.failed)` repeats it.
        #expect(events.filter { if case .failed = $0 { true } else { false } }.count == 1)
        #expect(events.last.map { if case .failed = $0 { true } else { false } } == true)
        #expect(!events.contains(.stateChanged(.failed)))
    }
}
