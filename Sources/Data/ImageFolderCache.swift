import Foundation

/// The decoded pictures of an image folder, kept under `DatasetCatalog.cacheDirectory()/folders/` so a second
/// start reads one file instead of decoding every picture. One cache file per folder and resize options; it
/// holds a fingerprint of every picture's path, size and modification time and of the options, and is used
/// only when the folder's fingerprint is the same now. A stale, damaged or unwritable cache only costs a
/// decode: reading and writing never fail the load.
struct ImageFolderCache {
    struct Content {
        var train: ImageSet, test: ImageSet
        var report: ImageFolderReport
    }

    /// Bumped whenever what is cached, or how it is decoded, changes.
    static let formatVersion = 1
    private static let magic = Array("CNNTUIIF".utf8)

    let file: String
    let fingerprint: String

    init(root: String, options: ImageFolderOptions, files: [String]) {
        let absolute = URL(fileURLWithPath: root).standardizedFileURL.path
        let choice = "size=\(options.imageSize.map(String.init) ?? "auto") resize=\(options.resize.rawValue)"
        var name = MD5()
        name.update(Array("\(absolute)\n\(choice)".utf8))
        file = joinPath(options.cacheDirectory ?? joinPath(DatasetCatalog.cacheDirectory(), "folders"), name.finalize() + ".bin")
        var digest = MD5()
        digest.update(Array("v\(Self.formatVersion)\n\(absolute)\n\(choice)\n".utf8))
        for path in files {
            var info = stat()
            let relative = ImageFolder.relativePath(path, root: root)
            let line = stat(path, &info) == 0
                ? "\(relative)\t\(info.st_size)\t\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)\n" : "\(relative)\tmissing\n"
            digest.update(Array(line.utf8))
        }
        fingerprint = digest.finalize()
    }

    private struct Header: Codable {
        var fingerprint: String
        var channels: Int, side: Int
        var trainCount: Int, testCount: Int
        var report: ImageFolderReport
    }

    /// Only the report (side, counts, mean and std) of a cache made from the folder as it is now: the header,
    /// not the pixels.
    func readReport() -> ImageFolderReport? {
        guard let handle = FileHandle(forReadingAtPath: file) else { return nil }
        defer { try? handle.close() }
        guard let start = try? handle.read(upToCount: 12), start.count == 12, Array(start.prefix(8)) == Self.magic else { return nil }
        let headerLength = start.subdata(in: 8..<12).withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))) }
        // Only the header is read, so a damaged length must not size the read beyond the file.
        guard let fileSize = try? handle.seekToEnd(), headerLength <= Int(fileSize) - 12,
              (try? handle.seek(toOffset: 12)) != nil,
              let json = try? handle.read(upToCount: headerLength), json.count == headerLength,
              let header = try? JSONDecoder().decode(Header.self, from: json), header.fingerprint == fingerprint else { return nil }
        return header.report
    }

    /// The cached content when the file is there, whole, and made from the folder as it is now.
    func read() -> Content? {
        guard let data = FileManager.default.contents(atPath: file) else { return nil }
        return Self.decode(data, fingerprint: fingerprint)
    }

    /// A cache file's content when its bytes are whole and were made from the folder whose fingerprint is given.
    static func decode(_ data: Data, fingerprint: String) -> Content? {
        guard data.count > 12, Array(data.prefix(8)) == Self.magic else { return nil }
        let headerLength = data.subdata(in: 8..<12).withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))) }
        guard data.count >= 12 + headerLength,
              let header = try? JSONDecoder().decode(Header.self, from: data.subdata(in: 12..<12 + headerLength)),
              header.fingerprint == fingerprint else { return nil }
        // The header's numbers are checked before they size anything: a damaged file is only a cache miss.
        let classCount = header.report.trainPerClass.count
        guard header.channels == 1 || header.channels == 3, ImageFolderOptions.sideRange.contains(header.side),
              header.trainCount >= 0, header.testCount >= 0 else { return nil }
        let image = header.channels * header.side * header.side
        var offset = 12 + headerLength
        let (pictures, tooMany) = header.trainCount.addingReportingOverflow(header.testCount)
        let (bytes, tooLarge) = pictures.multipliedReportingOverflow(by: image + 4)
        guard !tooMany, !tooLarge, data.count - offset == bytes else { return nil }
        func set(_ count: Int) -> ImageSet {
            let pixels = [UInt8](data[offset..<offset + count * image])
            offset += count * image
            var labels = [Int32](repeating: 0, count: count)
            labels.withUnsafeMutableBytes { _ = data.copyBytes(to: $0, from: offset..<offset + 4 * count) }
            offset += 4 * count
            return ImageSet(channels: header.channels, height: header.side, width: header.side, pixels: pixels,
                            labels: labels.map { Int32(littleEndian: $0) })
        }
        let train = set(header.trainCount), test = set(header.testCount)
        guard (train.labels + test.labels).allSatisfy({ (0..<Int32(clamping: classCount)).contains($0) }) else { return nil }
        return Content(train: train, test: test, report: header.report)
    }

    /// Writes the content to a temporary file beside the cache file and renames it into place, so a reader
    /// sees the old file or the new one, whole.
    func write(_ content: Content) {
        let header = Header(fingerprint: fingerprint, channels: content.train.channels, side: content.train.height,
                            trainCount: content.train.count, testCount: content.test.count, report: content.report)
        guard let json = try? JSONEncoder().encode(header) else { return }
        var data = Data(Self.magic)
        withUnsafeBytes(of: UInt32(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        for set in [content.train, content.test] {
            data.append(contentsOf: set.pixels)
            set.labels.map(\.littleEndian).withUnsafeBytes { data.append(contentsOf: $0) }
        }
        let folder = (file as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let temporary = file + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard FileManager.default.createFile(atPath: temporary, contents: data) else { return }
        if rename(temporary, file) != 0 { unlink(temporary) }
    }
}
