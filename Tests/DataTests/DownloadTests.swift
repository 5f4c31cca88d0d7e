import Foundation
import Synchronization
import Testing
@testable import Data

@Suite struct DownloadTests {
    private func payload(_ count: Int, salt: Int) -> [UInt8] { (0..<count).map { UInt8(($0 * 7 + salt) % 251) } }
    private func md5(_ bytes: [UInt8]) -> String { var h = MD5(); h.update(bytes); return h.finalize() }

    @Test func md5MatchesKnownDigests() {
        #expect(md5([]) == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(md5(Array("The quick brown fox jumps over the lazy dog".utf8)) == "9e107d9d372bb6826bd81d3542a419d6")
        var split = MD5()
        let text = Array(String(repeating: "abcdefghij", count: 20).utf8)
        split.update(Array(text[0..<13]))
        split.update(Array(text[13...]))
        #expect(split.finalize() == md5(text))
    }

    @Test func downloadsVerifiesAndRenames() throws {
        let a = payload(300_000, salt: 1), b = payload(1000, salt: 2)
        let server = try LoopbackHTTPServer(files: ["a.bin": a, "b.bin": b])
        defer { server.stop() }
        let temp = try TempDirectory()
        let plan = DownloadPlan(dataset: "t", baseURL: server.baseURL,
                                files: [DownloadFile(name: "a.bin", md5: md5(a)), DownloadFile(name: "b.bin", md5: md5(b))])
        let seen = Mutex<[DownloadProgress]>([])
        let directory = try Downloader.download(plan, into: temp.path, timeout: 5) { p in seen.withLock { $0.append(p) } }
        #expect(directory == temp.path)
        #expect(try readWholeFile(temp.file("a.bin")) == a)
        #expect(try readWholeFile(temp.file("b.bin")) == b)
        #expect(!fileExists(temp.file("a.bin.part")))
        let last = seen.withLock { $0.last(where: { $0.file == "a.bin" }) }
        #expect(last?.received == a.count && last?.total == a.count)
        // A second run finds both files complete and fetches nothing.
        let before = server.requests.withLock { $0.count }
        try Downloader.download(plan, into: temp.path, timeout: 5)
        #expect(server.requests.withLock { $0.count } == before)
    }

    @Test func resumesAPartialFileWithRange() throws {
        let a = payload(200_000, salt: 3)
        let server = try LoopbackHTTPServer(files: ["a.bin": a])
        defer { server.stop() }
        let temp = try TempDirectory()
        try temp.write(Array(a.prefix(123_456)), to: "a.bin.part")
        let plan = DownloadPlan(dataset: "t", baseURL: server.baseURL, files: [DownloadFile(name: "a.bin", md5: md5(a))])
        try Downloader.download(plan, into: temp.path, timeout: 5)
        #expect(try readWholeFile(temp.file("a.bin")) == a)
        #expect(server.requests.withLock { $0 } == ["/a.bin Range: bytes=123456-"])
    }

    @Test func interruptedDownloadKeepsThePartForTheNextRun() throws {
        let a = payload(100_000, salt: 4)
        let cutting = try LoopbackHTTPServer(files: ["a.bin": a], cutAfter: 40_000)
        let temp = try TempDirectory()
        let plan = DownloadPlan(dataset: "t", baseURL: cutting.baseURL, files: [DownloadFile(name: "a.bin", md5: md5(a))])
        let error = dataError { try Downloader.download(plan, into: temp.path, timeout: 5) }
        cutting.stop()
        #expect(error?.problem.contains("interrupted") == true)
        #expect(fileSize(temp.file("a.bin.part")) == 40_000)
        let server = try LoopbackHTTPServer(files: ["a.bin": a])
        defer { server.stop() }
        try Downloader.download(DownloadPlan(dataset: "t", baseURL: server.baseURL, files: plan.files), into: temp.path, timeout: 5)
        #expect(try readWholeFile(temp.file("a.bin")) == a)
        #expect(server.requests.withLock { $0 } == ["/a.bin Range: bytes=40000-"])
    }

    @Test func checksumMismatchNotFoundAndOffline() throws {
        let a = payload(5000, salt: 5)
        let server = try LoopbackHTTPServer(files: ["a.bin": a])
        let temp = try TempDirectory()
        let wrong = DownloadPlan(dataset: "t", baseURL: server.baseURL, files: [DownloadFile(name: "a.bin", md5: String(repeating: "0", count: 32))])
        let mismatch = dataError { try Downloader.download(wrong, into: temp.path, timeout: 5) }
        #expect(mismatch?.problem.contains("checksum mismatch") == true)
        #expect(!fileExists(temp.file("a.bin")) && !fileExists(temp.file("a.bin.part")))
        let missing = DownloadPlan(dataset: "t", baseURL: server.baseURL, files: [DownloadFile(name: "nope.bin", md5: md5(a))])
        #expect(dataError { try Downloader.download(missing, into: temp.path, timeout: 5) }?.problem == "server answered HTTP 404")
        let port = server.port
        server.stop()
        let offline = DownloadPlan(dataset: "t", baseURL: "http://127.0.0.1:\(port)/", files: [DownloadFile(name: "a.bin", md5: md5(a))])
        let error = dataError { try Downloader.download(offline, into: temp.path, timeout: 5) }
        #expect(error?.problem.contains("cannot reach 127.0.0.1") == true)
        #expect(error?.problem.contains("place them in \(temp.path)/") == true)
    }

    @Test func officialPlansAndBaseOverride() throws {
        let mnist = try #require(Downloader.plan(for: "mnist"))
        #expect(mnist.files.count == 4)
        #expect(Downloader.plan(for: "cifar10")?.files.map(\.name) == ["cifar-10-binary.tar.gz"])
        #expect(Downloader.plan(for: "mnist", baseURL: "http://127.0.0.1:9/x")?.baseURL == "http://127.0.0.1:9/x/")
        #expect(Downloader.plan(for: "imagenet") == nil)
    }
}
