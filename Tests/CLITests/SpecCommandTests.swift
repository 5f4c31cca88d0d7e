import Foundation
import Testing

/// Networks as files through the real binary: `models --spec` writes one, `summary`, `train` and `resume`
/// take its path as --model, the session keeps its own copy, and a broken spec is refused with its line.
@Suite struct SpecCommandTests {
    @Test func specFileTrainsAndResumesFromTheSessionsCopy() throws {
        let box = try TrainCommandTests.Sandbox()
        defer { box.remove() }
        let printed = try box.run(["models", "--spec", "mycnn", "--dataset", "fashion-mnist"])
        #expect(printed.status == 0, "\(printed.stderr)")
        #expect(printed.stdout.contains("conv1: sequential"))
        let spec = box.root.appendingPathComponent("mine.cnn")
        try printed.stdout.write(to: spec, atomically: true, encoding: .utf8)

        let zoo = try box.run(["summary", "--model", "mycnn", "--dataset", "fashion-mnist"])
        let mine = try box.run(["summary", "--model", "mine.cnn", "--dataset", "fashion-mnist"])
        #expect(mine.status == 0, "\(mine.stderr)")
        let totals = { (s: String) in s.split(separator: "\n").filter { $0.hasPrefix("Total params") || $0.hasPrefix("Mult-adds") } }
        #expect(totals(mine.stdout) == totals(zoo.stdout) && !totals(zoo.stdout).isEmpty)

        let run = ["--dataset", "fashion-mnist", "--epochs", "1", "--limit-train", "256", "--limit-test", "100", "--batch-size", "64"]
        let train = try box.run(["train", "--model", "mine.cnn"] + run)
        #expect(train.status == 0, "\(train.stderr)")
        let id = try #require(box.sessionIDs().first)
        let copy = box.sessions.appendingPathComponent(id).appendingPathComponent("model.cnn")
        #expect(try String(contentsOf: copy, encoding: .utf8) == printed.stdout)

        // The original goes away; the session resumes from its copy.
        try FileManager.default.removeItem(at: spec)
        let resume = try box.run(["resume", id, "--epochs", "2"])
        #expect(resume.status == 0, "\(resume.stderr)")
        #expect((resume.stdout + resume.stderr).contains("epoch 2:"), "\(resume.stderr)")
    }

    @Test func brokenSpecIsRefusedWithItsLine() throws {
        let box = try TrainCommandTests.Sandbox()
        defer { box.remove() }
        let text = "# a conv that expects more than it gets\nconv 16 3 padding=1\nconv 8 3 in=32\nglobal-avgpool\nlinear classes\n"
        try text.write(to: box.root.appendingPathComponent("bad.cnn"), atomically: true, encoding: .utf8)
        for command in [["summary"], ["train", "--epochs", "1"]] {
            let result = try box.run(command + ["--model", "bad.cnn", "--dataset", "fashion-mnist"])
            #expect(result.status != 0)
            #expect(result.stderr.contains("bad.cnn: line 3: conv expects 32 input channels, the layer before gives 16"), "\(result.stderr)")
        }
        #expect(box.sessionIDs().isEmpty)
    }
}
