import Foundation
import Testing
@testable import Training

/// What `cnntui runs` and `compare` read from a session: the status, liveness from control.json, sorting,
/// filtering, the recipe fields that differ, near matches of a mistyped ID.
@Suite struct RunsTests {
    func summary(finished: Bool = false, globalStep: Int? = nil) -> SessionSummary {
        SessionSummary(id: "s", path: "/s", model: "mycnn", dataset: "mnist", epochs: 2, epochsDone: nil,
                       globalStep: globalStep, lastTestAccuracy: nil, bestTestAccuracy: nil, finished: finished)
    }

    @Test func statusFromALiveProcessThenTheLastCheckpoint() {
        #expect(RunStatus.of(summary(), live: nil) == .new)
        #expect(RunStatus.of(summary(globalStep: 40), live: nil) == .interrupted)
        #expect(RunStatus.of(summary(finished: true, globalStep: 80), live: nil) == .finished)
        #expect(RunStatus.of(summary(globalStep: 40), live: LiveRun(pid: 7, paused: false)) == .running(pid: 7))
        #expect(RunStatus.of(summary(), live: LiveRun(pid: 7, paused: true)) == .paused(pid: 7))
        #expect(RunStatus.running(pid: 7).text == "running (pid 7)" && RunStatus.interrupted.text == "interrupted")
    }

    func temporarySession() throws -> Session {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cnntui-runs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return Session(id: url.lastPathComponent, url: url)
    }

    @Test func aControlFileWhoseSocketDoesNotAnswerIsStaleAndCleaned() throws {
        let session = try temporarySession()
        defer { try? FileManager.default.removeItem(at: session.url) }
        #expect(RunProcess.live(session) == nil, "no control.json")
        // This process exists, but nothing listens on the socket the file names: a killed run's leftovers.
        let stale = ControlFile(pid: getpid(), socket: session.url.appendingPathComponent("gone.sock").path,
                                started: 0, host: ProcessInfo.processInfo.hostName)
        try JSONEncoder().encode(stale).write(to: ControlFile.url(in: session))
        #expect(RunProcess.live(session) == nil)
        #expect(!FileManager.default.fileExists(atPath: ControlFile.url(in: session).path), "the stale file is removed")
        try Data("{\"v\":1,\"pid\":".utf8).write(to: ControlFile.url(in: session))
        #expect(RunProcess.live(session) == nil, "a half-written file is not a live run")
    }

    @Test func aRunWhoseProcessEndedItEarlyIsStoppedAKilledOneInterrupted() throws {
        let session = try temporarySession()
        defer { try? FileManager.default.removeItem(at: session.url) }
        let checkpointed = summary(globalStep: 40)
        try Data("{\"v\":1,\"type\":\"checkpoint\",\"time\":1,\"path\":\"c\",\"global_step\":40}\n".utf8).write(to: session.eventsURL)
        #expect(RunStatus.of(session, summary: checkpointed) == .interrupted)
        let handle = try FileHandle(forWritingTo: session.eventsURL)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"test_accuracy\":0.5,\"v\":1,\"time\":2,\"type\":\"finished\"}\n".utf8))
        try handle.close()
        #expect(RunStatus.of(session, summary: checkpointed) == .stopped)
        #expect(RunStatus.of(session, summary: summary(finished: true, globalStep: 80)) == .finished)
    }

    @Test func diskUsageCountsFilesButNotWhatSymlinksPointTo() throws {
        let session = try temporarySession()
        defer { try? FileManager.default.removeItem(at: session.url) }
        let empty = RunInfo.diskUsage(session.url)
        try Data(count: 100_000).write(to: session.url.appendingPathComponent("big"))
        let withFile = RunInfo.diskUsage(session.url)
        #expect(withFile - empty >= 100_000)
        try FileManager.default.createSymbolicLink(atPath: session.url.appendingPathComponent("link").path,
                                                   withDestinationPath: session.url.path)
        #expect(RunInfo.diskUsage(session.url) - withFile < 10_000)
    }

    func run(_ id: String, model: String, best: Float?, status: RunStatus = .finished) -> RunInfo {
        var s = summary(finished: status == .finished, globalStep: 10)
        s.model = model
        s.bestTestAccuracy = best
        return RunInfo(session: Session(id: id, url: URL(fileURLWithPath: "/s/\(id)")), summary: s, status: status,
                       started: RunInfo.startDate(id: id), sizeBytes: Int64(id.count))
    }

    @Test func sortsByEachFieldInItsUsualOrderAndFilters() {
        let runs = [run("20260102-000000-b", model: "vgg11", best: 0.7),
                    run("20260101-000000-a", model: "mycnn", best: nil, status: .running(pid: 3)),
                    run("20260103-000000-c", model: "resnet", best: 0.9, status: .interrupted)]
        #expect(RunSortField.start.sorted(runs).map(\.summary.model) == ["mycnn", "vgg11", "resnet"])
        #expect(RunSortField.accuracy.sorted(runs).map(\.summary.model) == ["resnet", "vgg11", "mycnn"])
        #expect(RunSortField.accuracy.sorted(runs, reversed: true).map(\.summary.model) == ["vgg11", "resnet", "mycnn"])
        #expect(RunSortField.model.sorted(runs).map(\.summary.model) == ["mycnn", "resnet", "vgg11"])
        #expect(RunSortField.status.sorted(runs).map(\.status.name) == ["finished", "interrupted", "running"])
        #expect(runs.filter { $0.matches("RUNNING") }.map(\.summary.model) == ["mycnn"])
        #expect(runs.filter { $0.matches("mnist 2026010") }.count == 3)
        #expect(runs.filter { $0.matches("vgg resnet") }.isEmpty, "every word must match")
        #expect(RunInfo.startDate(id: "not-a-date") == nil)
    }

    @Test func recipeFieldsNameEveryKeyOfConfigJSON() throws {
        let config = TrainingConfig(model: "mycnn", dataset: "mnist", dataDirectory: "/d", epochs: 2, batchSize: 8,
                                    optimizer: .sgd, learningRate: 0.1, augmentation: "flip", limitTrain: 1, limitTest: 1)
        let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(config)) as? [String: Any])
        let keys = Set(json.keys.filter { $0 != "versions" })
            .union(config.versions.keys.map { "versions.\($0)" })
        #expect(Set(config.recipeFields.map(\.name)) == keys)
    }

    @Test func onlyTheFieldsThatDifferAreCompared() {
        let a = TrainingConfig(model: "mycnn", dataset: "mnist", epochs: 2, batchSize: 64, optimizer: .sgd, learningRate: 0.01)
        var b = a
        b.learningRate = 0.05
        var c = a
        c.schedule = "cosine"
        let diff = TrainingConfig.differingFields([a, b, c])
        #expect(diff.map(\.name) == ["lr", "schedule"])
        #expect(diff.first?.values == ["0.01", "0.05", "0.01"])
        #expect(TrainingConfig.differingFields([a, a]).isEmpty)
    }

    @Test func nearMatchesOfAMistypedID() {
        let ids = ["20261123-200555-mycnn-fashion-mnist", "20261123-210000-resnet-cifar10", "20261124-080000-vgg11-mnist"]
        #expect(SessionStore.nearMatches("20261123-20555", in: ids).first == ids[0], "the closest first")
        #expect(SessionStore.nearMatches("resnt", in: ids) == [ids[1]])
        #expect(SessionStore.nearMatches("shufflenet", in: ids).isEmpty)
    }
}
