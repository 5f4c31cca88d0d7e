import Foundation
import Testing
@testable import Training

@Suite(.serialized) struct StepRecordTests {
    /// The same run recorded every step and every 3 steps: each 3-step record is the mean of the three 1-step
    /// records it covers (per image, as the epoch's train loss), not the last batch alone; the metrics hold
    /// exactly the records the events carried.
    @Test func recordsAreMeansOverTheStepsSinceThePreviousOne() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let store = SessionStore(root: root)
        let config = TinyRun.config(schedule: "constant")
        let everyStep = TinyRun.run(RunRequest(.new(config), sessions: store, sources: TinyRun.sources))
        var every3 = config
        every3.metricsEvery = 3
        let windowed = TinyRun.run(RunRequest(.new(every3), sessions: store, sources: TinyRun.sources))
        #expect(TinyRun.failure(in: everyStep) == nil && TinyRun.failure(in: windowed) == nil)

        let steps = TinyRun.records(in: everyStep)
        let records = TinyRun.records(in: windowed)
        #expect(steps.count == 12 && records.map(\.globalStep) == [3, 6, 9, 12])
        let batch = 4.0
        for record in records {
            let window = steps.filter { (record.globalStep - 2...record.globalStep).contains($0.globalStep) }
            let loss = Float(window.reduce(0.0) { $0 + Double($1.loss) * batch } / (batch * 3))
            let correct = window.reduce(0) { $0 + Int($1.accuracy * Float(batch)) }
            #expect(record.loss == loss, "step \(record.globalStep)")
            #expect(record.accuracy == Float(correct) / Float(batch * 3), "step \(record.globalStep)")
            #expect(record.learningRate == window.last?.learningRate && record.step == window.last?.step)
            #expect(record.imagesPerSecond > 0)
        }
        // Different windows, different figures: the 3-step records are not just every third batch.
        #expect(records.map(\.loss) != steps.filter { $0.globalStep % 3 == 0 }.map(\.loss))

        let path = try #require(TinyRun.session(of: windowed))
        let lines = try MetricsLog.read(URL(fileURLWithPath: path).appendingPathComponent("metrics.jsonl"))
        #expect(lines.compactMap(\.stepRecord) == records)
    }

    /// A run's end is told once: `.finished` is the last event, and no `stateChanged` says it again (a failed
    /// run: `TrainerTests.setupErrorsNameTheFlag`).
    @Test func theEndOfARunIsPostedOnce() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let finished = TinyRun.run(RunRequest(.new(TinyRun.config(epochs: 1, schedule: "constant")), sessions: SessionStore(root: root),
                                              sources: TinyRun.sources))
        #expect(TinyRun.failure(in: finished) == nil)
        #expect(finished.filter { if case .finished = $0 { true } else { false } }.count == 1)
        #expect(finished.last.map { if case .finished = $0 { true } else { false } } == true)
        #expect(!finished.contains(.stateChanged(.finished)))

        let stopped = TinyRun.run(RunRequest(.new(TinyRun.config()), sessions: SessionStore(root: root),
                                             sources: TinyRun.sources, stopAtGlobalStep: 2))
        #expect(stopped.filter { if case .finished = $0 { true } else { false } }.count == 1)
        #expect(!stopped.contains(.stateChanged(.finished)))
    }
}

@Suite struct MetricsReaderTests {
    private func file(_ lines: [String]) throws -> URL {
        let url = try temporaryDirectory().appendingPathComponent("metrics.jsonl")
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test func aLineThatIsNotARecordIsNamedWithItsFileAndNumber() throws {
        let url = try file([
            #"{"kind":"step","epoch":1,"step":1,"global_step":1,"lr":0.1,"loss":2.5,"accuracy":0.25}"#,
            "",
            #"{"kind":"step","epoch":1,"global_step":"#,
        ])
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        do {
            _ = try MetricsLog.read(url)
            Issue.record("a truncated line was read")
        } catch let error as TrainingError {
            let message = "\(error)"
            #expect(message.contains(url.path) && message.contains("line 3 is not a metrics record"), "\(message)")
        }
        // A resume reads only the records its checkpoint covers, so a damaged line after them is no error.
        #expect(try MetricsLog.read(url, limit: 1).count == 1)
        #expect(try MetricsLog.read(url.appendingPathExtension("missing")).isEmpty)
    }

    /// Files written before records were means: one sampled batch per step line, speed optional.
    @Test func oldSampledStepLinesReadAsRecords() throws {
        let url = try file([
            #"{"kind":"step","epoch":1,"step":10,"global_step":10,"lr":0.01,"loss":1.5,"accuracy":0.5,"images_per_second":800}"#,
            #"{"kind":"step","epoch":1,"step":20,"global_step":20,"lr":0.01,"loss":1.25,"accuracy":0.625}"#,
        ])
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        let records = try MetricsLog.read(url).compactMap(\.stepRecord)
        #expect(records == [
            StepRecord(epoch: 1, step: 10, globalStep: 10, loss: 1.5, accuracy: 0.5, imagesPerSecond: 800, learningRate: 0.01),
            StepRecord(epoch: 1, step: 20, globalStep: 20, loss: 1.25, accuracy: 0.625, imagesPerSecond: 0, learningRate: 0.01),
        ])
    }
}
