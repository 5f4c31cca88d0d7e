import Foundation

/// Crash-safe file writes: every session file goes through here, so `kill -9` at any moment leaves
/// either the old file or the new one, whole.
public enum AtomicFile {
    public struct Failure: Error, CustomStringConvertible {
        public var path: String
        public var message: String
        public var description: String { "\(path): \(message)" }
    }

    /// Writes `data` to a temporary file beside `url`, fsyncs it, renames it over `url`,
    /// then fsyncs the directory so the rename itself survives a power cut.
    public static func write(_ data: Data, to url: URL) throws {
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure(temporary, "cannot create: \(lastError())") }
        let ok = AtomicFile.writeAll(fd, data).error == nil
        let writeError = lastError()
        let synced = fsync(fd) == 0
        close(fd)
        guard ok, synced else {
            unlink(temporary.path)
            throw failure(url, ok ? "fsync failed" : "write failed: \(writeError)")
        }
        try moveIntoPlace(temporary, url)
    }

    /// Writes all of `data` to `fd`, again after a short write or an interrupted call: the bytes written, and
    /// the errno that stopped it, if one did.
    static func writeAll(_ fd: Int32, _ data: Data) -> (written: Int, error: Int32?) {
        var written = 0
        let error: Int32? = data.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return nil }
            while written < raw.count {
                let n = Foundation.write(fd, base + written, raw.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                written += n
            }
            return nil
        }
        return (written, error)
    }

    /// Points the symbolic link `url` at `target` (a relative path) atomically: a new link is made
    /// under a temporary name and renamed over the old one.
    public static func replaceSymlink(at url: URL, pointingTo target: String) throws {
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).link-\(getpid())")
        unlink(temporary.path)
        guard symlink(target, temporary.path) == 0 else { throw failure(temporary, "cannot create symlink: \(lastError())") }
        try moveIntoPlace(temporary, url)
    }

    /// Renames `temporary` over `url` (removing `temporary` if that fails), then makes the rename durable.
    private static func moveIntoPlace(_ temporary: URL, _ url: URL) throws {
        guard rename(temporary.path, url.path) == 0 else {
            let message = lastError()
            unlink(temporary.path)
            throw failure(url, "rename failed: \(message)")
        }
        syncDirectory(url.deletingLastPathComponent())
    }

    /// fsyncs a directory so renames and creations inside it are durable.
    public static func syncDirectory(_ directory: URL) {
        let fd = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    private static func failure(_ url: URL, _ message: String) -> Failure {
        Failure(path: url.path, message: message)
    }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}
