import Foundation

/// CIFAR-10's binary version: each record is 1 label byte then 3072 pixel bytes, the red, green
/// and blue 32x32 planes (already CHW). Read from cifar-10-batches-bin/ or straight from
/// cifar-10-binary.tar.gz.
enum CIFAR10 {
    static let recordSize = 1 + 3 * 32 * 32
    static let trainFiles = (1...5).map { "data_batch_\($0).bin" }
    static let testFile = "test_batch.bin"
    static let archiveName = "cifar-10-binary.tar.gz"
    static let classNames = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    /// The directory holding the six .bin files, or the archive, found in `folder` (itself,
    /// its cifar-10-batches-bin/, or cifar-10-binary.tar.gz in it). nil when none is there.
    static func locate(in folder: String) -> String? {
        if folder.hasSuffix(".tar.gz") || folder.hasSuffix(".tgz") { return fileExists(folder) ? folder : nil }
        for directory in [folder, joinPath(folder, "cifar-10-batches-bin")]
        where fileExists(joinPath(directory, testFile)) {
            return directory
        }
        let archive = joinPath(folder, archiveName)
        return fileExists(archive) ? archive : nil
    }

    static func load(from location: String) throws -> (train: ImageSet, test: ImageSet) {
        if fileExists(location) { return try loadArchive(location) }
        var trainPixels: [UInt8] = [], trainLabels: [Int32] = []
        for name in trainFiles {
            let path = joinPath(location, name)
            guard fileExists(path) else { throw DataError(path, "missing file (CIFAR-10 needs \(trainFiles.joined(separator: ", ")) and \(testFile))") }
            let data = try readWholeFile(path, atMost: 1 << 30, what: "CIFAR-10 batch")
            try decode(data, source: path, into: &trainPixels, labels: &trainLabels)
        }
        var testPixels: [UInt8] = [], testLabels: [Int32] = []
        let testPath = joinPath(location, testFile)
        try decode(try readWholeFile(testPath, atMost: 1 << 30, what: "CIFAR-10 batch"), source: testPath, into: &testPixels, labels: &testLabels)
        return (makeSet(trainPixels, trainLabels), makeSet(testPixels, testLabels))
    }

    private static func loadArchive(_ path: String) throws -> (train: ImageSet, test: ImageSet) {
        var members: [String: [UInt8]] = [:]
        let wanted = Set(trainFiles + [testFile])
        try TarReader.forEachFile(in: path) { member, file in
            let base = (member.name as NSString).lastPathComponent
            guard wanted.contains(base) else { return false }
            guard member.size > 0, member.size % recordSize == 0, member.size <= 1 << 30 else {
                throw DataError("\(path) (\(member.name))", "size \(member.size) is not a whole number of \(recordSize)-byte CIFAR-10 records")
            }
            members[base] = try file.readBytes(member.size, what: "member \(member.name)")
            return true
        }
        var trainPixels: [UInt8] = [], trainLabels: [Int32] = []
        for name in trainFiles {
            guard let data = members[name] else { throw DataError(path, "archive lacks cifar-10-batches-bin/\(name)") }
            try decode(data, source: "\(path) (\(name))", into: &trainPixels, labels: &trainLabels)
        }
        guard let test = members[testFile] else { throw DataError(path, "archive lacks cifar-10-batches-bin/\(testFile)") }
        var testPixels: [UInt8] = [], testLabels: [Int32] = []
        try decode(test, source: "\(path) (\(testFile))", into: &testPixels, labels: &testLabels)
        return (makeSet(trainPixels, trainLabels), makeSet(testPixels, testLabels))
    }

    private static func makeSet(_ pixels: [UInt8], _ labels: [Int32]) -> ImageSet {
        ImageSet(channels: 3, height: 32, width: 32, pixels: pixels, labels: labels)
    }

    /// Splits records into labels and CHW pixels, checking size and label range.
    static func decode(_ data: [UInt8], source: String, into pixels: inout [UInt8], labels: inout [Int32]) throws {
        guard !data.isEmpty else { throw DataError(source, "empty file") }
        guard data.count % recordSize == 0 else {
            throw DataError(source, "size \(data.count) is not a whole number of \(recordSize)-byte CIFAR-10 records (truncated?)")
        }
        let records = data.count / recordSize
        pixels.reserveCapacity(pixels.count + records * (recordSize - 1))
        labels.reserveCapacity(labels.count + records)
        for r in 0..<records {
            let base = r * recordSize
            let label = data[base]
            guard label < 10 else { throw DataError(source, "label \(label) of record \(r) is out of range 0...9") }
            labels.append(Int32(label))
            pixels.append(contentsOf: data[base + 1..<base + recordSize])
        }
    }

    /// Images per split, from file sizes alone (for `cnntui datasets`).
    static func counts(at location: String) -> (train: Int, test: Int) {
        if fileExists(location) { return (50000, 10000) }
        func records(_ name: String) -> Int { fileSize(joinPath(location, name)) / recordSize }
        return (trainFiles.map(records).reduce(0, +), records(testFile))
    }
}

func fileSize(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
}

