import CZlib

/// Sequential reader over a gzip file (or a plain file: zlib passes it through unchanged),
/// with a 1 MiB buffer so Fashion-MNIST's 47 MB inflate in a fraction of a second.
/// Every failure is a `DataError` naming the file (and the archive member, when there is one).
final class GzipFile {
    let path: String
    private let file: gzFile
    /// Uncompressed bytes handed out so far, for error messages.
    private(set) var offset = 0

    init(path: String) throws {
        self.path = path
        guard let file = gzopen(path, "rb") else {
            throw DataError(path, "cannot open: \(posixErrorText())")
        }
        self.file = file
        gzbuffer(file, 1 << 20)
    }

    deinit { gzclose(file) }

    /// Reads up to `count` bytes into `destination`; returns how many arrived (fewer only at the end).
    func read(into destination: UnsafeMutableRawPointer, count: Int) throws -> Int {
        var done = 0
        while done < count {
            let chunk = UInt32(min(count - done, 1 << 30))
            let got = gzread(file, destination + done, chunk)
            if got < 0 { throw streamError() }
            if got == 0 {
                // gzread reports a truncated stream as a short read plus an error code.
                var code: Int32 = 0
                _ = gzerror(file, &code)
                if code != Z_OK { throw streamError() }
                break
            }
            done += Int(got)
        }
        offset += done
        return done
    }

    /// Reads exactly `count` bytes or throws "truncated", naming `what` (e.g. "image data").
    func readExactly(into destination: UnsafeMutableRawPointer, count: Int, what: String) throws {
        let got = try read(into: destination, count: count)
        if got < count {
            throw DataError(path, "truncated: \(what) needs \(count) bytes at offset \(offset - got), only \(got) left")
        }
    }

    /// Fills as much of `bytes` as the stream still holds; returns how many bytes arrived.
    func read(into bytes: inout [UInt8]) throws -> Int {
        try bytes.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return 0 }
            return try read(into: base, count: buffer.count)
        }
    }

    /// Reads exactly `count` bytes or throws "truncated". The count comes from a header in the file, which may
    /// lie: the array grows a chunk at a time as the bytes arrive, so a tiny file announcing gigabytes is
    /// refused once it runs out, having allocated no more than it held plus one chunk.
    func readBytes(_ count: Int, what: String) throws -> [UInt8] {
        guard count >= 0 else { throw DataError(path, "corrupt: \(what) announces a negative size \(count)") }
        if count == 0 { return [] }
        let chunk = 1 << 20
        var bytes = [UInt8](repeating: 0, count: min(count, chunk))
        var done = 0
        while true {
            let got = try bytes.withUnsafeMutableBytes { buffer in
                try read(into: buffer.baseAddress! + done, count: buffer.count - done)
            }
            done += got
            if done < bytes.count {
                throw DataError(path, "truncated: \(what) needs \(count) bytes at offset \(offset - done), only \(done) left")
            }
            if done == count { return bytes }
            bytes += repeatElement(0, count: min(count - done, bytes.count))
        }
    }

    /// Skips `count` bytes of the uncompressed stream.
    func skip(_ count: Int, what: String) throws {
        guard count >= 0 else { throw DataError(path, "corrupt: \(what) announces a negative size \(count)") }
        var scratch = [UInt8](repeating: 0, count: min(count, 1 << 20))
        var left = count
        while left > 0 {
            let step = min(left, scratch.count)
            try scratch.withUnsafeMutableBytes { buffer in
                if let base = buffer.baseAddress { try readExactly(into: base, count: step, what: what) }
            }
            left -= step
        }
    }

    /// Reading past the payload makes zlib check the gzip trailer (CRC and length): a file whose
    /// end was cut off or whose bytes were damaged fails here instead of loading silently.
    func expectEnd(what: String) throws {
        var byte: UInt8 = 0
        let got = try read(into: &byte, count: 1)
        if got != 0 { throw DataError(path, "unexpected data after the \(what) at offset \(offset - 1)") }
    }

    private func streamError() -> DataError {
        var code: Int32 = 0
        let message = gzerror(file, &code).map { String(cString: $0) } ?? "unknown error"
        switch code {
        case Z_BUF_ERROR: return DataError(path, "truncated gzip stream (ends at uncompressed offset \(offset))")
        case Z_DATA_ERROR: return DataError(path, "corrupt gzip stream: \(message)")
        case Z_ERRNO: return DataError(path, "read error: \(posixErrorText())")
        default: return DataError(path, "gzip error \(code): \(message)")
        }
    }
}

/// Writes `bytes` as a gzip file (used by tests to build tiny datasets).
func writeGzipFile(_ bytes: [UInt8], to path: String) throws {
    guard let file = gzopen(path, "wb") else { throw DataError(path, "cannot create: \(posixErrorText())") }
    let written = bytes.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
    let closed = gzclose(file)
    guard written == Int32(bytes.count) || bytes.isEmpty, closed == Z_OK else { throw DataError(path, "gzip write failed") }
}
