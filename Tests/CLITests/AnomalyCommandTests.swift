import Foundation
import Testing

/// Headless, a NaN or an infinity ends `train` with a non-zero exit, an `anomaly` JSON event naming the layer,
/// no checkpoint of the bad state, and `stopped.json` in the session saying why.
@Test func anAnomalyEndsAHeadlessRunWithANonZeroExit() throws {
    let box = try TrainCommandTests.Sandbox()
    defer { box.remove() }
    let run = try box.run(["train"] + TrainCommandTests.tinyRun + ["--lr", "1e30", "--json"])
    #expect(run.status != 0)
    let lines = try TrainCommandTests.jsonLines(run.stdout)
    let anomaly = try #require(lines.first { $0["event"] as? String == "anomaly" }, "\(run.stdout)")
    let layer = try #require(anomaly["layer"] as? String)
    #expect(layer.hasPrefix("conv") || layer == "fc" || layer == "loss")
    #expect((anomaly["message"] as? String)?.contains(layer) == true || layer == "loss")
    let end = try #require(lines.last)
    #expect(end["event"] as? String == "end" && (end["error"] as? String)?.contains("first in layer \(layer)") == true)
    #expect(run.stderr.contains("stopped at epoch 1"))
    let id = try #require(end["session"] as? String)
    let session = box.sessions.appendingPathComponent(id)
    let stopped = try #require(try CLI.json(String(contentsOf: session.appendingPathComponent("stopped.json"), encoding: .utf8))
                               as? [String: Any])
    #expect(stopped["reason"] as? String == "anomaly" && stopped["layer"] as? String == layer)
    #expect(FileManager.default.fileExists(atPath: session.appendingPathComponent("health.jsonl").path))
}
