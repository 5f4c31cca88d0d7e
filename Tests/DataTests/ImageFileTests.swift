import Foundation
import Testing
@testable import Data

/// `ImageFile.load`: the one way a picture file becomes a model input (used by `cnntui predict`).
@Suite struct ImageFileTests {
    /// 2x2 RGB: red, green / blue, white.
    private let quadrants = DecodedImage(width: 2, height: 2, channels: 3,
                                         pixels: [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255])

    @Test func readsPPMWithCommentsAndPreparesPlanarBytes() throws {
        let temp = try TempDirectory()
        try temp.write(Array("P6\n# comment\n2 2\n255\n".utf8) + quadrants.pixels, to: "a.ppm")
        let decoded = try ImageDecoder.decode(path: temp.file("a.ppm"))
        #expect(decoded.width == 2 && decoded.height == 2 && decoded.channels == 3 && decoded.pixels == quadrants.pixels)
        // Same size: only the layout changes (HWC -> CHW).
        #expect(try ImageFile.load(temp.file("a.ppm"), shape: [3, 2, 2]) == [255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255])
        // To grey: ITU-R 601 luma in PIL's fixed point.
        #expect(try ImageFile.load(temp.file("a.ppm"), shape: [1, 2, 2]) == [76, 150, 29, 255])
        // Upscaled 2x: the image folder's bilinear filter, so corners keep their colour.
        let big = try ImageFile.load(temp.file("a.ppm"), shape: [3, 4, 4])
        #expect(big == planarBytes(quadrants, channels: 3, width: 4, height: 4))
        #expect(big[0] == 255 && big[16 + 3] == 255 && big[32 + 12] == 255 && big[15] == 255)
    }

    @Test func greyPGMBecomesRGBByRepeatingItsPlane() throws {
        let temp = try TempDirectory()
        try temp.write(Array("P5 2 1 255\n".utf8) + [0, 100], to: "g.pgm")
        #expect(try ImageFile.load(temp.file("g.pgm"), shape: [1, 1, 4]) == [0, 25, 75, 100])
        #expect(try ImageFile.load(temp.file("g.pgm"), shape: [3, 1, 4]) == [0, 25, 75, 100, 0, 25, 75, 100, 0, 25, 75, 100])
    }

    @Test func pngAndJPEGGiveWhatTheImageFolderLoaderStores() throws {
        let temp = try TempDirectory()
        let root = try temp.makeDirectory("mini")
        for split in ["train/a", "test/a"] { _ = try temp.makeDirectory("mini/" + split) }
        // A 12x12 colour gradient, so resizing to 5x5 really filters.
        var pixels: [UInt8] = []
        for y in 0..<12 { for x in 0..<12 { pixels += [UInt8(x * 20), UInt8(y * 20), UInt8((x + y) * 10)] } }
        let gradient = DecodedImage(width: 12, height: 12, channels: 3, pixels: pixels)
        try ImageEncoder.writePNG(gradient, to: root + "/train/a/p.png")
        try ImageEncoder.writeJPEG(gradient, to: root + "/test/a/j.jpg")
        let dataset = try DatasetCatalog.load(root, dataDir: nil,
                                              folderOptions: ImageFolderOptions(imageSize: 5, cacheDirectory: temp.file("cache")))
        #expect(try ImageFile.load(root + "/train/a/p.png", shape: [3, 5, 5]) == Array(dataset.train.image(at: 0)))
        #expect(try ImageFile.load(root + "/test/a/j.jpg", shape: [3, 5, 5]) == Array(dataset.test.image(at: 0)))
        // The PNG is lossless: its 12x12 planar bytes are the gradient itself.
        let full = try ImageFile.load(root + "/train/a/p.png", shape: [3, 12, 12])
        #expect(full[0..<12] == [0, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200, 220])
        #expect(full[144 + 12] == 20 && full[288 + 13] == 20)
        // Colour to grey goes through luma, then the same resize.
        let grey = try ImageFile.load(root + "/train/a/p.png", shape: [1, 5, 5])
        #expect(grey == resizeBilinear(greyscale(gradient), width: 5, height: 5))
    }

    @Test func refusesWhatItCannotRead() throws {
        let temp = try TempDirectory()
        try temp.write(Array("P5 4 4 255\n".utf8) + [1, 2, 3], to: "t.pgm")
        #expect(dataError { _ = try ImageFile.load(temp.file("t.pgm"), shape: [1, 4, 4]) }?.description
                == temp.file("t.pgm") + ": truncated PGM/PPM: 3 of 16 pixel bytes")
        try temp.write(Array("P5 4 4 65535\n".utf8), to: "deep.pgm")
        #expect(dataError { _ = try ImageFile.load(temp.file("deep.pgm"), shape: [1, 4, 4]) }?.problem.contains("maxval 255") == true)
        try temp.write(Array("hello".utf8), to: "x.txt")
        #expect(dataError { _ = try ImageFile.load(temp.file("x.txt"), shape: [1, 4, 4]) }?.problem.contains("unrecognised") == true)
        #expect(dataError { _ = try ImageFile.load(temp.file("missing.png"), shape: [1, 4, 4]) }?.description
                == temp.file("missing.png") + ": missing file")
        try ImageEncoder.writePNG(quadrants, to: temp.file("q.png"))
        #expect(dataError { _ = try ImageFile.load(temp.file("q.png"), shape: [2, 4, 4]) }?.path == temp.file("q.png"))
    }

    /// A stranger's folder can hold anything under a picture's name. The first bytes and the size are checked
    /// before the file is read: sparse files of 8 GiB (no disk space, and reading one would take gigabytes of
    /// memory) are refused at once, one for its first bytes and one for its size.
    @Test func aLargeFileIsRefusedUnreadForItsFirstBytesOrItsSize() throws {
        let temp = try TempDirectory()
        for (name, head, reason) in [("movie.png", Array("RIFF".utf8), "unrecognised first bytes"),
                                     ("huge.png", [0x89, 0x50, 0x4E, 0x47], "more than a picture can hold")] {
            try temp.write(head, to: name)
            #expect(truncate(temp.file(name), 8 << 30) == 0)
            #expect(dataError { _ = try ImageDecoder.decode(path: temp.file(name)) }?.problem.contains(reason) == true)
        }
        try temp.write([], to: "empty.jpg")
        #expect(dataError { _ = try ImageDecoder.decode(path: temp.file("empty.jpg")) }?.problem == "zero-byte image file")
        _ = try temp.makeDirectory("folder.png")
        #expect(dataError { _ = try ImageDecoder.decode(path: temp.file("folder.png")) }?.problem == "not a regular file")
    }
}
