import Foundation
import Testing
@testable import Training

/// Following a file another process appends to: whole lines only, from where it stopped, starting over when the
/// file is cut or replaced.
@Suite struct EventFollowerTests {
    final class Scratch {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cnntui-follow-\(UUID().uuidString)")
        var url: URL { directory.appendingPathComponent("events.jsonl") }
        init() throws { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(at: directory) }

        /// Appends as a writer does (O_APPEND, one write).
        func append(_ text: String) {
            let fd = open(url.path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
            _ = text.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
            close(fd)
        }
    }

    static func texts(_ batch: EventFollower.Batch) -> [String] { batch.lines.map { String(decoding: $0.bytes, as: UTF8.self) } }

    @Test func aMissingFileIsNothingYetAndAGrowingOneGivesItsNewLines() throws {
        let scratch = try Scratch()
        let follower = EventFollower(url: scratch.url)
        #expect(follower.poll() == EventFollower.Batch())
        scratch.append("one\ntwo\n")
        let first = follower.poll()
        #expect(!first.reset && Self.texts(first) == ["one", "two"] && first.lines.map(\.number) == [1, 2])
        #expect(follower.poll() == EventFollower.Batch())
        scratch.append("three\n\nfive\n")
        let second = follower.poll()
        #expect(!second.reset && Self.texts(second) == ["three", "five"] && second.lines.map(\.number) == [3, 5])
    }

    @Test func aPartLineWaitsForTheRest() throws {
        let scratch = try Scratch()
        let follower = EventFollower(url: scratch.url)
        scratch.append("whole\n{\"v\":1,\"ti")
        #expect(Self.texts(follower.poll()) == ["whole"])
        #expect(follower.poll().lines.isEmpty)
        scratch.append("me\":2}")
        #expect(follower.poll().lines.isEmpty)
        scratch.append("\nnext\n")
        let rest = follower.poll()
        #expect(Self.texts(rest) == ["{\"v\":1,\"time\":2}", "next"] && rest.lines.map(\.number) == [2, 3])
    }

    @Test func aFileCutBelowWhatWasReadStartsOver() throws {
        let scratch = try Scratch()
        let follower = EventFollower(url: scratch.url)
        scratch.append("a1\na2\na3\npart")
        #expect(Self.texts(follower.poll()) == ["a1", "a2", "a3"])
        // A resume keeps the first line, then appends; the follower had read past it.
        #expect(truncate(scratch.url.path, 3) == 0)
        scratch.append("b2\n")
        let after = follower.poll()
        #expect(after.reset && Self.texts(after) == ["a1", "b2"] && after.lines.map(\.number) == [1, 2])
        // To nothing at all.
        #expect(truncate(scratch.url.path, 0) == 0)
        let emptied = follower.poll()
        #expect(emptied.reset && emptied.lines.isEmpty)
        scratch.append("c1\n")
        #expect(follower.poll() == EventFollower.Batch(lines: [.init(number: 1, bytes: Data("c1".utf8))]))
    }

    @Test func aReplacedFileStartsOverEvenWhenLonger() throws {
        let scratch = try Scratch()
        let follower = EventFollower(url: scratch.url)
        scratch.append("old1\n")
        #expect(Self.texts(follower.poll()) == ["old1"])
        try AtomicFile.write(Data("new1\nnew2 is longer than the old file\n".utf8), to: scratch.url)
        let after = follower.poll()
        #expect(after.reset && Self.texts(after) == ["new1", "new2 is longer than the old file"])
        scratch.append("new3\n")
        #expect(follower.poll() == EventFollower.Batch(lines: [.init(number: 3, bytes: Data("new3".utf8))]))
    }

    @Test func aRemovedFileKeepsWhatWasReadUntilAnotherAppears() throws {
        let scratch = try Scratch()
        let follower = EventFollower(url: scratch.url)
        scratch.append("x1\n")
        _ = follower.poll()
        try FileManager.default.removeItem(at: scratch.url)
        #expect(follower.poll() == EventFollower.Batch())
        scratch.append("y1\n")
        let after = follower.poll()
        #expect(after.reset && Self.texts(after) == ["y1"])
    }
}

/// A followed run: its events, problems named, and "interrupted" once its process is gone without a last event.
@Suite struct RunFollowerTests {
    final class Writer: @unchecked Sendable {
        let scratch: EventFollowerTests.Scratch
        let session: Session
        init() throws {
            scratch = try EventFollowerTests.Scratch()
            session = Session(id: "run", url: scratch.directory)
        }
        func write(_ event: TrainingEvent, pid: Int32? = nil) throws {
            scratch.append(String(decoding: try SessionEvents.encode(event, time: 1, pid: pid), as: UTF8.self))
        }
    }

    static let started = TrainingEvent.started(SessionEventsTests.run)
    static let step = TrainingEvent.step(StepEvent(epoch: 2, step: 1, stepsPerEpoch: 50, globalStep: 51, totalSteps: 150,
                                                   etaSeconds: nil))

    @Test func aQuietFileWhoseWriterIsGoneIsInterruptedOnce() throws {
        let writer = try Writer()
        var alive = true
        var asked: [Int32?] = []
        let follower = RunFollower(session: writer.session) { _, pid in asked.append(pid); return alive }
        try writer.write(Self.started, pid: 777)
        try writer.write(Self.step)
        #expect(follower.poll(now: 0).events == [Self.started, Self.step])
        #expect(follower.poll(now: 1).events.isEmpty && asked == [777])
        alive = false
        #expect(follower.poll(now: 1.2).events.isEmpty, "checked at most every half second")
        #expect(follower.poll(now: 1.6).events == [.stateChanged(.interrupted)])
        #expect(follower.poll(now: 3).events.isEmpty && asked == [777, 777])
        // Resumed by another process: its lines come, and it is followed again.
        alive = true
        try writer.write(Self.started, pid: 778)
        #expect(follower.poll(now: 4).events == [Self.started])
        #expect(follower.poll(now: 5).events.isEmpty && asked.last == 778)
    }

    @Test func aRunThatEndedIsNeverInterrupted() throws {
        let writer = try Writer()
        let follower = RunFollower(session: writer.session) { _, _ in false }
        try writer.write(Self.started, pid: 777)
        try writer.write(.finished(testAccuracy: 0.9))
        #expect(follower.poll(now: 0).events == [Self.started, .finished(testAccuracy: 0.9)])
        #expect(follower.poll(now: 1).events.isEmpty)
    }

    @Test func theLastLinesOfAWriterThatJustExitedComeBeforeAnyVerdict() throws {
        let writer = try Writer()
        // The writer finishes between the follower's read and its look at the process.
        let follower = RunFollower(session: writer.session) { _, _ in
            try? writer.write(.finished(testAccuracy: 0.5))
            return false
        }
        try writer.write(Self.started, pid: 777)
        #expect(follower.poll(now: 0).events == [Self.started])
        #expect(follower.poll(now: 1).events == [.finished(testAccuracy: 0.5)])
    }

    @Test func badLinesAreNamedAndTheRestFollowed() throws {
        let writer = try Writer()
        let follower = RunFollower(session: writer.session) { _, _ in true }
        try writer.write(Self.started)
        writer.scratch.append("{\"v\":1,\"oops\n")
        try writer.write(Self.step)
        let update = follower.poll(now: 0)
        #expect(update.events == [Self.started, Self.step])
        #expect(update.problems.count == 1 && update.problems[0].contains(writer.session.eventsURL.path)
            && update.problems[0].contains("line 2"))
    }

    @Test func aResetForgetsTheRun() throws {
        let writer = try Writer()
        let follower = RunFollower(session: writer.session) { _, _ in false }
        try writer.write(Self.started, pid: 1)
        _ = follower.poll(now: 0)
        try AtomicFile.write(Data(), to: writer.session.eventsURL)
        let update = follower.poll(now: 1)
        #expect(update.reset && update.events.isEmpty, "nothing written yet: not a run to call interrupted")
        #expect(follower.poll(now: 2).events.isEmpty)
    }

    @Test func theDefaultLivenessFindsThisProcessAndNotADeadOne() {
        let session = Session(id: "x", url: URL(fileURLWithPath: "/nonexistent"))
        #expect(RunFollower.processExists(session, getpid()))
        #expect(RunFollower.processExists(session, nil))
        #expect(!RunFollower.processExists(session, Int32.max))
    }
}
