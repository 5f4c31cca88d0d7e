import Foundation
import Testing

/// `runs` (table, sort, filter, JSON, status) and `compare`'s refusals through the real binary, on one tiny
/// real run and sessions written by hand beside it.
@Suite struct RunsCommandTests {
    typealias Sandbox = TrainCommandTests.Sandbox

    /// A session directory holding only a config (status `new`), made from `config` with `changes` applied.
    static func writeSession(_ box: Sandbox, id: String, config: [String: Any], changes: [String: Any],
                             controlPID: Int32? = nil) throws {
        let dir = box.sessions.appendingPathComponent(id)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let changed = config.merging(changes) { $1 }
        try JSONSerialization.data(withJSONObject: changed).write(to: dir.appendingPathComponent("config.json"))
        if let controlPID {
            let control = ["v": 1, "pid": Int(controlPID), "socket": FakeEndpoint.path(for: id), "started": 0,
                           "host": ProcessInfo.processInfo.hostName] as [String: Any]
            try JSONSerialization.data(withJSONObject: control).write(to: dir.appendingPathComponent("control.json"))
        }
    }

    @Test func listsSortsFiltersAndWritesJSON() throws {
        let box = try Sandbox()
        defer { box.remove() }
        let train = try box.run(["train"] + TrainCommandTests.tinyRun + ["--json"])
        try #require(train.status == 0, "\(train.stderr)")
        let trained = try #require(box.sessionIDs().first)
        let config = try #require(try CLI.json(String(contentsOf: box.sessions.appendingPathComponent(trained)
            .appendingPathComponent("config.json"), encoding: .utf8)) as? [String: Any])
        // One that never reached a checkpoint, and one whose control.json names a live process (this test's).
        try Self.writeSession(box, id: "20200101-000000-resnet-2-2-2-mnist", config: config,
                              changes: ["model": "resnet-2-2-2", "dataset": "mnist"])
        let me = getpid()
        try Self.writeSession(box, id: "20300101-000000-vgg11-cifar10", config: config,
                              changes: ["model": "vgg11", "dataset": "cifar10"], controlPID: me)
        let endpoint = try FakeEndpoint(path: FakeEndpoint.path(for: "20300101-000000-vgg11-cifar10"))
        defer { endpoint.close() }

        // JSON: one object per run, in start order (the IDs' dates), snake_case, statuses from the files.
        let json = try box.run(["runs", "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let lines = try TrainCommandTests.jsonLines(json.stdout)
        #expect(lines.map { $0["id"] as? String } == ["20200101-000000-resnet-2-2-2-mnist", trained, "20300101-000000-vgg11-cifar10"])
        #expect(lines.map { $0["status"] as? String } == ["new", "finished", "running"])
        #expect(lines[2]["pid"] as? Int == Int(me) && lines[0]["pid"] is NSNull)
        #expect(lines[1]["epochs_done"] as? Int == 1 && lines[1]["epochs"] as? Int == 1)
        let best = try #require(lines[1]["best_test_accuracy"] as? Double)
        #expect(best > 0.1 && lines[1]["last_test_accuracy"] as? Double == best)
        #expect((lines[1]["size_bytes"] as? Int ?? 0) > (lines[0]["size_bytes"] as? Int ?? 0), "checkpoints take room")
        #expect((lines[1]["started"] as? String)?.hasPrefix(String(trained.prefix(4))) == true)

        // The table: a header, one row per run, the pid with the running one.
        let table = try box.run(["runs"])
        let rows = table.stdout.split(separator: "\n").map(String.init)
        #expect(rows.count == 4 && rows[0].hasPrefix("ID") && rows[0].contains("STATUS") && rows[0].contains("SIZE"))
        #expect(rows[3].contains("running (pid \(me))") && rows[3].contains("vgg11"))
        #expect(rows[2].contains("finished") && rows[2].contains("1/1"))

        // Sorted by best accuracy (highest first, runs without one last), and reversed.
        let byAccuracy = try TrainCommandTests.jsonLines(try box.run(["runs", "--json", "--sort", "accuracy"]).stdout)
        #expect(byAccuracy.first?["id"] as? String == trained)
        let byModel = try TrainCommandTests.jsonLines(try box.run(["runs", "--json", "--sort", "model", "--reverse"]).stdout)
        #expect(byModel.map { $0["model"] as? String } == ["vgg11", "resnet-2-2-2", "mycnn"])

        // Filters: every word must match the ID, model, dataset or status.
        let running = try TrainCommandTests.jsonLines(try box.run(["runs", "--json", "--filter", "RUNNING"]).stdout)
        #expect(running.map { $0["id"] as? String } == ["20300101-000000-vgg11-cifar10"])
        let two = try TrainCommandTests.jsonLines(try box.run(["runs", "--json", "--filter", "mnist"]).stdout)
        #expect(two.count == 2)
        let none = try box.run(["runs", "--filter", "mnist vgg11"])
        #expect(none.status == 0 && none.stdout.contains("matches \"mnist vgg11\""))

        let badSort = try box.run(["runs", "--sort", "colour"])
        #expect(badSort.status != 0 && badSort.stderr.contains("start, accuracy"), "\(badSort.stderr)")

        // The old name is gone: one command, not two.
        #expect(try box.run(["sessions"]).status != 0)
    }

    @Test func compareRefusesFewerThanTwoRunsAndListsNearMatches() throws {
        let box = try Sandbox()
        defer { box.remove() }
        let config: [String: Any] = ["model": "mycnn", "dataset": "fashion-mnist", "epochs": 1, "batch_size": 64,
                                     "drop_last": false, "optimizer": "sgd", "lr": 0.01, "momentum": 0.9,
                                     "weight_decay": 0, "schedule": "constant", "label_smoothing": 0,
                                     "validation_fraction": 0, "seed": 0, "threads": 1, "metrics_every": 10,
                                     "recipe": "seed", "versions": ["cnntui": "0.1.0"]]
        try Self.writeSession(box, id: "20260101-100000-mycnn-fashion-mnist", config: config, changes: [:])
        try Self.writeSession(box, id: "20260101-110000-mycnn-fashion-mnist", config: config, changes: ["lr": 0.05])

        let one = try box.run(["compare", "20260101-100000"])
        #expect(one.status != 0 && one.stderr.contains("at least two runs, got 1"), "\(one.stderr)")
        let same = try box.run(["compare", "20260101-100000", "20260101-100000-mycnn"])
        #expect(same.status != 0 && same.stderr.contains("two different runs"), "\(same.stderr)")
        // A typo in an ID: the IDs close to it are listed.
        let typo = try box.run(["compare", "20260101-100000", "20260101-11000x"])
        #expect(typo.status != 0 && typo.stderr.contains("no such session"), "\(typo.stderr)")
        #expect(typo.stderr.contains("near matches: 20260101-110000-mycnn-fashion-mnist"), "\(typo.stderr)")
    }
}

/// A control endpoint that answers every request as a running training does: the live run `runs` must find,
/// without training one. (Only the answer matters to `runs`; the real endpoint is tested with real runs.)
final class FakeEndpoint: @unchecked Sendable {
    let path: String
    private let fd: Int32

    static func path(for id: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("cnntui-fake-\(getpid())-\(id.suffix(6)).sock").path
    }

    init(path: String) throws {
        self.path = path
        unlink(path)
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8.prefix(MemoryLayout.size(ofValue: address.sun_path) - 1))
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard fd >= 0, bound == 0, listen(fd, 8) == 0 else { throw CocoaError(.fileWriteUnknown) }
        let listener = fd
        Thread.detachNewThread {
            while true {
                let connection = accept(listener, nil, nil)
                if connection < 0 { return }
                var buffer = [UInt8](repeating: 0, count: 4096)
                while read(connection, &buffer, buffer.count) > 0 {
                    let reply = Array("{\"ok\":true,\"state\":\"running\",\"epoch\":1,\"global_step\":1}\n".utf8)
                    _ = reply.withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
                }
                Glibc.close(connection)
            }
        }
    }

    func close() {
        shutdown(fd, Int32(SHUT_RDWR))
        Glibc.close(fd)
        unlink(path)
    }
}
