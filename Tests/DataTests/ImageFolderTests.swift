import Foundation
import Testing
@testable import Data

@Suite struct ImageFolderTests {
    /// A picture filled with one colour.
    private func solid(_ rgb: [UInt8], side: Int = 8) -> DecodedImage {
        solid(rgb, width: side, height: side)
    }

    private func solid(_ rgb: [UInt8], width: Int, height: Int) -> DecodedImage {
        DecodedImage(width: width, height: height, channels: rgb.count,
                     pixels: Array((0..<width * height).map { _ in rgb }.joined()))
    }

    /// Options that cache under the test's own folder, never the user's.
    private func options(_ temp: TempDirectory, size: Int? = nil, resize: ResizeMode = .stretch,
                         strict: Bool = false) -> ImageFolderOptions {
        ImageFolderOptions(imageSize: size, resize: resize, strict: strict, cacheDirectory: temp.file("cache"))
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
        let dataset = try DatasetCatalog.load(root, dataDir: nil, folderOptions: options(temp, size: 4))
        #expect(dataset.name == "mini")
        #expect(dataset.classNames == ["cat", "dog"])
        #expect(dataset.shape == [3, 4, 4])
        #expect(dataset.train.labels == [0, 0, 1] && dataset.test.labels == [1])
        #expect(dataset.folder?.trainPerClass == [2, 1] && dataset.folder?.testPerClass == [0, 1])
        let red = Array(dataset.train.image(at: 0))
        #expect(red[0..<16].allSatisfy { $0 == 255 } && red[16..<48].allSatisfy { $0 == 0 })
        let blue = Array(dataset.train.image(at: 1))  // JPEG: lossy, so only nearly pure blue
        #expect(blue[0..<32].allSatisfy { $0 < 8 } && blue[32..<48].allSatisfy { $0 > 245 })
        let test = Array(dataset.test.image(at: 0))
        #expect(test[0..<16].allSatisfy { $0 == 10 } && test[32..<48].allSatisfy { $0 == 30 })
    }

    @Test func greyPicturesGiveOneChannelAndMixedGiveThree() throws {
        let temp = try TempDirectory()
        let root = try temp.makeDirectory("grey")
        for split in ["train", "test"] { _ = try temp.makeDirectory("grey/\(split)/x") }
        try ImageEncoder.writePNG(solid([77]), to: root + "/train/x/a.png")
        try ImageEncoder.writeJPEG(solid([200]), to: root + "/test/x/b.jpg")
        var dataset = try DatasetCatalog.load(root, dataDir: nil, folderOptions: options(temp))
        #expect(dataset.shape == [1, 8, 8])
        #expect(dataset.train.pixels.allSatisfy { $0 == 77 })
        #expect(dataset.test.pixels.allSatisfy { abs(Int($0) - 200) <= 2 })
        // One colour picture among the grey ones: all become RGB, the grey ones with their plane repeated.
        try ImageEncoder.writePNG(solid([10, 20, 30]), to: root + "/train/x/c.png")
        dataset = try DatasetCatalog.load(root, dataDir: nil, folderOptions: options(temp))
        #expect(dataset.shape == [3, 8, 8])
        #expect(dataset.train.image(at: 0).allSatisfy { $0 == 77 })
        #expect(Array(dataset.train.image(at: 1))[0] == 10 && Array(dataset.train.image(at: 1))[64] == 20)
    }

    @Test func sideIsThePicturesOwnWhenTheyShareOneUpTo64() throws {
        let temp = try TempDirectory()
        func folder(_ name: String, sizes: [(Int, Int)]) throws -> String {
            let root = try temp.makeDirectory(name)
            for split in ["train", "test"] { _ = try temp.makeDirectory("\(name)/\(split)/k") }
            for (i, (w, h)) in sizes.enumerated() {
                try ImageEncoder.writePNG(solid([50, 60, 70], width: w, height: h), to: root + "/train/k/\(i).png")
            }
            try ImageEncoder.writePNG(solid([1, 2, 3], width: sizes[0].0, height: sizes[0].1), to: root + "/test/k/t.png")
            return root
        }
        let shared = try DatasetCatalog.load(folder("shared", sizes: [(20, 20), (20, 20)]), dataDir: nil, folderOptions: options(temp))
        #expect(shared.shape == [3, 20, 20] && shared.folder?.side == 20)
        let odd = try DatasetCatalog.load(folder("odd", sizes: [(7, 5), (13, 13), (40, 9)]), dataDir: nil, folderOptions: options(temp))
        #expect(odd.shape == [3, 32, 32])
        let large = try DatasetCatalog.load(folder("large", sizes: [(80, 80)]), dataDir: nil, folderOptions: options(temp))
        #expect(large.shape == [3, 32, 32])
        let chosen = try DatasetCatalog.load(folder("chosen", sizes: [(7, 5), (13, 13)]), dataDir: nil,
                                             folderOptions: options(temp, size: 11))
        #expect(chosen.shape == [3, 11, 11])
        #expect(chosen.train.pixels.allSatisfy { [50, 60, 70].contains($0) })
        #expect(dataError { _ = try DatasetCatalog.load(temp.file("odd"), dataDir: nil, folderOptions: options(temp, size: 2)) }?
            .description == "--image-size: 2 is outside 4...1024")
    }

    @Test func cropKeepsTheCentreWhereStretchSqueezes() throws {
        let temp = try TempDirectory()
        let root = try temp.makeDirectory("wide")
        for split in ["train", "test"] { _ = try temp.makeDirectory("wide/\(split)/k") }
        // 12x4: red, green, blue thirds. Crop to 4: the shorter side stays 4 and the centre third (green) is kept.
        var pixels: [UInt8] = []
        for _ in 0..<4 { for x in 0..<12 { pixels += x < 4 ? [255, 0, 0] : x < 8 ? [0, 255, 0] : [0, 0, 255] } }
        let wide = DecodedImage(width: 12, height: 4, channels: 3, pixels: pixels)
        try ImageEncoder.writePNG(wide, to: root + "/train/k/w.png")
        try ImageEncoder.writePNG(wide, to: root + "/test/k/w.png")
        let cropped = try DatasetCatalog.load(root, dataDir: nil, folderOptions: options(temp, size: 4, resize: .crop))
        let c = Array(cropped.train.image(at: 0))
        #expect(c[0..<16].allSatisfy { $0 == 0 } && c[16..<32].allSatisfy { $0 == 255 } && c[32..<48].allSatisfy { $0 == 0 })
        let stretched = try DatasetCatalog.load(root, dataDir: nil, folderOptions: options(temp, size: 4))
        let s = Array(stretched.train.image(at: 0))
        #expect(s[0] > 200 && s[32 + 3] > 200)  // red on the left, blue on the right
        // predict prepares a file the same way.
        #expect(try ImageFile.load(root + "/train/k/w.png", shape: [3, 4, 4], resize: .crop) == c)
        // torchvision's rule for the longer side and the corner: 10x7 to 4 -> 5x4, left round(0.5) = 0.
        let odd = DecodedImage(width: 10, height: 7, channels: 1, pixels: (0..<70).map { UInt8($0 % 10 * 20) })
        let planes = ParallelDecoder.squarePlanes(odd, channels: 1, side: 4, mode: .crop)
        let full = resizeBilinear(odd, width: 5, height: 4)
        #expect(Array(planes[0..<4]) == Array(full[0..<4]))
    }

    @Test func measuresMeanAndStdOnTheTrainingPictures() throws {
        let temp = try TempDirectory()
        let root = try temp.makeDirectory("stats")
        for split in ["train", "test"] { _ = try temp.makeDirectory("stats/\(split)/k") }
        try ImageEncoder.writePNG(solid([255, 0, 0], side: 4), to: root + "/train/k/a.png")
        try ImageEncoder.writePNG(solid([0, 0, 255], side: 4), to: root + "/train/k/b.png")
        try ImageEncoder.writePNG(solid([255, 255, 0], side: 4), to: root + "/train/k/c.png")
        try ImageEncoder.writePNG(solid([9, 9, 9], side: 4), to: root + "/test/k/t.png")  // not counted
        let dataset = try DatasetCatalog.load(root, dataDir: nil, folderOptions: options(temp))
        // By hand: R is 1, 0, 1 -> mean 2/3, std sqrt(2/9); G 0, 0, 1 -> 1/3, sqrt(2/9); B 1, 0, 0 -> 1/3, sqrt(2/9).
        let expectedMean: [Float] = [2.0 / 3, 1.0 / 3, 1.0 / 3]
        let expectedStd = Float((2.0 / 9).squareRoot())
        #expect(zip(dataset.mean, expectedMean).allSatisfy { abs($0 - $1) < 1e-5 })
        #expect(dataset.std.allSatisfy { abs($0 - expectedStd) < 1e-5 })
        // Cached with the pictures: a second load gives the same figures.
        let again = try DatasetCatalog.load(root, dataDir: nil, folderOptions: options(temp))
        #expect(again.mean == dataset.mean && again.std == dataset.std)
    }

    @Test func badPicturesAreSkippedCountedAndListed() throws {
        let temp = try TempDirectory()
        let root = try makeFolder(temp)
        try Data().write(to: URL(fileURLWithPath: root + "/train/dog/empty.png"))
        try Data("not a picture\n".utf8).write(to: URL(fileURLWithPath: root + "/train/dog/text.png"))
        let jpeg = try readWholeFile(root + "/train/cat/b.JPG")
        try Data(jpeg.prefix(jpeg.count / 2)).write(to: URL(fileURLWithPath: root + "/train/cat/half.jpg"))
        let png = try readWholeFile(root + "/train/cat/a.png")
        try Data(png.prefix(40)).write(to: URL(fileURLWithPath: root + "/train/cat/short.png"))
        // A noisy picture (so its pixel data is long) cut in the middle of that data.
        let noise = DecodedImage(width: 32, height: 32, channels: 3, pixels: (0..<3072).map { UInt8(truncatingIfNeeded: $0 &* 7919 >> 3) })
        try ImageEncoder.writePNG(noise, to: root + "/train/cat/noise.png")
        let long = try readWholeFile(root + "/train/cat/noise.png")
        try Data(long.prefix(long.count / 2)).write(to: URL(fileURLWithPath: root + "/train/cat/nearly.png"))
        try FileManager.default.removeItem(atPath: root + "/train/cat/noise.png")
        let dataset = try DatasetCatalog.load(root, dataDir: nil, folderOptions: options(temp))
        #expect(dataset.train.count == 3)
        let skipped = try #require(dataset.folder?.skipped)
        #expect(skipped.map(\.path).sorted()
            == ["train/cat/half.jpg", "train/cat/nearly.png", "train/cat/short.png", "train/dog/empty.png", "train/dog/text.png"])
        #expect(skipped.first { $0.path == "train/dog/empty.png" }?.reason == "zero-byte image file")
        #expect(skipped.first { $0.path == "train/dog/text.png" }?.reason.contains("not a PNG, JPEG") == true)
        #expect(skipped.first { $0.path == "train/cat/half.jpg" }?.reason.contains("JPEG") == true)
        // --strict refuses, naming the pictures.
        let error = dataError { _ = try DatasetCatalog.load(root, dataDir: nil, folderOptions: options(temp, strict: true)) }
        #expect(error?.path == root)
        #expect(error?.problem.hasPrefix("--strict: 5 unreadable picture(s): train/cat/half.jpg") == true)
    }

    @Test func emptyClassesAndStrayTestClassesAreErrorsNamingTheFolder() throws {
        let temp = try TempDirectory()
        let root = try makeFolder(temp)
        _ = try temp.makeDirectory("mini/train/empty")
        var error = dataError { _ = try DatasetCatalog.load(root, dataDir: nil, folderOptions: options(temp)) }
        #expect(error?.description == root + "/train/empty: empty class folder: no .png or .jpg pictures")
        // A class whose every picture is unreadable.
        try Data().write(to: URL(fileURLWithPath: root + "/train/empty/zero.png"))
        error = dataError { _ = try DatasetCatalog.load(root, dataDir: nil, folderOptions: options(temp)) }
        #expect(error?.path == root + "/train/empty")
        #expect(error?.problem.hasPrefix("no readable pictures in this class folder") == true)
        try FileManager.default.removeItem(atPath: root + "/train/empty")
        _ = try temp.makeDirectory("mini/test/bird")
        try ImageEncoder.writePNG(solid([1, 2, 3]), to: root + "/test/bird/e.png")
        error = dataError { _ = try DatasetCatalog.load(root, dataDir: nil, folderOptions: options(temp)) }
        #expect(error?.path == root + "/test/bird")
        #expect(error?.problem.contains("not in train/") == true)
    }

    @Test func aTrainOnlyFolderHoldsOutAStatedTestSplit() throws {
        let temp = try TempDirectory()
        let root = try temp.makeDirectory("only")
        for k in ["a", "b"] {
            _ = try temp.makeDirectory("only/train/\(k)")
            for i in 0..<10 { try ImageEncoder.writePNG(solid([UInt8(i * 20)], side: 4), to: root + "/train/\(k)/\(i).png") }
        }
        let dataset = try DatasetCatalog.load(root, dataDir: nil, folderOptions: options(temp))
        #expect(dataset.folder?.heldOutTest == HeldOutTest(fraction: 0.2, seed: 0))
        #expect(dataset.train.count == 16 && dataset.test.count == 4)
        let summary = try ImageFolder.summary(root: root)
        #expect(summary.trainPerClass.reduce(0, +) == 16 && summary.testPerClass == dataset.folder?.testPerClass)
        #expect(summary.heldOut == HeldOutTest.standard)
        // The same split every time (a fixed shuffle of the sorted files).
        let files = try ImageFolder.splits(root: root)
        #expect(try ImageFolder.splits(root: root).test == files.test)
        #expect(Set(files.test.flatMap(\.files)).isDisjoint(with: files.train.flatMap(\.files)))
        let listing = try #require(DatasetCatalog.list(dataDir: temp.path).first { $0.name == "only" })
        #expect(listing.train == 16 && listing.test == 4 && listing.heldOutTest == .standard)
    }

    @Test func theCacheIsUsedUntilTheFolderOrTheOptionsChange() throws {
        let temp = try TempDirectory()
        let root = try makeFolder(temp)
        final class Counter: @unchecked Sendable {
            let lock = NSLock()
            var calls = 0
            func add() { lock.withLock { calls += 1 } }
            func take() -> Int { lock.withLock { defer { calls = 0 }; return calls } }
        }
        let decodes = Counter()
        func load(_ options: ImageFolderOptions) throws -> Dataset {
            try DatasetCatalog.load(root, dataDir: nil, folderOptions: options, progress: { _, _ in decodes.add() })
        }
        let first = try load(options(temp, size: 6))
        #expect(decodes.take() > 0)
        let cached = try load(options(temp, size: 6))
        #expect(decodes.take() == 0)
        #expect(cached.train.pixels == first.train.pixels && cached.test.labels == first.test.labels)
        #expect(cached.folder == first.folder)
        // Touching a picture (its modification time) makes the cache stale.
        let path = root + "/train/cat/a.png"
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 5)], ofItemAtPath: path)
        _ = try load(options(temp, size: 6))
        #expect(decodes.take() > 0)
        _ = try load(options(temp, size: 6))
        #expect(decodes.take() == 0)
        // A picture added.
        try ImageEncoder.writePNG(solid([9, 9, 9]), to: root + "/train/dog/new.png")
        let added = try load(options(temp, size: 6))
        #expect(decodes.take() > 0 && added.train.count == 4)
        // Another size, another resize rule.
        let other = try load(options(temp, size: 5))
        #expect(decodes.take() > 0 && other.shape == [3, 5, 5])
        _ = try load(options(temp, size: 5, resize: .crop))
        #expect(decodes.take() > 0)
        // A damaged cache file is decoded again, not trusted.
        let files = try FileManager.default.contentsOfDirectory(atPath: temp.file("cache"))
        #expect(!files.contains { $0.contains(".tmp") })
        for file in files { try Data("CNNTUIIF".utf8).write(to: URL(fileURLWithPath: temp.file("cache") + "/" + file)) }
        let redone = try load(options(temp, size: 5))
        #expect(decodes.take() > 0 && redone.train.pixels == other.train.pixels)
        // One cut short by a byte (a full disk, a copy interrupted) is not used either.
        for file in try FileManager.default.contentsOfDirectory(atPath: temp.file("cache")) {
            let url = URL(fileURLWithPath: temp.file("cache") + "/" + file)
            try Data(contentsOf: url).dropLast().write(to: url)
        }
        let again = try load(options(temp, size: 5))
        #expect(decodes.take() > 0 && again.train.pixels == other.train.pixels)
        _ = try load(options(temp, size: 5))
        #expect(decodes.take() == 0)
    }

    @Test func pictureFilesAreKnownByTheirExtensionInAnyCase() {
        for name in ["a.png", "b.PNG", "c.JpEg", "d.jpg", "x.tar.png", "é.png"] { #expect(ImageDecoder.isImageFile(name), "\(name)") }
        for name in ["a.png.txt", "png", "b.", "c.pn", "d.jpegs", "e.gif", ""] { #expect(!ImageDecoder.isImageFile(name), "\(name)") }
    }

    @Test func folderDefaultsPadAndCropWithoutMirroring() {
        #expect(Dataset.defaultAugmentation(forDatasetNamed: "my-signs") == .padCrop)
        #expect(Augmentation.padCrop.description == "crop")
        #expect(Dataset.defaultAugmentation(forDatasetNamed: "cifar10") == .standard)
        #expect(Dataset.defaultAugmentation(forDatasetNamed: "mnist") == .none)
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
        #expect(mini.trainPerClass == [2, 1] && mini.testPerClass == [0, 1] && mini.heldOutTest == nil)
        if let cifar = listings.first(where: { $0.name == "cifar10" }), !cifar.found {
            #expect(cifar.howToGet?.contains("cnntui download cifar10") == true)
        }
    }
}
