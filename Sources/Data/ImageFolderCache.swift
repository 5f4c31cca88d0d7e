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
        // One line per picture, "relative path<TAB>size<TAB>mtime", built as bytes: at 50,000 pictures the
        // strings of an interpolated line per picture cost more than the stat calls.
        var lines: [UInt8] = Array("v\(Self.formatVersion)\n\(absolute)\n\(choice)\n".utf8)
        lines.reserveCapacity(lines.count + files.count * 64)
        let prefix = Array((root.hasSuffix("/") ? root : root + "/").utf8)
        // Each picture is looked up by its name in its open class folder (fstatat) rather than by its whole
        // path: the kernel's walk down the path was most of the cost of 50,000 stat calls.
        var folder: (path: Substring, descriptor: Int32)?
        defer { if let folder, folder.descriptor >= 0 { close(folder.descriptor) } }
        for path in files {
            var info = stat()
            let slash = path.lastIndex(of: "/")
            let parent = slash.map { path[..<$0] } ?? "."
            if folder?.path != parent {
                if let folder, folder.descriptor >= 0 { close(folder.descriptor) }
                folder = (parent, open(String(parent), O_RDONLY | O_DIRECTORY | O_CLOEXEC))
            }
            let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
            let found = folder.map { $0.descriptor >= 0 ? fstatat($0.descriptor, name, &info, 0) == 0 : stat(path, &info) == 0 } ?? false
            let bytes = path.utf8
            lines.append(contentsOf: bytes.starts(with: prefix) ? bytes.dropFirst(prefix.count) : bytes[...])
            if found {
                lines.append(contentsOf: "\t\(info.st_size)\t\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)\n".utf8)
            } else {
                lines.append(contentsOf: "\tmissing\n".utf8)
            }
        }
        var digest = MD5()
        digest.update(lines)
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
        guard let source = CacheBytes(path: file) else { return nil }
        return Self.header(of: source, fingerprint: fingerprint)?.header.report
    }

    /// The cached content when the file is there, whole, and made from the folder as it is now. The pixels
    /// go from the file straight into the image arrays, with no whole-file buffer between: at 50,000
    /// pictures the extra 154 MB copy was a third of a second start.
    func read() -> Content? {
        guard let source = CacheBytes(path: file) else { return nil }
        return Self.content(of: source, fingerprint: fingerprint)
    }

    /// A cache file's content from its bytes in memory (the fuzz target's way in; the same checks as `read`).
    static func decode(_ data: Data, fingerprint: String) -> Content? {
        content(of: CacheBytes(data: data), fingerprint: fingerprint)
    }

    /// The content when the bytes are whole and were made from the folder whose fingerprint is given. The
    /// header's numbers are checked before they size anything: a damaged file is only a cache miss.
    private static func content(of source: CacheBytes, fingerprint: String) -> Content? {
        guard let (header, offset) = self.header(of: source, fingerprint: fingerprint),
              header.channels == 1 || header.channels == 3, ImageFolderOptions.sideRange.contains(header.side),
              header.trainCount >= 0, header.testCount >= 0 else { return nil }
        let image = header.channels * header.side * header.side
        let (pictures, tooMany) = header.trainCount.addingReportingOverflow(header.testCount)
        let (bytes, tooLarge) = pictures.multipliedReportingOverflow(by: image + 4)
        guard !tooMany, !tooLarge, source.size - offset == bytes else { return nil }
        var position = offset
        func set(_ count: Int) -> ImageSet? {
            guard let pixels = source.read([UInt8].self, count: count * image, at: position) else { return nil }
            position += count * image
            guard let labels = source.read([Int32].self, count: count, at: position) else { return nil }
            position += 4 * count
            return ImageSet(channels: header.channels, height: header.side, width: header.side, pixels: pixels,
                            labels: labels.map { Int32(littleEndian: $0) })
        }
        guard let train = set(header.trainCount), let test = set(header.testCount) else { return nil }
        // A label past the classes would index past the network's outputs.
        let classes = 0..<Int32(clamping: header.report.trainPerClass.count)
        guard train.labels.allSatisfy(classes.contains), test.labels.allSatisfy(classes.contains) else { return nil }
        return Content(train: train, test: test, report: header.report)
    }

    /// The header of a cache made from the folder as it is now, and where the pixels start.
    private static func header(of source: CacheBytes, fingerprint: String) -> (header: Header, offset: Int)? {
        guard let start = source.read([UInt8].self, count: 12, at: 0), Array(start.prefix(8)) == magic else { return nil }
        let length = Int(UInt32(start[8]) | UInt32(start[9]) << 8 | UInt32(start[10]) << 16 | UInt32(start[11]) << 24)
        // Only the header is read, so a damaged length must not size the read beyond the file.
        guard length <= source.size - 12, let json = source.read([UInt8].self, count: length, at: 12),
              let header = try? JSONDecoder().decode(Header.self, from: Data(json)), header.fingerprint == fingerprint else {
            return nil
        }
        return (header, 12 + length)
    }

    /// A cache file's bytes, read where they are asked for: from an open file (a start) or from memory (the
    /// fuzz target). The file is closed when the last copy goes.
    private final class CacheBytes {
        private let descriptor: Int32?
        private let data: Data?
        let size: Int

        init?(path: String) {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            var info = stat()
            guard fd >= 0, fstat(fd, &info) == 0 else {
                if fd >= 0 { close(fd) }
                return nil
            }
            descriptor = fd
            data = nil
            size = Int(info.st_size)
        }

        init(data: Data) {
            descriptor = nil
            self.data = data
            size = data.count
        }

        deinit { if let descriptor { close(descriptor) } }

        /// `count` elements read at byte `offset` into a new array, or nil when the bytes end first.
        func read<Element: BitwiseCopyable>(_: [Element].Type, count: Int, at offset: Int) -> [Element]? {
            let (length, overflow) = count.multipliedReportingOverflow(by: MemoryLayout<Element>.stride)
            guard count >= 0, offset >= 0, !overflow, length <= size - offset else { return nil }
            if length == 0 { return [] }
            var complete = false
            let array = [Element](unsafeUninitializedCapacity: count) { buffer, initialized in
                let target = UnsafeMutableRawBufferPointer(buffer)
                if let data {
                    data.copyBytes(to: target, from: data.startIndex + offset..<data.startIndex + offset + length)
                    complete = true
                } else if let descriptor {
                    var done = 0
                    while done < length {
                        let n = pread(descriptor, target.baseAddress! + done, length - done, off_t(offset + done))
                        if n < 0 && errno == EINTR { continue }
                        guard n > 0 else { break }
                        done += n
                    }
                    complete = done == length
                }
                // After a short read the elements count as uninitialised; they are all trivial.
                initialized = complete ? count : 0
            }
            return complete ? array : nil
        }
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
