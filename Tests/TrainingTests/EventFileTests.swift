import Foundation
import Testing
@testable import Training

/// The training process's events file: what it posts, thinned steps aside, and a resume that never repeats a line.
@Suite(.serialized) struct EventFileTests {
    static func lines(_ sessionPath: String) throws -> [SessionEvents.Line] {
        try SessionEvents.read(Session(id: "", url: URL(fileURLWithPath: sessionPath)).eventsURL)
    }

    static func isStep(_ event: TrainingEvent) -> Bool { if case .step = event { true } else { false } }

    static func steps(_ events: [TrainingEvent]) -> [StepEvent] {
        events.compactMap { if case .step(let s) = $0 { s } else { nil } }
    }

    /// What the in-process consumers got, but for the `starting` the engine says before there is a session.
    static func posted(_ events: [TrainingEvent]) -> [TrainingEvent] {
        events.filter { $0 != .stateChanged(.starting) }
    }

    static func eventsLength(_ sessionPath: String) throws -> Int? {
        let session = Session(id: "", url: URL(fileURLWithPath: sessionPath))
        return try CheckpointStore.readTrainState(in: #require(session.checkpoint(.last))).eventsLength
    }

    @Test func theFileHoldsEveryEventButThinnedSteps() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let events = TinyRun.run(RunRequest(.new(TinyRun.config()), sessions: SessionStore(root: root), sources: TinyRun.sources))
        let lines = try Self.lines(try #require(TinyRun.session(of: events)))
        let written = lines.map(\.event)

        #expect(lines.first?.pid == getpid() && lines.dropFirst().allSatisfy { $0.pid == nil })
        #expect(written.filter { !Self.isStep($0) } == Self.posted(events).filter { !Self.isStep($0) })
        // The steps written are the run's own, in order; the one before each evaluation and the last are there.
        // (Not necessarily among those this consumer drained: the channel coalesces steps a slow drain misses.)
        let postedSteps = Self.steps(events), writtenSteps = Self.steps(written)
        let lastStep = postedSteps.last?.globalStep ?? 0
        #expect(writtenSteps.allSatisfy { $0.globalStep >= 1 && $0.globalStep <= lastStep && $0.totalSteps == postedSteps.last?.totalSteps }
                && writtenSteps.map(\.globalStep) == writtenSteps.map(\.globalStep).sorted())
        #expect(writtenSteps.last == postedSteps.last)
        for (index, event) in written.enumerated() {
            guard case .evaluation(let e) = event else { continue }
            let before = written[..<index].last(where: Self.isStep)
            #expect(before.map { if case .step(let s) = $0 { s.globalStep } else { -1 } } == e.globalStep)
        }
        // How many steps the file keeps depends on how fast this machine steps (under a loaded test run, slower
        // than one per `EventFile.stepInterval`, it keeps them all): the thinning itself is
        // `stepsAreThinnedAndTheNewestKept`'s, on a clock this test does not own.
    }

    /// A step is written when a quarter of a second has passed since the last one; the newest held one is
    /// written before any other event but records and health.
    @Test func stepsAreThinnedAndTheNewestKept() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let session = try SessionStore(root: root).create(config: TinyRun.config())
        let file = try EventFile(session: session, keep: 0)
        func step(_ n: Int) -> TrainingEvent {
            .step(StepEvent(epoch: 1, step: n, stepsPerEpoch: 10, globalStep: n, totalSteps: 10, etaSeconds: nil))
        }
        let record = TrainingEvent.record(StepRecord(epoch: 1, step: 3, globalStep: 3, loss: 1, accuracy: 0.5,
                                                     imagesPerSecond: 10, learningRate: 0.1))
        try file.append(step(1))
        try file.append(step(2))
        Thread.sleep(forTimeInterval: EventFile.stepInterval + 0.05)
        try file.append(step(3))
        try file.append(step(4))
        try file.append(record)
        try file.append(step(5))
        try file.append(.stateChanged(.paused))
        #expect(try SessionEvents.read(session.eventsURL).map(\.event) == [step(1), step(3), record, step(5), .stateChanged(.paused)])
        #expect(file.length == (try Data(contentsOf: session.eventsURL)).count)
    }

    @Test func aResumeCutsTheFileBackToItsCheckpoint() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let store = SessionStore(root: root)
        let first = TinyRun.run(RunRequest(.new(TinyRun.config()), sessions: store, sources: TinyRun.sources, stopAtGlobalStep: 3))
        let path = try #require(TinyRun.session(of: first))
        let url = Session(id: "", url: URL(fileURLWithPath: path)).eventsURL
        let before = try Data(contentsOf: url)
        let kept = try #require(try Self.eventsLength(path))
        #expect(kept < before.count, "the stop's `finished` comes after the checkpoint")
        let keptLines = try Self.lines(path).prefix { if case .finished = $0.event { false } else { true } }
        guard case .checkpointSaved(let checkpoint, 3)? = keptLines.last?.event else {
            Issue.record("the kept part ends with the checkpoint's own line: \(String(describing: keptLines.last))")
            return
        }
        #expect(checkpoint == Session(id: "", url: URL(fileURLWithPath: path)).checkpoint(.last)?.path)
        var status = stat()
        stat(url.path, &status)
        let inode = status.st_ino

        let second = TinyRun.run(RunRequest(.resume(id: path, epochs: nil), sessions: store, sources: TinyRun.sources))
        #expect(TinyRun.failure(in: second) == nil)
        let after = try Data(contentsOf: url)
        #expect(after.prefix(kept) == before.prefix(kept))
        stat(url.path, &status)
        #expect(status.st_ino != inode, "followers see a new file and start over")
        let written = try Self.lines(path).map(\.event).filter { !Self.isStep($0) }
        let expected = Array(keptLines.map(\.event)) + Self.posted(second)
        #expect(written == expected.filter { !Self.isStep($0) })
        #expect(written.filter { if case .finished = $0 { true } else { false } }.count == 1, "the stop's end is gone")
    }

    @Test func aCheckpointFromBeforeEventsFilesStartsTheFileAgain() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let store = SessionStore(root: root)
        let first = TinyRun.run(RunRequest(.new(TinyRun.config()), sessions: store, sources: TinyRun.sources, stopAtGlobalStep: 3))
        let path = try #require(TinyRun.session(of: first))
        let session = Session(id: "", url: URL(fileURLWithPath: path))
        let directory = try #require(session.checkpoint(.last))
        var state = try CheckpointStore.readTrainState(in: directory)
        state.eventsLength = nil
        try JSONFile.write(state, to: directory.appendingPathComponent(CheckpointStore.stateFile))

        let second = TinyRun.run(RunRequest(.resume(id: path, epochs: nil), sessions: store, sources: TinyRun.sources))
        #expect(TinyRun.failure(in: second) == nil)
        #expect(try Self.lines(path).map(\.event).filter { !Self.isStep($0) } == Self.posted(second).filter { !Self.isStep($0) })
    }

    @Test func aFileShorterThanItsCheckpointKeepsItsWholeLines() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let store = SessionStore(root: root)
        let first = TinyRun.run(RunRequest(.new(TinyRun.config()), sessions: store, sources: TinyRun.sources, stopAtGlobalStep: 3))
        let path = try #require(TinyRun.session(of: first))
        let url = Session(id: "", url: URL(fileURLWithPath: path)).eventsURL
        let whole = try Data(contentsOf: url)
        let firstLineEnd = try #require(whole.firstIndex(of: UInt8(ascii: "\n")))
        // The first line and half of the second: a torn line, which must not swallow the next one written.
        try whole.prefix(firstLineEnd + 20).write(to: url)

        let second = TinyRun.run(RunRequest(.resume(id: path, epochs: nil), sessions: store, sources: TinyRun.sources))
        #expect(TinyRun.failure(in: second) == nil)
        let written = try Self.lines(path).map(\.event)
        #expect(written.first == first.first { if case .started = $0 { true } else { false } })
        #expect(written.dropFirst().filter { !Self.isStep($0) } == Self.posted(second).filter { !Self.isStep($0) })
    }
}
