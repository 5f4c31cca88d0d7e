import Foundation
import Testing
@testable import Data

@Suite struct ImageFolderTests {
    /// An 8x8 picture filled with one colour.
    private func solid(_ rgb: [UInt8], side: Int = 8) -> DecodedImage {
        DecodedImage(width: side, height: side, channels: rgb.count, pixels: Array((0..<side * side).map { _ in rgb }.joined()))
    }

    private func makeFolder(_ temp: TempDirectory) throws -> String {
        let root = try temp.makeDirectory("mini")
        for name in ["train/cat", "train/dog", "test/dog"] { _ = try temp.makeDirectory("mini/" + name) }
        try ImageEncoder.writePNG(solid([255, 0, 0]), to: root + "/train/cat/a.png")
        try ImageEncoder.writeJPEG(solid([0, 0, 255]), to: root + "/train/cat/b.JPG")
        try ImageEncoder.writePNG(solid([0, 255, 0]), to: root + "/train/dog/c.png")
        try ImageEncoder.writePNG(solid([10, 20, 30], side: 16), to: root + "/test/dog/d.png")
        try Data("notes".utf8).write(to: URL(fileURLWithPath: root + "/train/dog/readme.txt"))
        return root
    }

    @Test func loadsPNGAndJPEGResizedToChosenSize() throws {
        let temp = try TempDirectory()
        let root = try makeFolder(temp)
        let dataset = try DatasetCatalog.load(root, dataDir: nil, imageSize: 4)
        #expect(dataset.name == "mini")
        #expect(dataset.classNames == ["cat", "dog"])
        #expect(dataset.shape == [3, 4, 4])
        #expect(dataset.train.labels == [0, 0, 1] && dataset.test.labels == [1])
        #expect(dataset.mean == DatasetCatalog.imageNetMean)
        let red = Array(dataset.train.image(at: 0))
        #expect(red[0..<16].allSatisfy { $0 == 255 } && red[16..<48].allSatisfy { $0 == 0 })
        let blue = Array(dataset.train.image(at: 1))  // JPEG: lossy, so only nearly pure blue
        #expect(blue[0..<32].allSatisfy { $0 < 8 } && blue[32..<48].allSatisfy { $0 > 245 })
        let test = Array(dataset.test.image(at: 0))
        #expect(test[0..<16].allSatisfy { $0 == 10 } && test[32..<48].allSatisfy { $0 == 30 })
    }

    @Test func greyPicturesGiveOneChannel() throws {
        let temp = try TempDirectory()
        let root = try temp.makeDirectory("grey")
        for split in ["train", "test"] { _ = try temp.makeDirectory("grey/\(split)/x") }
        try ImageEncoder.writePNG(solid([77]), to: root + "/train/x/a.png")
        try ImageEncoder.writeJPEG(solid([200]), to: root + "/test/x/b.jpg")
        let dataset = try DatasetCatalog.load(root, dataDir: nil, imageSize: 8)
        #expect(dataset.shape == [1, 8, 8])
        #expect(dataset.train.pixels.allSatisfy { $0 == 77 })
        #expect(dataset.test.pixels.allSatisfy { abs(Int($0) - 200) <= 2 })
    }

    @Test func bilinearDownscaleAveragesAndUpscaleInterpolates() {
        // A 4x1 ramp 0, 100, 200, 300->255 shrunk to 2x1 averages neighbouring pairs (triangle support 2).
        let ramp = DecodedImage(width: 4, height: 1, channels: 1, pixels: [0, 100, 200, 250])
        let half = resizeBilinear(ramp, width: 2, height: 1)
        #expect(half[0] < half[1] && half[0] > 0 && half[1] < 250)
        // Upscaling 2x1 -> 4x1 follows PyTorch's align_corners=False: [0, 25, 75, 100].
        let two = DecodedImage(width: 2, height: 1, channels: 1, pixels: [0, 100])
        #expect(resizeBilinear(two, width: 4, height: 1) == [0, 25, 75, 100])
    }

    @Test func badFoldersAreErrors() throws {
        let temp = try TempDirectory()
        let root = try makeFolder(temp)
        // Zero-byte image.
        try Data().write(to: URL(fileURLWithPath: root + "/train/dog/empty.png"))
        var error = dataError { _ = try DatasetCatalog.load(root, dataDir: nil) }
        #expect(error?.description == root + "/train/dog/empty.png: zero-byte image file")
        try FileManager.default.removeItem(atPath: root + "/train/dog/empty.png")
        // Corrupt (truncated) JPEG and PNG.
        let jpeg = try readWholeFile(root + "/train/cat/b.JPG")
        try Data(jpeg.prefix(jpeg.count / 2)).write(to: URL(fileURLWithPath: root + "/train/cat/b.JPG"))
        error = dataError { _ = try DatasetCatalog.load(root, dataDir: nil) }
        #expect(error?.path == root + "/train/cat/b.JPG")
        #expect(error?.problem.contains("JPEG") == true)
        try FileManager.default.removeItem(atPath: root + "/train/cat/b.JPG")
        let png = try readWholeFile(root + "/train/cat/a.png")
        try Data(png.prefix(40)).write(to: URL(fileURLWithPath: root + "/train/cat/a.png"))
        error = dataError { _ = try DatasetCatalog.load(root, dataDir: nil) }
        #expect(error?.path == root + "/train/cat/a.png")
        #expect(error?.problem.contains("PNG") == true)
        try FileManager.default.removeItem(atPath: root + "/train/cat/a.png")
        // Now train/cat is an empty class folder.
        error = dataError { _ = try DatasetCatalog.load(root, dataDir: nil) }
        #expect(error?.description == root + "/train/cat: empty class folder: no .png or .jpg images")
        try ImageEncoder.writePNG(solid([1, 2, 3]), to: root + "/train/cat/a.png")
        // A test class the train split lacks.
        _ = try temp.makeDirectory("mini/test/bird")
        try ImageEncoder.writePNG(solid([1, 2, 3]), to: root + "/test/bird/e.png")
        error = dataError { _ = try DatasetCatalog.load(root, dataDir: nil) }
        #expect(error?.path == root + "/test/bird")
        #expect(error?.problem.contains("not in train/") == true)
        // Missing test directory: then it is no longer an image folder at all.
        try FileManager.default.removeItem(atPath: root + "/test")
        error = dataError { _ = try ImageFolder.load(root: root, imageSize: 32) }
        #expect(error?.description == root + "/test: missing directory (expected class folders inside)")
    }

    @Test func listingShowsEveryKnownDatasetAndFolders() throws {
        let temp = try TempDirectory()
        try writeIDXDataset(in: temp.file("mnist"), train: 12, test: 5, side: 28)
        _ = try makeFolder(temp)
        let listings = DatasetCatalog.list(dataDir: temp.path)
        #expect(listings.map(\.name).prefix(3) == ["fashion-mnist", "mnist", "cifar10"])
        let mnist = try #require(listings.first { $0.name == "mnist" })
        #expect(mnist.found && mnist.path == temp.file("mnist") && mnist.train == 12 && mnist.test == 5)
        let mini = try #require(listings.first { $0.name == "mini" })
        #expect(mini.train == 3 && mini.test == 1 && mini.classes == ["cat", "dog"])
        if let cifar = listings.first(where: { $0.name == "cifar10" }), !cifar.found {
            #expect(cifar.howToGet?.contains("cnntui download cifar10") == true)
        }
    }
}
