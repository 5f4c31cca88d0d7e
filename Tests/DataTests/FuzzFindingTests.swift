import Foundation
import Testing
@testable import Data

/// The inputs in Tests/Fuzz/Findings/TARGET/ (also replayed by every fuzz run): each once crashed the fuzz binary's
/// reader or made it allocate what the file announced rather than what it held. Each must now be refused with an
/// error naming the file, or, for the decode cache, be a cache miss.
@Suite struct FuzzFindingTests {
    /// The findings of one fuzz target, sorted; at least one, so a moved folder fails instead of passing.
    private func findings(_ target: String) throws -> [String] {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fuzz/Findings/\(target)")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        try #require(!names.isEmpty, "no findings in \(folder.path)")
        return names.map { folder.appendingPathComponent($0).path }
    }

    /// Throws the reader's DataError, which must name `path`; returns its problem.
    private func problem(reading path: String, _ read: () throws -> Void) -> String? {
        do {
            try read()
            Issue.record("\(path) was accepted")
        } catch let error as DataError {
            #expect(error.path.hasPrefix(path), "\(error) does not name \(path)")
            return error.problem
        } catch {
            Issue.record("\(path): not a DataError: \(error)")
        }
        return nil
    }

    /// A header announcing 2^31 images (or labels) in a 16-byte file: refused as truncated, without first
    /// allocating 2 GB for them.
    @Test func idxHeadersAnnouncingMoreThanTheFileHoldsAreRefused() throws {
        for path in try findings("idx") {
            let images = problem(reading: path) { _ = try IDX.readImages(path: path) }
            let labels = problem(reading: path) { _ = try IDX.readLabels(path: path, classCount: 10) }
            #expect([images, labels].contains { $0?.contains("truncated") == true }, "\(path): \(images ?? "-"), \(labels ?? "-")")
        }
    }

    /// Tar headers whose size field is GNU base-256 with the top bits set (a size that overflowed, then was
    /// negative), or a 2^40-byte member or long name in a 100-byte archive.
    @Test func tarMembersWithImpossibleSizesAreRefused() throws {
        for path in try findings("tar-gzip") {
            _ = problem(reading: path) {
                try TarReader.forEachFile(in: path) { member, file in
                    _ = try file.readBytes(member.size, what: "member \(member.name)")
                    return true
                }
            }
            _ = problem(reading: path) { _ = try CIFAR10.load(from: path) }
        }
    }

    @Test func readBytesRefusesANegativeCount() throws {
        let temp = try TempDirectory()
        try temp.write([1, 2, 3], to: "three")
        let file = try GzipFile(path: temp.file("three"))
        #expect(throws: DataError(temp.file("three"), "corrupt: the test announces a negative size -1")) {
            try file.readBytes(-1, what: "the test")
        }
        #expect(try file.readBytes(0, what: "nothing") == [])
        #expect(try file.readBytes(3, what: "three bytes") == [1, 2, 3])
    }

    /// A 68-byte PNG announcing 16384x16383 RGB pixels, and JPEGs announcing 65000x65000 and (progressive)
    /// 30000x30000: refused from the header, before the pixels (or libjpeg's coefficients) are allocated.
    @Test func picturesAnnouncingMorePixelsThanTheirBytesHoldAreRefused() throws {
        for path in try findings("png") + findings("jpeg") {
            let message = problem(reading: path) { _ = try ImageDecoder.decode(path: path) }
            #expect(message?.contains("refused: its header announces") == true, "\(path): \(message ?? "-")")
        }
        // The corpus's real pictures still decode.
        let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fuzz/Corpus")
        for name in ["png/rgb8.png", "png/palette4-trns.png", "jpeg/rgb-progressive.jpg", "jpeg/grey.jpg"] {
            #expect(throws: Never.self) { try ImageDecoder.decode(path: corpus.appendingPathComponent(name).path) }
        }
    }

    @Test func pixelLimitFollowsTheFileSize() {
        #expect(ImageDecoder.maximumPixels(fileBytes: 10, pixelsPerByte: ImageDecoder.pngPixelsPerByte) == 1 << 22)
        #expect(ImageDecoder.maximumPixels(fileBytes: 10_000, pixelsPerByte: ImageDecoder.jpegPixelsPerByte) == 10_240_000)
        #expect(ImageDecoder.maximumPixels(fileBytes: Int.max, pixelsPerByte: ImageDecoder.pngPixelsPerByte) == 1 << 28)
    }

    /// Decode caches whose header gives a negative picture count, or one whose byte count overflows: a miss.
    @Test func damagedDecodeCacheHeadersAreACacheMiss() throws {
        for path in try findings("image-cache") {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(ImageFolderCache.decode(data, fingerprint: "fuzz-fingerprint") == nil, "\(path)")
        }
        let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fuzz/Corpus/image-cache/three-pictures.bin")
        let whole = try #require(ImageFolderCache.decode(try Data(contentsOf: corpus), fingerprint: "fuzz-fingerprint"))
        #expect(whole.train.count == 2 && whole.test.count == 1 && whole.train.labels == [0, 1])
    }
}
