import Foundation
import Testing

/// `train`, `runs`, `eval`, `resume` and `predict` through the real binary, on a tiny slice of
/// Fashion-MNIST (640 training images, 200 test images: a couple of seconds per run).
@Suite struct TrainCommandTests {
    static let tinyRun = ["--model", "mycnn", "--dataset", "fashion-mnist", "--epochs", "1",
                          "--limit-train", "640", "--limit-test", "200", "--batch-size", "64"]

    /// A temporary working directory whose sessions go to `sessions/` inside it (via CNNTUI_SESSIONS).
    struct Sandbox {
        let root: URL
        var sessions: URL { root.appendingPathComponent("sessions") }

        init() throws { root = try CLI.temporaryDirectory() }

        func run(_ args: [String]) throws -> CLIResult {
            try CLI.run(args, environment: ["CNNTUI_SESSIONS": sessions.path], directory: root)
        }

        func sessionIDs() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: sessions.path)) ?? []).filter { !$0.hasPrefix(".") }
        }

        func remove() { try? FileManager.default.removeItem(at: root) }
    }

    /// Every non-empty stdout line as a JSON object.
    static func jsonLines(_ text: String) throws -> [[String: Any]] {
        try text.split(separator: "\n").map { line in
            try #require(try CLI.json(String(line)) as? [String: Any], "not a JSON object: \(line)")
        }
    }

    @Test func trainThenListEvaluateResumeAndPredict() throws {
        let box = try Sandbox()
        defer { box.remove() }

        // train --json: one line per epoch, then an end line.
        let train = try box.run(["train"] + Self.tinyRun + ["--json"])
        #expect(train.status == 0, "\(train.stderr)")
        let lines = try Self.jsonLines(train.stdout)
        try #require(lines.count == 2, "\(train.stdout)")
        let epoch = lines[0], end = lines[1]
        #expect(epoch["event"] as? String == "epoch" && epoch["epoch"] as? Int == 1)
        for key in ["train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr", "seconds", "images_per_second"] {
            #expect(epoch[key] is Double, "epoch line lacks number '\(key)': \(epoch)")
        }
        let accuracy = try #require(end["test_accuracy"] as? Double)
        #expect(accuracy == epoch["test_accuracy"] as? Double && accuracy > 0.1 && accuracy <= 1)
        #expect(end["event"] as? String == "end")
        let id = try #require(end["session"] as? String)
        #expect(box.sessionIDs() == [id])

        // The session directory and its checkpoint, with the mycnn state dict under PyTorch's names.
        let session = box.sessions.appendingPathComponent(id)
        for file in ["config.json", "metrics.jsonl", "metrics.csv", "checkpoints/last/model.safetensors"] {
            #expect(FileManager.default.fileExists(atPath: session.appendingPathComponent(file).path), "missing \(file)")
        }
        let model = session.appendingPathComponent("checkpoints/last/model.safetensors")
        #expect(try Self.safetensorsKeys(model) == Self.mycnnStateDictKeys)
        let config = try #require(try CLI.json(String(contentsOf: session.appendingPathComponent("config.json"), encoding: .utf8))
                                  as? [String: Any])
        #expect(config["model"] as? String == "mycnn" && config["epochs"] as? Int == 1)

        // runs --json lists it as finished after one epoch.
        let runs = try box.run(["runs", "--json"])
        #expect(runs.status == 0, "\(runs.stderr)")
        let listed = try Self.jsonLines(runs.stdout)
        #expect(listed.count == 1)
        #expect(listed.first?["id"] as? String == id && listed.first?["epochs_done"] as? Int == 1)
        #expect(listed.first?["finished"] as? Bool == true && listed.first?["status"] as? String == "finished")

        // eval --json on the same 200 test images the run used: the accuracy the run reported.
        let eval = try box.run(["eval", id, "--json"])
        #expect(eval.status == 0, "\(eval.stderr)")
        let report = try #require(try CLI.json(eval.stdout) as? [String: Any])
        #expect(report["loss"] is Double)
        #expect(report["accuracy"] as? Double == accuracy)
        let perClass = try #require(report["per_class"] as? [String: Double])
        #expect(perClass.count == 10 && perClass["Trouser"] != nil)
        let confusion = try #require(report["confusion"] as? [[Int]])
        #expect(confusion.count == 10 && confusion.allSatisfy { $0.count == 10 })
        #expect(confusion.joined().reduce(0, +) == 200)

        // eval --top-losses 3: the three highest-loss test images, as a table and as JSON, highest first.
        let topJSON = try box.run(["eval", id, "--top-losses", "3", "--json"])
        #expect(topJSON.status == 0, "\(topJSON.stderr)")
        let topReport = try #require(try CLI.json(topJSON.stdout) as? [String: Any])
        let topLosses = try #require(topReport["top_losses"] as? [[String: Any]])
        #expect(topLosses.count == 3)
        let losses = topLosses.compactMap { $0["loss"] as? Double }
        #expect(losses.count == 3 && losses == losses.sorted(by: >))
        for row in topLosses {
            let index = try #require(row["test_index"] as? Int)
            #expect((0..<200).contains(index))
            #expect((row["true_class"] as? String).map(Self.fashionClasses.contains) == true)
            #expect((row["predicted_class"] as? String).map(Self.fashionClasses.contains) == true)
            let pTrue = try #require(row["true_probability"] as? Double)
            let pPredicted = try #require(row["predicted_probability"] as? Double)
            #expect(pTrue <= pPredicted && pPredicted <= 1)
            #expect(abs(-log(pTrue) - (row["loss"] as? Double ?? .nan)) < 1e-3)
            #expect(row["correct"] as? Bool == (row["true_class"] as? String == row["predicted_class"] as? String))
        }
        // The mean loss bounds the largest from below.
        #expect(losses[0] >= (topReport["loss"] as? Double ?? .infinity))
        let topText = try box.run(["eval", id, "--top-losses", "3"])
        #expect(topText.status == 0, "\(topText.stderr)")
        let textLines = topText.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let heading = try #require(textLines.firstIndex(of: "top 3 losses (highest first):"), "\(topText.stdout)")
        #expect(textLines[heading + 1].contains("index") && textLines[heading + 1].contains("p(true)")
                && textLines[heading + 1].contains("loss"))
        let rows = textLines[(heading + 2)...].filter { !$0.isEmpty }
        #expect(rows.count == 3)
        for (row, json) in zip(rows, topLosses) {
            let fields = row.split(separator: " ").map(String.init)
            #expect(fields.first == String(json["test_index"] as? Int ?? -1), "\(row)")
            #expect(fields.last == String(format: "%.4f", json["loss"] as? Double ?? 0), "\(row)")
        }
        // A bad K fails naming the flag.
        for bad in ["0", "-2"] {
            let result = try box.run(["eval", id, "--top-losses=\(bad)"])
            #expect(result.status != 0)
            #expect(result.stderr.contains("--top-losses") && result.stderr.contains("at least 1"), "\(result.stderr)")
        }

        // resume --epochs 2 continues at epoch 2 in the same session.
        let resume = try box.run(["resume", id, "--epochs", "2", "--json"])
        #expect(resume.status == 0, "\(resume.stderr)")
        let resumed = try Self.jsonLines(resume.stdout)
        #expect(resumed.compactMap { $0["epoch"] as? Int } == [2, 2])
        #expect(resumed.last?["session"] as? String == id)
        #expect(box.sessionIDs() == [id])
        let metrics = try String(contentsOf: session.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        let epochRows = try Self.jsonLines(metrics).filter { $0["kind"] as? String == "epoch" }
        #expect(epochRows.compactMap { $0["epoch"] as? Int } == [1, 2])

        // predict on a PNG and on the same picture as a PGM: one path, the same top-3.
        let pixels = Self.trouserLikePicture()
        let png = box.root.appendingPathComponent("picture.png"), pgm = box.root.appendingPathComponent("picture.pgm")
        try Self.encodeGreyPNG(pixels, width: 28, height: 28).write(to: png)
        try (Data("P5\n28 28\n255\n".utf8) + Data(pixels)).write(to: pgm)
        let predict = try box.run(["predict", png.path, pgm.path, "--session", id, "--top", "3", "--json"])
        #expect(predict.status == 0, "\(predict.stderr)")
        let predictions = try Self.jsonLines(predict.stdout)
        try #require(predictions.count == 2, "\(predict.stdout)")
        #expect(predictions[0]["image"] as? String == png.path)
        let top = try #require(predictions[0]["top"] as? [[String: Any]])
        #expect(top.count == 3)
        let probabilities = top.compactMap { $0["probability"] as? Double }
        #expect(probabilities.count == 3 && probabilities == probabilities.sorted(by: >) && probabilities.reduce(0, +) <= 1.0001)
        #expect(top.allSatisfy { ($0["class"] as? String).map(Self.fashionClasses.contains) == true })
        #expect(Set(top.compactMap { $0["index"] as? Int }).count == 3)
        #expect(NSArray(array: top).isEqual(to: predictions[1]["top"] as? [Any] ?? []), "PNG and PGM disagree: \(predict.stdout)")

        // A truncated model file: eval fails and names it.
        let bytes = try Data(contentsOf: model.resolvingSymlinksInPath())
        try bytes.prefix(bytes.count / 2).write(to: model.resolvingSymlinksInPath())
        let broken = try box.run(["eval", id])
        #expect(broken.status != 0)
        #expect(broken.stderr.contains("model.safetensors"), "\(broken.stderr)")
    }

    @Test(arguments: [
        (["--model", "nosuch"], ["--model", "nosuch", "mycnn", "vgg11"]),
        (["--epochs", "-1"], ["--epochs", "at least 1"]),
        (["--lr", "-0.1"], ["--lr", "positive", "-0.1"]),
        (["--epochs=-1"], ["--epochs", "at least 1"]),
        (["--lr", "abc"], ["--lr", "abc"]),
        (["--schedule", "step:x"], ["--schedule", "step:x"]),
        (["--batch-size", "0"], ["--batch-size"]),
    ])
    func badFlagsFailNamingTheFlag(flags: [String], mentions: [String]) throws {
        let box = try Sandbox()
        defer { box.remove() }
        // Later flags win in swift-argument-parser, so the bad one overrides the tiny run's.
        let result = try box.run(["train"] + Self.tinyRun + flags)
        #expect(result.status != 0)
        for text in mentions { #expect(result.stderr.contains(text), "stderr lacks '\(text)': \(result.stderr)") }
        #expect(box.sessionIDs().isEmpty, "a failed start left a session behind")
    }

    @Test func missingDatasetDirectoriesFailNamingTheFlagAndPath() throws {
        let box = try Sandbox()
        defer { box.remove() }
        let missing = box.root.appendingPathComponent("no-such-data").path
        let dataset = try box.run(["train", "--model", "mycnn", "--dataset", missing, "--epochs", "1"])
        #expect(dataset.status != 0)
        #expect(dataset.stderr.contains("--dataset") && dataset.stderr.contains(missing), "\(dataset.stderr)")
        let dataDir = try box.run(["train", "--model", "mycnn", "--dataset", "fashion-mnist", "--data-dir", missing, "--epochs", "1"])
        #expect(dataDir.status != 0)
        #expect(dataDir.stderr.contains("--data-dir") && dataDir.stderr.contains(missing), "\(dataDir.stderr)")
        #expect(box.sessionIDs().isEmpty, "a failed start left a session behind")
    }

    /// Ctrl-C (SIGINT) or `kill` (SIGTERM) in the middle of an epoch: a checkpoint at the next batch boundary,
    /// exit 128 + the signal's number, and a session that `runs` lists as interrupted.
    @Test(arguments: [SIGINT, SIGTERM])
    func signalMidEpochSavesACheckpointAndExits(_ signalNumber: Int32) throws {
        let box = try Sandbox()
        defer { box.remove() }
        let process = Process()
        process.executableURL = CLI.executable
        process.arguments = ["train", "--model", "mycnn", "--dataset", "fashion-mnist", "--epochs", "5", "--batch-size", "64"]
        process.environment = ProcessInfo.processInfo.environment.merging(["CNNTUI_SESSIONS": box.sessions.path]) { $1 }
        process.currentDirectoryURL = box.root
        let errFile = box.root.appendingPathComponent("stderr.txt")
        FileManager.default.createFile(atPath: errFile.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: errFile)
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()

        // Wait for training steps (stderr, not a terminal, gets a progress line every tenth of an epoch), then
        // signal. The first checkpoint (and metrics.jsonl) comes only at the end of the epoch: too long to wait
        // for on a loaded machine, and a signal in epoch 1 must leave a checkpoint all the same.
        let deadline = Date().addingTimeInterval(60)
        var stepping = false
        while !stepping && Date() < deadline && process.isRunning {
            Thread.sleep(forTimeInterval: 0.1)
            stepping = ((try? String(contentsOf: errFile, encoding: .utf8)) ?? "").contains("epoch 1/5 [")
        }
        try #require(stepping, "training never started: \((try? String(contentsOf: errFile, encoding: .utf8)) ?? "")")
        kill(process.processIdentifier, signalNumber)
        process.waitUntilExit()
        let stderr = (try? String(contentsOf: errFile, encoding: .utf8)) ?? ""

        #expect(process.terminationStatus == 128 + signalNumber, "\(stderr)")
        #expect(stderr.contains("saving a checkpoint"), "\(stderr)")
        let id = try #require(box.sessionIDs().first)
        let last = box.sessions.appendingPathComponent(id).appendingPathComponent("checkpoints/last")
        for file in ["model.safetensors", "optimizer.safetensors", "train_state.json"] {
            #expect(FileManager.default.fileExists(atPath: last.appendingPathComponent(file).path), "missing \(file)")
        }
        let listed = try Self.jsonLines(try box.run(["runs", "--json"]).stdout)
        #expect(listed.first?["id"] as? String == id && listed.first?["finished"] as? Bool == false)
        #expect(listed.first?["status"] as? String == "stopped")
    }

    // MARK: - Fixtures

    static let fashionClasses: Set<String> = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                                              "Sneaker", "Bag", "Ankle boot"]

    /// mycnn's state dict (seed 000): conv1/conv2 = Conv2d + BatchNorm2d, then fc.
    static let mycnnStateDictKeys: Set<String> = Set(["conv1", "conv2"].flatMap { block in
        ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked"].map { "\(block).\($0)" }
    } + ["fc.weight", "fc.bias"])

    /// The tensor names in a safetensors file's header (its `__metadata__` left out).
    static func safetensorsKeys(_ url: URL) throws -> Set<String> {
        let data = try Data(contentsOf: url)
        try #require(data.count >= 8)
        let length = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        try #require(data.count >= 8 + length)
        let header = try #require(try CLI.json(String(decoding: data[8..<(8 + length)], as: UTF8.self)) as? [String: Any])
        return Set(header.keys.filter { $0 != "__metadata__" })
    }

    /// Two bright vertical bars on black, roughly a pair of trousers.
    static func trouserLikePicture() -> [UInt8] {
        (0..<28 * 28).map { i in
            let (y, x) = (i / 28, i % 28)
            return (3..<26).contains(y) && ((8..<13).contains(x) || (15..<20).contains(x) || (y < 8 && (8..<20).contains(x))) ? 210 : 0
        }
    }

    /// A minimal 8-bit greyscale PNG: one IDAT holding zlib "stored" blocks, no compression.
    static func encodeGreyPNG(_ pixels: [UInt8], width: Int, height: Int) -> Data {
        var raw: [UInt8] = []
        for y in 0..<height { raw += [0] + pixels[(y * width)..<((y + 1) * width)] }  // filter type 0 per row
        var zlib: [UInt8] = [0x78, 0x01]
        var start = 0
        repeat {
            let count = min(65_535, raw.count - start), last: UInt8 = start + count == raw.count ? 1 : 0
            zlib += [last, UInt8(count & 0xFF), UInt8(count >> 8), UInt8(~count & 0xFF), UInt8((~count >> 8) & 0xFF)]
            zlib += raw[start..<(start + count)]
            start += count
        } while start < raw.count
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in raw { a = (a + UInt32(byte)) % 65_521; b = (b + a) % 65_521 }
        zlib += bigEndian(b << 16 | a)

        func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
            let typed = Array(type.utf8) + body
            return bigEndian(UInt32(body.count)) + typed + bigEndian(crc32(typed))
        }
        let header = bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [8, 0, 0, 0, 0]  // 8-bit grey
        return Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header) + chunk("IDAT", zlib)
                    + chunk("IEND", []))
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] { [24, 16, 8, 0].map { UInt8(value >> $0 & 0xFF) } }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}
