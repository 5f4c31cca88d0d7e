import Foundation

/// The few socket calls the control endpoint and its client make, on plain descriptors: listen on and connect
/// to a Unix domain stream socket, ask who is on the other end, send and read whole lines with a timeout.
/// Everything C (sockaddr_un, SO_PEERCRED, MSG_NOSIGNAL) stays in this file.
enum UnixSocket {
    struct Failure: Error, CustomStringConvertible {
        var message: String
        /// errno of the failed call (0 when none): ECONNREFUSED and ENOENT tell a stale endpoint.
        var code: Int32 = 0
        var description: String { message }
    }

    #if os(Linux)
    private static let streamType = Int32(SOCK_STREAM.rawValue)
    #else
    private static let streamType = SOCK_STREAM
    #endif

    /// `sun_path` holds about 100 bytes with its terminating zero: longer paths cannot be bound at all.
    static var maxPathBytes: Int { MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1 }

    private static func address(_ path: String) throws(Failure) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count <= maxPathBytes else {
            throw Failure(message: "socket path \(path) is \(bytes.count) bytes; the limit is \(maxPathBytes)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }

    private static func newSocket() throws(Failure) -> Int32 {
        let fd = socket(AF_UNIX, streamType, 0)
        guard fd >= 0 else { throw Failure(message: "socket: \(lastError())", code: errno) }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        #if !os(Linux)
        var on: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, socklen_t(MemoryLayout<Int32>.size))
        #endif
        return fd
    }

    /// A listening socket bound at `path` (which must not exist), its file mode set to `mode`.
    static func listen(path: String, mode: mode_t) throws(Failure) -> Int32 {
        var address = try address(path)
        let fd = try newSocket()
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else {
            let failure = Failure(message: "bind \(path): \(lastError())", code: errno)
            close(fd)
            throw failure
        }
        guard chmod(path, mode) == 0, Foundation.listen(fd, 16) == 0 else {
            let failure = Failure(message: "listen on \(path): \(lastError())", code: errno)
            close(fd)
            unlink(path)
            throw failure
        }
        return fd
    }

    /// A socket connected to the listener at `path`.
    static func connect(path: String) throws(Failure) -> Int32 {
        var address = try address(path)
        let fd = try newSocket()
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Foundation.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            let failure = Failure(message: "connect \(path): \(lastError())", code: errno)
            close(fd)
            throw failure
        }
        return fd
    }

    /// Waits up to `timeout` seconds (nil: forever) for a connection on a listening socket, or for `wake` to
    /// become readable; nil when woken, timed out or interrupted.
    static func accept(_ listener: Int32, wake: Int32) -> Int32? {
        var fds = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
        guard poll(&fds, 2, -1) > 0, fds[1].revents == 0, fds[0].revents & Int16(POLLIN) != 0 else { return nil }
        let fd = Foundation.accept(listener, nil, nil)
        guard fd >= 0 else { return nil }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return fd
    }

    /// The user ID of the process at the other end of a connected socket (nil if the system will not say).
    static func peerUID(_ fd: Int32) -> uid_t? {
        #if os(Linux)
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; }: three 32-bit fields, read as such.
        var credentials = [UInt32](repeating: 0, count: 3)
        var length = socklen_t(12)
        let ok = credentials.withUnsafeMutableBytes { getsockopt(fd, SOL_SOCKET, SO_PEERCRED, $0.baseAddress, &length) }
        return ok == 0 && length == 12 ? uid_t(credentials[1]) : nil
        #else
        var uid = uid_t(), gid = gid_t()
        return getpeereid(fd, &uid, &gid) == 0 ? uid : nil
        #endif
    }

    /// Writes `line` and a newline, whole; false when the other end has gone.
    @discardableResult
    static func sendLine(_ fd: Int32, _ line: String) -> Bool {
        let bytes = Array((line + "\n").utf8)
        var sent = 0
        #if os(Linux)
        let flags = Int32(MSG_NOSIGNAL)  // a reader that went away must not kill the run with SIGPIPE
        #else
        let flags: Int32 = 0  // SO_NOSIGPIPE is set on the socket instead
        #endif
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, bytes.count - sent, flags) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            sent += n
        }
        return true
    }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}

/// Reads newline-terminated lines from a socket, keeping what follows a line for the next call.
struct SocketLineReader {
    enum Outcome: Equatable {
        case line(String)
        /// The other end closed the connection (or it failed).
        case closed
        case timedOut
        /// A line longer than `maxLineBytes`: the connection is not speaking this protocol.
        case tooLong
    }

    let fd: Int32
    var maxLineBytes = 65536
    private var buffer: [UInt8] = []

    init(fd: Int32) { self.fd = fd }

    /// The next line without its newline, waiting at most `timeout` seconds for it (nil: forever).
    mutating func nextLine(timeout: Double?) -> Outcome {
        let deadline = timeout.map { DispatchTime.now().uptimeNanoseconds + UInt64(max(0, $0) * 1e9) }
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return .line(line.hasSuffix("\r") ? String(line.dropLast()) : line)
            }
            if buffer.count > maxLineBytes { return .tooLong }
            var milliseconds: Int32 = -1
            if let deadline {
                let now = DispatchTime.now().uptimeNanoseconds
                guard now < deadline else { return .timedOut }
                milliseconds = Int32(min(Double(Int32.max), Double(deadline - now) / 1e6).rounded(.up))
            }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, milliseconds)
            if ready < 0 && errno == EINTR { continue }
            if ready == 0 { return .timedOut }
            guard ready > 0 else { return .closed }
            let n = read(fd, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return .closed }
            buffer.append(contentsOf: chunk[..<n])
        }
    }
}
