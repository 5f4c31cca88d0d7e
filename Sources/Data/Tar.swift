/// A minimal reader for (gzipped) ustar/GNU tar archives, streaming: each regular file's header
/// is handed to `visit`, which may read its `size` bytes from the stream; whatever it leaves
/// is skipped. Enough for cifar-10-binary.tar.gz; no extraction to disk.
enum TarReader {
    struct Member {
        let name: String
        let size: Int
    }

    /// Walks the archive at `path`. `visit` returns after reading 0 or exactly `size` bytes of the member.
    static func forEachFile(in path: String, _ visit: (Member, GzipFile) throws -> Bool) throws {
        let file = try GzipFile(path: path)
        var longName: String?
        while true {
            let headerOffset = file.offset
            var header = [UInt8](repeating: 0, count: 512)
            let got = try file.read(into: &header)
            if got == 0 { return }  // no end-of-archive blocks; gzip already vouched for the stream
            if got < 512 { throw DataError(path, "truncated tar archive: header at offset \(headerOffset) is cut off") }
            if header.allSatisfy({ $0 == 0 }) {
                try drain(file)
                return
            }
            try verifyChecksum(header, path: path, offset: headerOffset)
            guard let size = parseNumber(header[124..<136]) else {
                throw DataError(path, "corrupt tar header at offset \(headerOffset): unreadable size field")
            }
            let type = header[156]
            var name = longName ?? ustarName(header)
            longName = nil
            let padded = (size + 511) / 512 * 512
            switch type {
            case UInt8(ascii: "L"):  // GNU long name: the next member's name is this member's data
                guard size <= maximumLongName else {
                    throw DataError(path, "corrupt tar header at offset \(headerOffset): a \(size)-byte GNU long name")
                }
                let bytes = try file.readBytes(size, what: "a GNU long name")
                longName = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
                try file.skip(padded - size, what: "tar padding")
                continue
            case 0, UInt8(ascii: "0"), UInt8(ascii: "7"):
                if name.hasPrefix("./") { name.removeFirst(2) }
                let consumed = try visit(Member(name: name, size: size), file)
                try file.skip(padded - (consumed ? size : 0), what: "member \(name) of the tar archive")
            default:  // directories, links, pax headers: nothing to read
                try file.skip(padded, what: "tar member \(name)")
            }
        }
    }

    /// Reads the rest of the stream so zlib checks the gzip trailer.
    private static func drain(_ file: GzipFile) throws {
        var scratch = [UInt8](repeating: 0, count: 1 << 16)
        while try file.read(into: &scratch) > 0 {}
    }

    private static func ustarName(_ header: [UInt8]) -> String {
        func text(_ range: Range<Int>) -> String {
            String(decoding: header[range].prefix { $0 != 0 }, as: UTF8.self)
        }
        let name = text(0..<100)
        let isUstar = header[257..<262].elementsEqual("ustar".utf8)
        let prefix = isUstar ? text(345..<500) : ""
        return prefix.isEmpty ? name : prefix + "/" + name
    }

    /// Longer GNU long names are corrupt headers, not names (Linux allows 4096 bytes in a path).
    static let maximumLongName = 1 << 16
    /// Larger sizes are corrupt headers: a tar stream of 2^53 bytes does not exist, and the padded size must
    /// not overflow.
    static let maximumSize = 1 << 53

    /// Octal digits (space/NUL padded), or GNU's base-256 when the top bit is set; nil when unreadable or
    /// larger than `maximumSize`.
    private static func parseNumber(_ field: ArraySlice<UInt8>) -> Int? {
        if let first = field.first, first & 0x80 != 0 {
            // Base-256 holds up to 95 bits: a number above the limit must be refused before it overflows.
            var value = Int(first & 0x7F)
            for byte in field.dropFirst() {
                guard value <= maximumSize >> 8 else { return nil }
                value = value << 8 | Int(byte)
            }
            return value <= maximumSize ? value : nil
        }
        var value = 0
        var seenDigit = false
        for byte in field {
            if byte == 0 || byte == UInt8(ascii: " ") {
                if seenDigit { break } else { continue }
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "7") else { return nil }
            value = value * 8 + Int(byte - UInt8(ascii: "0"))
            seenDigit = true
        }
        return seenDigit ? value : nil
    }

    private static func verifyChecksum(_ header: [UInt8], path: String, offset: Int) throws {
        guard let stored = parseNumber(header[148..<156]) else {
            throw DataError(path, "not a tar archive (or corrupt): no checksum in the header at offset \(offset)")
        }
        var sum = 0
        for (i, byte) in header.enumerated() { sum += (148..<156).contains(i) ? 32 : Int(byte) }
        guard sum == stored else {
            throw DataError(path, "not a tar archive (or corrupt): header checksum mismatch at offset \(offset)")
        }
    }
}
