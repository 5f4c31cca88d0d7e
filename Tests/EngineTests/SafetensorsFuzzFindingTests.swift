import Foundation
import Testing
@testable import Engine

/// The safetensors files in Tests/Fuzz/Findings/safetensors/ (also replayed by every fuzz run), each of which crashed
/// the fuzz binary: negative dimensions, a shape or a byte count that overflows, data offsets whose difference overflows. The engine
/// is compiled -Ounchecked, so these must be refused by explicit checks, never by a trap.
@Suite struct SafetensorsFuzzFindingTests {
    @Test func malformedHeadersAreRefusedNamingTheFile() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fuzz/Findings/safetensors")
        let files = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
        try #require(files.count >= 4)
        for url in files {
            do {
                _ = try Safetensors.read(contentsOf: url)
                Issue.record("\(url.lastPathComponent) was accepted")
            } catch EngineError.checkpoint(let file, let message) {
                #expect(file == url.path)
                #expect(message.hasPrefix("tensor 'a': "), "\(url.lastPathComponent): \(message)")
            }
        }
    }

    @Test func negativeDimensionsAreRefusedBeforeAllocating() throws {
        // shape [2, -2] is -4 elements, -16 bytes: offsets [16, 0] used to match and size an array of -4.
        let header = #"{"a":{"dtype":"F32","shape":[2,-2],"data_offsets":[16,0]}}"#
        var file = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(contentsOf: Array(header.utf8) + [UInt8](repeating: 0, count: 16))
        #expect(throws: EngineError.checkpoint(file: "f", message: "tensor 'a': shape [2, -2] does not fit in the file's 16 data bytes")) {
            try Safetensors.decode(file, file: "f")
        }
    }

    @Test func emptyAndScalarTensorsStillRead() throws {
        let data = try Safetensors.encode([("empty", .init(shape: [0, 3], values: [])), ("scalar", .init(shape: [], values: [2]))])
        let entries = try Safetensors.decode(data, file: "f").entries
        #expect(entries["empty"]?.values == [] && entries["scalar"]?.values == [2])
    }
}
