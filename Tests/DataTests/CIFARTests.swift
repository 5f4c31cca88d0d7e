import Foundation
import Testing
@testable import Data

/// One CIFAR-10 record per image: label byte then 3072 pixel bytes.
func cifarRecords(_ count: Int, labelBase: Int = 0) -> [UInt8] {
    var bytes: [UInt8] = []
    for i in 0..<count {
        bytes.append(UInt8((labelBase + i) % 10))
        for p in 0..<3072 { bytes.append(UInt8((i * 13 + p) % 256)) }
    }
    return bytes
}

/// A ustar archive of (name, bytes) members, with the two zero blocks at the end.
func tarArchive(_ members: [(String, [UInt8])]) -> [UInt8] {
    var out: [UInt8] = []
    func field(_ text: String, _ width: Int) -> [UInt8] {
        Array(text.utf8.prefix(width)) + [UInt8](repeating: 0, count: max(0, width - text.utf8.count))
    }
    for (name, data) in members {
        var header = field(name, 100) + field("0000644", 8) + field("0000000", 8) + field("0000000", 8)
        header += field(String(format: "%011o", data.count), 12)
        header += field("00000000000", 12) + [UInt8](repeating: 32, count: 8) + [UInt8(ascii: "0")] + field("", 100)
        header += field("ustar", 6) + field("00", 2) + [UInt8](repeating: 0, count: 512 - 265)
        let sum = header.reduce(0) { $0 + Int($1) }
        let checksum = Array(String(format: "%06o", sum).utf8) + [0, 32]
        header.replaceSubrange(148..<156, with: checksum)
        out += header + data + [UInt8](repeating: 0, count: (512 - data.count % 512) % 512)
    }
    return out + [UInt8](repeating: 0, count: 1024)
}

@Suite struct CIFARTests {
    private func writeBatches(in dir: String, perBatch: Int = 3) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (k, name) in CIFAR10.trainFiles.enumerated() {
            try Data(cifarRecords(perBatch, labelBase: k)).write(to: URL(fileURLWithPath: dir + "/" + name))
        }
        try Data(cifarRecords(2, labelBase: 7)).write(to: URL(fileURLWithPath: dir + "/test_batch.bin"))
    }

    @Test func loadsBinFolder() throws {
        let temp = try TempDirectory()
        try writeBatches(in: temp.file("cifar10/cifar-10-batches-bin"))
        let dataset = try DatasetCatalog.load("cifar10", dataDir: temp.path)
        #expect(dataset.train.count == 15 && dataset.test.count == 2)
        #expect(dataset.shape == [3, 32, 32])
        #expect(dataset.classNames.first == "airplane")
        #expect(dataset.train.labels.prefix(4) == [0, 1, 2, 1])
        let expected: [UInt8] = (0..<3072).map { p in UInt8((13 + p) % 256) }
        #expect(Array(dataset.train.image(at: 1)) == expected)
        #expect(dataset.defaultAugmentation == .standard)
        #expect(dataset.mean == [0.4914, 0.4822, 0.4465])
    }

    @Test func loadsStraightFromTarGz() throws {
        let temp = try TempDirectory()
        var members: [(String, [UInt8])] = [("cifar-10-batches-bin/batches.meta.txt", Array("airplane\n".utf8))]
        for (k, name) in CIFAR10.trainFiles.enumerated() {
            members.append(("cifar-10-batches-bin/" + name, cifarRecords(2, labelBase: k)))
        }
        members.append(("cifar-10-batches-bin/test_batch.bin", cifarRecords(3, labelBase: 4)))
        _ = try temp.makeDirectory("cifar10")
        let archive = temp.file("cifar10/cifar-10-binary.tar.gz")
        try writeGzipFile(tarArchive(members), to: archive)
        let dataset = try DatasetCatalog.load("cifar10", dataDir: temp.path)
        #expect(dataset.source == archive)
        #expect(dataset.train.count == 10 && dataset.test.count == 3)
        #expect(dataset.test.labels == [4, 5, 6])
        let expected: [UInt8] = (0..<3072).map { p in UInt8((26 + p) % 256) }
        #expect(Array(dataset.test.image(at: 2)) == expected)
        // A path to the archive itself works too.
        #expect(try DatasetCatalog.load(archive, dataDir: nil).train.count == 10)

        // Truncated archive.
        let bytes = try readWholeFile(archive)
        try temp.write(Array(bytes.prefix(bytes.count / 2)), to: "cut/cifar-10-binary.tar.gz")
        let cut = dataError { _ = try CIFAR10.load(from: temp.file("cut/cifar-10-binary.tar.gz")) }
        #expect(cut?.path == temp.file("cut/cifar-10-binary.tar.gz"))
        #expect(cut?.problem.contains("truncated") == true)
        // A gzip file that is not a tar archive.
        try writeGzipFile(Array(repeating: 7, count: 2000), to: temp.file("junk.tar.gz"))
        #expect(dataError { _ = try CIFAR10.load(from: temp.file("junk.tar.gz")) }?.problem.contains("not a tar archive") == true)
        // An archive missing a member.
        try writeGzipFile(tarArchive(Array(members.dropLast())), to: temp.file("partial.tar.gz"))
        #expect(dataError { _ = try CIFAR10.load(from: temp.file("partial.tar.gz")) }?.problem == "archive lacks cifar-10-batches-bin/test_batch.bin")
    }

    @Test func badRecordsAreErrors() throws {
        let temp = try TempDirectory()
        let dir = temp.file("c")
        try writeBatches(in: dir)
        try Data(cifarRecords(2).dropLast(5)).write(to: URL(fileURLWithPath: dir + "/data_batch_3.bin"))
        let short = dataError { _ = try CIFAR10.load(from: dir) }
        #expect(short?.path == dir + "/data_batch_3.bin")
        #expect(short?.problem.contains("not a whole number of 3073-byte") == true)
        var badLabel = cifarRecords(2)
        badLabel[3073] = 11
        try Data(badLabel).write(to: URL(fileURLWithPath: dir + "/data_batch_3.bin"))
        #expect(dataError { _ = try CIFAR10.load(from: dir) }?.problem == "label 11 of record 1 is out of range 0...9")
        try Data().write(to: URL(fileURLWithPath: dir + "/data_batch_3.bin"))
        #expect(dataError { _ = try CIFAR10.load(from: dir) }?.problem == "empty file")
        try FileManager.default.removeItem(atPath: dir + "/data_batch_3.bin")
        #expect(dataError { _ = try CIFAR10.load(from: dir) }?.problem.hasPrefix("missing file") == true)
    }
}
