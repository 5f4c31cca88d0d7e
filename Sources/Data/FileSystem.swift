import Foundation

/// Small file-system helpers shared by the readers and the catalog.
func posixErrorText() -> String { String(cString: strerror(errno)) }

func fileExists(_ path: String) -> Bool {
    var isDirectory: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
}

func directoryExists(_ path: String) -> Bool {
    var isDirectory: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
}

func joinPath(_ parts: String...) -> String {
    var result = ""
    for part in parts where !part.isEmpty {
        if result.isEmpty || result.hasSuffix("/") { result += part } else { result += "/" + part }
    }
    return result
}

/// Entries of a directory, sorted so labels and file order never depend on the file system.
func sortedEntries(_ path: String) throws -> [String] {
    do {
        return try FileManager.default.contentsOfDirectory(atPath: path).filter { !$0.hasPrefix(".") }.sorted()
    } catch {
        throw DataError(path, "cannot list directory: \(error.localizedDescription)")
    }
}

/// A whole file's bytes. `head`, given the first bytes (up to 16), can refuse the file before the rest is read,
/// and a file over `limit` bytes (a `what` that large is no file of the kind) is refused before its bytes are
/// allocated: a reader checking a stranger's file never loads gigabytes to look at its first bytes.
func readWholeFile(_ path: String, atMost limit: Int = Int.max, what: String = "file",
                   head: (([UInt8]) throws -> Void)? = nil) throws -> [UInt8] {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else {
        throw DataError(path, errno == ENOENT ? "missing file" : "cannot read: \(posixErrorText())")
    }
    defer { close(descriptor) }
    var status = stat()
    guard fstat(descriptor, &status) == 0 else { throw DataError(path, "cannot read: \(posixErrorText())") }
    guard status.st_mode & S_IFMT == S_IFREG else { throw DataError(path, "not a regular file") }
    let size = Int(status.st_size)
    // The first bytes are checked before the size: "not a picture" says more than "too large for one".
    var bytes = [UInt8](repeating: 0, count: min(size, 16))
    var done = 0
    func readUpTo(_ end: Int) throws {
        while done < end {
            let n = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, end - done, off_t(done)) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw DataError(path, "read error: \(posixErrorText())") }
            guard n > 0 else { throw DataError(path, "shorter than its size (\(done) of \(size) bytes): changed while read") }
            done += n
        }
    }
    if let head {
        try readUpTo(bytes.count)
        try head(bytes)
    }
    guard size <= limit else {
        throw DataError(path, "\(size) bytes is more than a \(what) can hold (at most \(limit))")
    }
    bytes.append(contentsOf: repeatElement(0, count: size - bytes.count))
    try readUpTo(size)
    return bytes
}
