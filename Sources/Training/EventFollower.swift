import Foundation

/// Follows a file another process appends lines to, without ever blocking: each `poll()` returns the complete
/// lines added since the last one.
///
/// As TensorBoard's event file loader and W&B's LEET live store do, the end of the file only means "nothing more
/// yet": a last line without its newline is kept back until the rest arrives, and a missing file is a file with
/// nothing in it yet. A file that became shorter than what was read (truncated) or was replaced (another inode at
/// the path) starts over from its first byte, and the poll says `reset`, so the consumer folds from scratch.
public final class EventFollower {
    public struct Line: Sendable, Equatable {
        /// 1-based, counted from the start of the file.
        public var number: Int
        /// The line without its newline.
        public var bytes: Data
    }

    public struct Batch: Sendable, Equatable {
        /// The file was truncated or replaced: everything read before is void, `lines` start from its beginning.
        public var reset = false
        public var lines: [Line] = []
    }

    public let url: URL
    private var descriptor: Int32 = -1
    /// The file being read (device, inode): another one at the path means it was replaced.
    private var identity: (device: UInt64, inode: UInt64)?
    /// Bytes read so far, complete lines and `partial`.
    private var offset = 0
    /// The end of the file after its last newline, waiting for the rest of its line.
    private var partial = Data()
    private var lineCount = 0

    public init(url: URL) { self.url = url }

    deinit { if descriptor >= 0 { close(descriptor) } }

    /// The complete lines appended since the last poll (from the start after a reset).
    public func poll() -> Batch {
        var batch = Batch()
        var status = stat()
        if stat(url.path, &status) == 0, identity.map({ $0 != (UInt64(status.st_dev), UInt64(status.st_ino)) }) ?? true {
            let opened = open(url.path, O_RDONLY | O_CLOEXEC)
            if opened >= 0 {
                // The inode of what was opened, which may already differ from what `stat` saw.
                fstat(opened, &status)
                if descriptor >= 0 {
                    close(descriptor)
                    batch.reset = true
                }
                descriptor = opened
                identity = (UInt64(status.st_dev), UInt64(status.st_ino))
                startOver()
            }
        }
        guard descriptor >= 0 else { return batch }
        if fstat(descriptor, &status) == 0, Int(status.st_size) < offset {
            batch.reset = true
            startOver()
        }
        let added = readToEnd()
        guard !added.isEmpty else { return batch }
        var text = partial
        text.append(added)
        var start = text.startIndex
        while let newline = text[start...].firstIndex(of: UInt8(ascii: "\n")) {
            lineCount += 1
            if newline > start { batch.lines.append(Line(number: lineCount, bytes: Data(text[start..<newline]))) }
            start = newline + 1
        }
        partial = Data(text[start...])
        return batch
    }

    private func startOver() {
        offset = 0
        partial = Data()
        lineCount = 0
    }

    /// Everything from `offset` to the end of the file as it is now.
    private func readToEnd() -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, off_t(offset)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            data.append(contentsOf: buffer[0..<n])
            offset += n
        }
        return data
    }
}
