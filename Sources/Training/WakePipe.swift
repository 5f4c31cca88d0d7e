import Foundation

/// A non-blocking self-pipe: a level-triggered "something happened" flag that a thread (or a signal
/// handler) sets by writing a byte and a loop sleeping in `poll()` sees on `readEnd`. The one pipe of the
/// event channel, the model estimator and the headless run's signal handling.
///
/// A signal handler may use it only through a descriptor it read before the handler was installed, calling
/// nothing but `write(2)` on `writeEnd`: `signal()` is for threads.
public final class WakePipe: Sendable {
    public let readEnd: Int32
    public let writeEnd: Int32

    public init() {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) != 0 {
            // Out of descriptors: its owner still works, it just cannot be polled on.
            fds = [-1, -1]
        }
        for fd in fds where fd >= 0 {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        readEnd = fds[0]
        writeEnd = fds[1]
    }

    deinit {
        if readEnd >= 0 { close(readEnd) }
        if writeEnd >= 0 { close(writeEnd) }
    }

    /// Writes one byte; a full pipe (EAGAIN) is fine, it is readable already.
    public func signal() {
        guard writeEnd >= 0 else { return }
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }

    /// Reads until the pipe is empty.
    public func clear() {
        guard readEnd >= 0 else { return }
        var buffer = [UInt8](repeating: 0, count: 256)
        while read(readEnd, &buffer, buffer.count) > 0 {}
    }

    /// Blocks until the pipe is readable or `timeout` seconds pass (nil: forever); true when readable.
    public func waitReadable(timeout: Double?) -> Bool {
        guard readEnd >= 0 else { return false }
        var fd = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
        let milliseconds = timeout.map { Int32(max(0, min($0 * 1000, Double(Int32.max)))) } ?? -1
        while true {
            let ready = poll(&fd, 1, milliseconds)
            if ready < 0 && errno == EINTR { continue }
            return ready > 0
        }
    }
}
