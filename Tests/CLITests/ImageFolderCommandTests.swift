import Foundation
import Testing

/// `train` on an image folder through the real binary: the folder options, the messages, what the session keeps.
@Suite struct ImageFolderCommandTests {
    /// A grey picture as binary PGM bytes: the loader recognises pictures by their first bytes, so a `.png` name
    /// holding PGM data is read as PGM (this target has no PNG encoder).
    static func pgm(side: Int, value: UInt8) -> Data {
        Data("P5\n\(side) \(side)\n255\n".utf8) + Data(repeating: value, count: side * side)
    }

    /// ROOT/train/{a,b}/ with four pictures each and one text file named `.png`; no test/.
    static func makeFolder(in root: URL) throws -> URL {
        let folder = root.appendingPathComponent("signs")
        for (k, name) in ["a", "b"].enumerated() {
            let cls = folder.appendingPathComponent("train/\(name)")
            try FileManager.default.createDirectory(at: cls, withIntermediateDirectories: true)
            for i in 0..<4 { try pgm(side: 6, value: UInt8(40 * k + 10 * i)).write(to: cls.appendingPathComponent("\(i).png")) }
        }
        try Data("not a picture".utf8).write(to: folder.appendingPathComponent("train/b/notes.png"))
        return folder
    }

    @Test func trainsOnAFolderAndRecordsItsOptionsAndSplit() throws {
        let root = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = try Self.makeFolder(in: root)
        let env = ["CNNTUI_SESSIONS": root.appendingPathComponent("sessions").path,
                   "XDG_CACHE_HOME": root.appendingPathComponent("cache").path]
        let args = ["train", "--model", "mycnn", "--dataset", folder.path, "--epochs", "1", "--batch-size", "4"]
        let run = try CLI.run(args + ["--image-size", "8", "--resize", "crop"], environment: env, directory: root)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("decoding pictures: 9 of 9 (100%)"), "\(run.stderr)")
        let sessions = root.appendingPathComponent("sessions")
        let id = try #require(try FileManager.default.contentsOfDirectory(atPath: sessions.path).first { !$0.hasPrefix(".") })
        let config = try #require(try CLI.json(String(contentsOf: sessions.appendingPathComponent("\(id)/config.json"),
                                                      encoding: .utf8)) as? [String: Any])
        #expect(config["image_size"] as? Int == 8 && config["resize"] as? String == "crop")
        #expect(config["augmentation"] as? String == "crop", "a folder is padded and cropped, not mirrored")
        let dataset = try #require(try CLI.json(String(contentsOf: sessions.appendingPathComponent("\(id)/dataset.json"),
                                                       encoding: .utf8)) as? [String: Any])
        #expect(dataset["shape"] as? [Int] == [1, 8, 8])
        let folderReport = try #require(dataset["image_folder"] as? [String: Any])
        let held = try #require(folderReport["held_out_test"] as? [String: Any])
        #expect(held["fraction"] as? Double == 0.2 && held["seed"] as? Int == 0)
        let skipped = try #require(folderReport["skipped"] as? [[String: Any]])
        #expect(skipped.first?["path"] as? String == "train/b/notes.png")
        // The second start reads the cache: no decoding line.
        let again = try CLI.run(args + ["--image-size", "8", "--resize", "crop"], environment: env, directory: root)
        #expect(again.status == 0 && !again.stderr.contains("decoding pictures"), "\(again.stderr)")
        // --strict refuses the folder, naming the picture.
        let strict = try CLI.run(args + ["--strict"], environment: env, directory: root)
        #expect(strict.status != 0)
        #expect(strict.stderr.contains("--strict") && strict.stderr.contains("train/b/notes.png"), "\(strict.stderr)")
    }

    @Test(arguments: [
        (["--resize", "squash"], "--resize: 'squash' is not one of stretch, crop"),
        (["--image-size", "2"], "--image-size: must be in 4...1024, got 2"),
    ])
    func badFolderFlagsAreRefusedNamingTheFlag(_ flags: [String], _ message: String) throws {
        let root = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = try Self.makeFolder(in: root)
        let run = try CLI.run(["train", "--model", "mycnn", "--dataset", folder.path, "--epochs", "1"] + flags,
                              environment: ["CNNTUI_SESSIONS": root.appendingPathComponent("sessions").path,
                                            "XDG_CACHE_HOME": root.appendingPathComponent("cache").path], directory: root)
        #expect(run.status != 0)
        #expect(run.stderr.contains(message), "\(run.stderr)")
    }
}
