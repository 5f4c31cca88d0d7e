import Foundation
import Testing

/// `cnntui attach` names what it cannot find.
@Suite struct AttachCommandTests {
    @Test func anUnknownOrAmbiguousIDListsTheNearMatches() throws {
        let root = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let ids = ["20240101-120000-mycnn-fashion-mnist", "20240102-090000-mycnn-cifar10", "20240103-100000-resnet20-cifar10"]
        for id in ids {
            let directory = root.appendingPathComponent(id)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data("{}".utf8).write(to: directory.appendingPathComponent("config.json"))
        }

        let typo = try CLI.run(["attach", "mycnn-fashon-mnist", "--sessions-dir", root.path])
        #expect(typo.status != 0)
        #expect(typo.stderr.contains("no such session") && typo.stderr.contains("near matches: \(ids[0])"), "\(typo.stderr)")
        #expect(!typo.stderr.contains(ids[2]))

        let ambiguous = try CLI.run(["attach", "mycnn", "--sessions-dir", root.path])
        #expect(ambiguous.status != 0)
        #expect(ambiguous.stderr.contains("ambiguous") && ambiguous.stderr.contains(ids[0]) && ambiguous.stderr.contains(ids[1]),
                "\(ambiguous.stderr)")

        let nothingNear = try CLI.run(["attach", "zzzzzzzzzzzzzzzzzzzz", "--sessions-dir", root.path])
        #expect(nothingNear.status != 0 && nothingNear.stderr.contains("no such session") && !nothingNear.stderr.contains("nearest"))
    }
}
