import Foundation
import Testing
@testable import Data

@Suite struct IDXTests {
    @Test func loadsTinyGzipIDXDataset() throws {
        let temp = try TempDirectory()
        let dir = temp.file("mnist")
        try writeIDXDataset(in: dir, train: 12, test: 5, side: 28)
        let dataset = try DatasetCatalog.load("mnist", dataDir: temp.path)
        #expect(dataset.name == "mnist")
        #expect(dataset.source == dir)
        #expect(dataset.train.count == 12 && dataset.test.count == 5)
        #expect(dataset.shape == [1, 28, 28])
        let expected: [UInt8] = (0..<784).map { p in UInt8((21 + p * 3) % 256) }
        #expect(Array(dataset.train.image(at: 3)) == expected)
        #expect(dataset.train.labels == (0..<12).map { Int32($0 % 10) })
        #expect(dataset.mean == [0.1307] && dataset.std == [0.3081])
        #expect(dataset.defaultAugmentation == .none)
    }

    @Test func readsUncompressedIDXToo() throws {
        let temp = try TempDirectory()
        try temp.write(idxLabels([1, 2, 3]), to: "labels")
        #expect(try IDX.readLabels(path: temp.file("labels"), classCount: 10) == [1, 2, 3])
    }

    @Test func wrongMagicNumberNamesTheFile() throws {
        let temp = try TempDirectory()
        let path = temp.file("train-images-idx3-ubyte.gz")
        try writeGzipFile(idxImages(count: 2, height: 2, width: 2, magic: 0x801) { _, _ in 0 }, to: path)
        let error = dataError { _ = try IDX.readImages(path: path) }
        #expect(error?.path == path)
        #expect(error?.problem.contains("wrong IDX magic number 0x00000801, expected 0x00000803") == true)
    }

    @Test func imageAndLabelCountsMustAgree() throws {
        let temp = try TempDirectory()
        let dir = temp.file("mnist")
        try writeIDXDataset(in: dir)
        try writeGzipFile(idxLabels([1, 2, 3]), to: dir + "/train-labels-idx1-ubyte.gz")
        let error = dataError { _ = try DatasetCatalog.load("mnist", dataDir: temp.path) }
        #expect(error?.description.contains("holds 12 images but") == true)
        #expect(error?.description.contains("train-labels-idx1-ubyte.gz holds 3 labels") == true)
    }

    @Test func labelOutOfRange() throws {
        let temp = try TempDirectory()
        let path = temp.file("labels.gz")
        try writeGzipFile(idxLabels([1, 10, 3]), to: path)
        let error = dataError { _ = try IDX.readLabels(path: path, classCount: 10) }
        #expect(error?.description == "\(path): label 10 of item 1 is out of range 0...9")
    }

    @Test func truncatedGzipIsAnError() throws {
        let temp = try TempDirectory()
        let whole = temp.file("whole.gz"), cut = temp.file("cut.gz")
        try writeGzipFile(idxImages(count: 50, height: 8, width: 8) { i, p in UInt8((i * p) % 251) }, to: whole)
        let bytes = try readWholeFile(whole)
        try temp.write(Array(bytes.prefix(bytes.count - 30)), to: "cut.gz")
        let error = dataError { _ = try IDX.readImages(path: cut) }
        #expect(error?.path == cut)
        #expect(error?.problem.contains("truncated") == true)
        // Only the 8-byte trailer missing: all pixels present, but the file is still incomplete.
        try temp.write(Array(bytes.prefix(bytes.count - 4)), to: "trailer.gz")
        #expect(dataError { _ = try IDX.readImages(path: temp.file("trailer.gz")) }?.problem.contains("truncated") == true)
    }

    @Test func corruptGzipIsAnError() throws {
        let temp = try TempDirectory()
        let path = temp.file("bad.gz")
        try writeGzipFile(idxImages(count: 50, height: 8, width: 8) { i, p in UInt8((i + p) % 7) }, to: path)
        var bytes = try readWholeFile(path)
        for k in 20..<40 { bytes[k] ^= 0x5A }
        try temp.write(bytes, to: "bad.gz")
        let error = dataError { _ = try IDX.readImages(path: path) }
        #expect(error?.path == path)
        #expect(error != nil)
    }

    @Test func missingFileAndMissingDataset() throws {
        let temp = try TempDirectory()
        let dir = temp.file("mnist")
        try writeIDXDataset(in: dir)
        try FileManager.default.removeItem(atPath: dir + "/t10k-labels-idx1-ubyte.gz")
        let missing = dataError { _ = try DatasetCatalog.load("mnist", dataDir: temp.path) }
        #expect(missing?.description == "\(dir)/t10k-labels-idx1-ubyte.gz: missing file")
        let unknown = dataError { _ = try DatasetCatalog.load(temp.file("nowhere"), dataDir: nil) }
        #expect(unknown?.problem.contains("no such dataset or directory") == true)
        let notDataset = dataError { _ = try DatasetCatalog.load(try temp.makeDirectory("empty"), dataDir: nil) }
        #expect(notDataset?.problem.contains("not a dataset") == true)
    }

    @Test func loadsRealFashionMNISTWhenInstalled() throws {
        let dir = "/usr/share/datasets/fashion-mnist"
        guard IDX.isDatasetFolder(dir) else { return }
        let start = ContinuousClock.now
        let dataset = try DatasetCatalog.load("fashion-mnist", dataDir: nil)
        let elapsed = ContinuousClock.now - start
        print("fashion-mnist loaded from \(dataset.source) in \(elapsed)")
        #expect(elapsed < .seconds(2))
        #expect(dataset.train.count == 60000 && dataset.test.count == 10000)
        #expect(dataset.shape == [1, 28, 28])
        #expect(Set(dataset.train.labels) == Set(0...9))
        #expect(dataset.train.classCounts(classes: 10) == Array(repeating: 6000, count: 10))
        #expect(dataset.classNames.count == 10)
        // Multi-block MD5 against md5sum's answer for the Debian file.
        #expect(try MD5.file(dir + "/t10k-labels-idx1-ubyte.gz") == "0d30e22e447f3c33dab9ed536400ac01")
        // Mean of the training pixels is the published 0.2860.
        let stats = DatasetCatalog.channelStatistics(dataset.train)
        #expect(abs(stats.mean[0] - 0.2860) < 0.001 && abs(stats.std[0] - 0.3530) < 0.001)
    }
}
