import Foundation
import Testing
@testable import Training

func temporaryDirectory(_ name: String = #function) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("cnntui-tests-\(getpid())-\(name.filter { $0.isLetter })-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite struct AtomicFileTests {
    @Test func writesReplacesAndLeavesNoTemporaryFiles() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("state.json")
        try AtomicFile.write(Data("first".utf8), to: file)
        #expect(try Data(contentsOf: file) == Data("first".utf8))
        try AtomicFile.write(Data("second, longer".utf8), to: file)
        #expect(try Data(contentsOf: file) == Data("second, longer".utf8))
        try AtomicFile.write(Data(), to: file)
        #expect(try Data(contentsOf: file).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["state.json"])
    }

    @Test func aFailedWriteLeavesTheOldFileWhole() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("a.txt")
        try AtomicFile.write(Data("old".utf8), to: file)
        // Renaming a file over a non-empty directory fails after the temporary file was written.
        let blocked = dir.appendingPathComponent("blocked")
        try FileManager.default.createDirectory(at: blocked.appendingPathComponent("inner"), withIntermediateDirectories: true)
        #expect(throws: AtomicFile.Failure.self) { try AtomicFile.write(Data("new".utf8), to: blocked) }
        #expect(try Data(contentsOf: file) == Data("old".utf8))
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)) == ["a.txt", "blocked"])
    }

    @Test func symlinkIsReplacedInPlace() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let link = dir.appendingPathComponent("last")
        try AtomicFile.replaceSymlink(at: link, pointingTo: "ckpt-000001")
        try AtomicFile.replaceSymlink(at: link, pointingTo: "ckpt-000002")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link.path) == "ckpt-000002")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["last"])
    }
}
