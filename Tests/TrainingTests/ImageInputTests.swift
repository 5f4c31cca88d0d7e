import Foundation
import Testing
@testable import Training

@Suite struct ImageInputTests {
    @Test func readsPPMAndPreparesPlanarBytesAtTheModelsSize() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // 2x2 RGB: red, green / blue, white.
        let pixels: [UInt8] = [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]
        let file = dir.appendingPathComponent("a.ppm")
        try (Data("P6\n# comment\n2 2\n255\n".utf8) + Data(pixels)).write(to: file)
        let picture = try ImageInput.decode(file.path)
        #expect(picture == ImageInput.Picture(width: 2, height: 2, channels: 3, pixels: pixels))
        // Same size: only the layout changes (HWC -> CHW).
        #expect(try ImageInput.load(file.path, shape: [3, 2, 2]) == [255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255])
        // To grey: ITU-R 601 luma.
        #expect(try ImageInput.load(file.path, shape: [1, 2, 2]) == [76, 150, 29, 255])
        // Upscaled 2x: corners keep their colour.
        let big = try ImageInput.load(file.path, shape: [3, 4, 4])
        #expect(big[0] == 255 && big[15] == 255 && big[16 + 3] == 255 && big[32 + 12] == 255)
    }

    @Test func refusesWhatItCannotRead() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let truncated = dir.appendingPathComponent("t.pgm")
        try (Data("P5 4 4 255\n".utf8) + Data([1, 2, 3])).write(to: truncated)
        #expect(throws: TrainingError.self) { try ImageInput.decode(truncated.path) }
        let text = dir.appendingPathComponent("x.txt")
        try Data("hello".utf8).write(to: text)
        #expect(throws: TrainingError.self) { try ImageInput.decode(text.path) }
        #expect(throws: TrainingError.self) { try ImageInput.decode(dir.appendingPathComponent("missing.ppm").path) }
    }
}
