import Foundation
import Synchronization

/// Runs `body` on a thread of its own and returns its result. The engine keeps per-thread state (the
/// GradientPool, conv scratch), and test tasks share the cooperative pool's threads, so a test that
/// counts what that state holds runs its layers where no other test's layers can.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        box.result.withLock { $0 = Result { try body() } }
        done.signal()
    }
    thread.start()
    done.wait()
    return try box.result.withLock { $0! }.get()
}

private final class ResultBox<T: Sendable>: Sendable {
    let result = Mutex<Result<T, any Error>?>(nil)
}
