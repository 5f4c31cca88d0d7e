import Foundation
import Testing

/// `train --detach` and `control` through the real binary: a background run on a slice of Fashion-MNIST,
/// steered from the shell.
@Suite struct ControlCommandTests {
    typealias Sandbox = TrainCommandTests.Sandbox

    /// Polls `control ID ping` until the run answers (it loads its dataset first) or `seconds` pass.
    static func waitUntilServing(_ box: Sandbox, _ id: String, seconds: Double = 60) throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try box.run(["control", id, "ping"]).status == 0 { return true }
            usleep(200_000)
        }
        return false
    }

    @Test func detachedRunIsSteeredPausedAndStoppedFromTheShell() throws {
        let box = try Sandbox()
        defer { box.remove() }
        let epochs = ["--model", "mycnn", "--dataset", "fashion-mnist", "--epochs", "30", "--limit-train", "640",
                      "--limit-test", "200", "--batch-size", "64", "--optimizer", "sgd", "--momentum", "0"]
        let started = Date()
        let train = try box.run(["train"] + epochs + ["--detach"])
        #expect(train.status == 0, "\(train.stderr)")
        #expect(Date().timeIntervalSince(started) < 10)  // returns, does not train
        let id = try #require(box.sessionIDs().first)
        #expect(train.stdout.contains("session \(id) training in the background") && train.stdout.contains("cnntui attach \(id)"))
        let session = box.sessions.appendingPathComponent(id)
        var stopped = false
        defer {
            // Never leave a background trainer behind, whatever failed above.
            if !stopped, let control = try? Data(contentsOf: session.appendingPathComponent("control.json")),
               let object = try? JSONSerialization.jsonObject(with: control) as? [String: Any], let pid = object["pid"] as? Int {
                kill(pid_t(pid), SIGKILL)
            }
        }
        try #require(try Self.waitUntilServing(box, id), "the background run never answered")

        let pause = try box.run(["control", id, "pause"])
        #expect(pause.status == 0 && pause.stdout.contains(#""ok":true"#), "\(pause.stderr)")
        // Paused: the step count stands still.
        var ping = try box.run(["control", id, "ping"])
        for _ in 0..<50 where !ping.stdout.contains(#""state":"paused""#) { usleep(100_000); ping = try box.run(["control", id, "ping"]) }
        let step = try #require((try CLI.json(ping.stdout) as? [String: Any])?["global_step"] as? Int)
        usleep(500_000)
        #expect((try CLI.json(try box.run(["control", id, "ping"]).stdout) as? [String: Any])?["global_step"] as? Int == step)

        let lr = try box.run(["control", id, "set", "lr", "0.02"])
        #expect(lr.status == 0, "\(lr.stderr)")
        let momentum = try box.run(["control", id, "set", "momentum", "0.5"])
        #expect(momentum.status == 0, "\(momentum.stderr)")
        let bad = try box.run(["control", id, "set", "momentum", "1.5"])
        #expect(bad.status == 1 && bad.stdout.contains(#""ok":false"#) && bad.stderr.contains("momentum must be in [0, 1)"))
        let negative = try box.run(["control", id, "set", "lr", "-1"])
        #expect(negative.status == 1 && negative.stderr.contains("lr must be a positive number"), "\(negative.stderr)")
        let unknown = try box.run(["control", id, "set", "dropout", "0.1"])
        #expect(unknown.status != 0 && unknown.stderr.contains("unknown field 'dropout'"))

        // A second process never trains a session that one trains now: it is told to attach.
        let second = try box.run(["resume", id])
        #expect(second.status != 0 && second.stderr.contains("is training now") && second.stderr.contains("cnntui attach"),
                "\(second.stderr)")

        let stop = try box.run(["control", id, "stop"])
        #expect(stop.status == 0, "\(stop.stderr)")
        let control = session.appendingPathComponent("control.json")
        for _ in 0..<300 where FileManager.default.fileExists(atPath: control.path) { usleep(100_000) }
        stopped = !FileManager.default.fileExists(atPath: control.path)
        #expect(stopped, "the run did not end after stop")

        // The changes and commands are in the metrics with their time; the run ended saved; its log is there.
        let metrics = try String(contentsOf: session.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        let lines = try metrics.split(separator: "\n").map { try #require(try CLI.json(String($0)) as? [String: Any]) }
        #expect(lines.contains { $0["kind"] as? String == "lr" && $0["lr_change"] as? String == "manual" && $0["time"] is Double })
        #expect(lines.contains { $0["kind"] as? String == "set" && $0["field"] as? String == "momentum" && $0["value"] as? Double == 0.5 })
        #expect(lines.compactMap { $0["command"] as? String } == ["pause", "stop"])
        #expect(FileManager.default.fileExists(atPath: session.appendingPathComponent("checkpoints/last/train_state.json").path))
        let log = try String(contentsOf: session.appendingPathComponent("train.log"), encoding: .utf8)
        #expect(log.contains("session \(id)"))

        // Ended: a clear message and a failure status.
        let after = try box.run(["control", id, "ping"])
        #expect(after.status == 1 && after.stderr.contains("is not running"))
    }

    @Test func unknownSessionsAndBadCommandsAreRefused() throws {
        let box = try Sandbox()
        defer { box.remove() }
        let name = "20260101-120000-mycnn-fashion-mnist"
        try FileManager.default.createDirectory(at: box.sessions.appendingPathComponent(name), withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: box.sessions.appendingPathComponent(name).appendingPathComponent("config.json"))

        let typo = try box.run(["control", "20260101-12000x", "pause"])
        #expect(typo.status != 0 && typo.stderr.contains("near matches: \(name)"), "\(typo.stderr)")
        let idle = try box.run(["control", name, "pause"])
        #expect(idle.status == 1 && idle.stderr.contains("is not running"))
        let verb = try box.run(["control", name, "explode"])
        #expect(verb.status != 0 && verb.stderr.contains("unknown command 'explode'"))
        let missing = try box.run(["control", name, "set", "lr"])
        #expect(missing.status != 0 && missing.stderr.contains("set needs FIELD VALUE"))
        let notNumber = try box.run(["control", name, "set", "lr", "fast"])
        #expect(notNumber.status != 0 && notNumber.stderr.contains("not a number for lr"))
    }
}
