import Foundation
import Testing

/// `cnntui export --pytorch` and `--tensorboard` through the real binary: a trained session, the bad inputs the issue lists, and a
/// session without a checkpoint.
@Suite struct ExportCommandTests {
    typealias Sandbox = TrainCommandTests.Sandbox

    @Test func exportsASessionAndRefusesBadInputNamingIt() throws {
        let box = try Sandbox()
        defer { box.remove() }
        let train = try box.run(["train"] + TrainCommandTests.tinyRun + ["--json"])
        try #require(train.status == 0, "\(train.stderr)")
        let id = try #require(box.sessionIDs().first)
        let project = box.root.appendingPathComponent("project")

        let export = try box.run(["export", id, "--pytorch", project.path])
        #expect(export.status == 0, "\(export.stderr)")
        for name in ["train.py", "data.py", "model.py", "recipe.json", "requirements.txt", "README.md",
                     "checkpoint/model.safetensors", "checkpoint/optimizer.safetensors", "checkpoint/train_state.json"] {
            #expect(FileManager.default.fileExists(atPath: project.appendingPathComponent(name).path), "\(name)")
        }
        #expect(export.stdout.contains("train.py --resume checkpoint"))

        // A directory that is not empty: refused, naming the flag and the way out; --force writes over it.
        let again = try box.run(["export", id, "--pytorch", project.path])
        #expect(again.status == 1 && again.stderr.contains("--pytorch") && again.stderr.contains("--force"), "\(again.stderr)")
        #expect(try box.run(["export", id, "--pytorch", project.path, "--force"]).status == 0)

        // TensorBoard: the event file (its contents are TensorBoardExportTests'), the same refusal of a full directory.
        let logdir = box.root.appendingPathComponent("tb")
        let tensorboard = try box.run(["export", id, "--tensorboard", logdir.path])
        #expect(tensorboard.status == 0 && tensorboard.stdout.contains("tensorboard --logdir"), "\(tensorboard.stderr)")
        let events = try FileManager.default.contentsOfDirectory(atPath: logdir.path)
        #expect(events.count == 1 && events[0].hasPrefix("events.out.tfevents."), "\(events)")
        let full = try box.run(["export", id, "--tensorboard", logdir.path])
        #expect(full.status != 0 && full.stderr.contains("--tensorboard") && full.stderr.contains("--force"), "\(full.stderr)")
        let recipeOnly = try box.run(["export", "--model", "mycnn", "--dataset", "fashion-mnist", "--tensorboard", logdir.path])
        #expect(recipeOnly.status != 0 && recipeOnly.stderr.contains("--tensorboard"), "\(recipeOnly.stderr)")
        let typo = String(id.dropLast()) + "x"
        let unknown = try box.run(["export", typo, "--pytorch", box.root.appendingPathComponent("p2").path])
        #expect(unknown.status != 0 && unknown.stderr.contains("near matches: \(id)"), "\(unknown.stderr)")
        let half = try box.run(["export", "--model", "mycnn", "--pytorch", box.root.appendingPathComponent("p3").path])
        #expect(half.status != 0 && half.stderr.contains("--dataset"), "\(half.stderr)")
        let mixed = try box.run(["export", id, "--lr", "0.1", "--pytorch", box.root.appendingPathComponent("p4").path])
        #expect(mixed.status != 0 && mixed.stderr.contains("recipe flags"), "\(mixed.stderr)")

        // A session that never reached a checkpoint: its recipe alone, and it says so.
        let fresh = box.sessions.appendingPathComponent("20200101-000000-mycnn-fashion-mnist")
        try FileManager.default.createDirectory(at: fresh, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: box.sessions.appendingPathComponent(id).appendingPathComponent("config.json"),
                                         to: fresh.appendingPathComponent("config.json"))
        let alone = box.root.appendingPathComponent("alone")
        let recipe = try box.run(["export", fresh.lastPathComponent, "--pytorch", alone.path])
        #expect(recipe.status == 0 && recipe.stdout.contains("no checkpoint yet"), "\(recipe.stdout)\(recipe.stderr)")
        #expect(!FileManager.default.fileExists(atPath: alone.appendingPathComponent("checkpoint").path))
        #expect(FileManager.default.fileExists(atPath: alone.appendingPathComponent("recipe.json").path))
    }
}
