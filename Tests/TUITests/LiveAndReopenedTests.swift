import Data
import Foundation
import Testing
import Training
@testable import TUI

/// A real run (MyCNN on a small synthetic set) shown live, then reopened from its files: one curve.
@Suite(.serialized) struct LiveAndReopenedTests {
    /// Class c brightens column band c; the rest is a fixed pattern.
    static func imageSet(count: Int, salt: Int) -> ImageSet {
        var pixels: [UInt8] = []
        var labels: [Int32] = []
        for i in 0..<count {
            let label = i % 3
            labels.append(Int32(label))
            for y in 0..<28 {
                for x in 0..<28 {
                    pixels.append(x / 9 == label ? 200 : UInt8((i * 37 + y * 11 + x * 7 + salt) % 120))
                }
            }
        }
        return ImageSet(channels: 1, height: 28, width: 28, pixels: pixels, labels: labels)
    }

    static let sources = RunSources(
        loadDataset: { _, _ in
            Dataset(name: "synthetic", classNames: ["left", "middle", "right"], train: imageSet(count: 64, salt: 1),
                    test: imageSet(count: 24, salt: 2), mean: [0.3], std: [0.3], source: "memory")
        },
        buildModel: RunSources.standard.buildModel)

    @Test func theReopenedSessionDrawsTheLiveTrainCurves() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cnntui-live-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        // 8 steps per epoch, a record every 3 steps: windows cross the epoch boundary.
        let config = TrainingConfig(model: "mycnn", dataset: "synthetic", epochs: 2, batchSize: 8, optimizer: .adam,
                                    learningRate: 0.01, schedule: "cosine", seed: 3, threads: 1, metricsEvery: 3)
        let handle = Trainer.start(RunRequest(.new(config), sessions: SessionStore(root: root), sources: Self.sources))
        var live = DashboardModel()
        var ended = false
        while !ended {
            handle.events.waitForEvents(timeout: 5)
            for event in handle.events.drain() {
                live.apply(event)
                if case .failed(let message) = event { Issue.record("the run failed: \(message)") }
                switch event {
                case .finished, .failed: ended = true
                default: break
                }
            }
        }
        handle.wait()
        let session = Session(id: "", url: URL(fileURLWithPath: try #require(live.run?.sessionPath)))

        // A viewer in another process folds the events file into the screen the live run drew, images included.
        let follower = RunFollower(session: session) { _, _ in true }
        var attached = DashboardModel()
        attached.isAttached = true
        let update = follower.poll()
        #expect(!update.reset && update.problems.isEmpty)
        for event in update.events { attached.apply(event) }
        Self.expectSameScreen(attached, live)
        #expect(try #require(attached.lastEvaluation).misclassified.count + attached.preview.count > 0)
        // `open` shows the same from the file.
        Self.expectSameScreen(try SessionHistory.model(of: session), live)

        // A session from before events files reopens from its metrics: the same train curves.
        try FileManager.default.removeItem(at: session.eventsURL)
        let reopened = try SessionHistory.model(of: session)

        #expect(live.trainLoss.points.map(\.x) == [3, 6, 9, 12, 15])
        #expect(reopened.trainLoss.points == live.trainLoss.points)
        #expect(reopened.trainAccuracy.points == live.trainAccuracy.points)
        #expect(reopened.testLoss.points == live.testLoss.points)
        #expect(reopened.lastRecord == live.lastRecord)
        #expect(reopened.state == .finished && live.state == .finished)

        #expect(reopened.lastEvaluation?.preview.isEmpty == true, "the metrics keep no images")

        // Both say what a point of the train curves is.
        let title = DashboardScreen().title(.loss, model: reopened, ui: UIState())
        #expect(title == "Loss: train (mean of 3 steps), test")
        #expect(DashboardScreen().title(.accuracy, model: live, ui: UIState()) == "Accuracy: train (mean of 3 steps), test")
    }

    /// Everything the pages draw from.
    static func expectSameScreen(_ a: DashboardModel, _ b: DashboardModel, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.run == b.run, sourceLocation: sourceLocation)
        #expect(a.state == b.state && a.lastStep == b.lastStep && a.lastRecord == b.lastRecord, sourceLocation: sourceLocation)
        #expect(a.trainLoss.points == b.trainLoss.points && a.trainAccuracy.points == b.trainAccuracy.points,
                sourceLocation: sourceLocation)
        #expect(a.testLoss.points == b.testLoss.points && a.testAccuracy.points == b.testAccuracy.points,
                sourceLocation: sourceLocation)
        #expect(a.learningRate.points == b.learningRate.points && a.manualLearningRateChanges == b.manualLearningRateChanges,
                sourceLocation: sourceLocation)
        #expect(a.lastEvaluation == b.lastEvaluation && a.bestTestAccuracy == b.bestTestAccuracy, sourceLocation: sourceLocation)
        #expect(a.lastCheckpoint == b.lastCheckpoint && a.finalTestAccuracy == b.finalTestAccuracy, sourceLocation: sourceLocation)
        #expect(a.health == b.health && a.notice == b.notice, sourceLocation: sourceLocation)
    }
}
