import Foundation
import Testing
import Training

/// The self-pipe behind the event channel, the estimator and the headless run's signal handling.
@Suite struct WakePipeTests {
    @Test func readableFromASignalUntilCleared() {
        let pipe = WakePipe()
        #expect(pipe.readEnd >= 0 && pipe.writeEnd >= 0)
        #expect(!pipe.waitReadable(timeout: 0))
        pipe.signal()
        pipe.signal()
        #expect(pipe.waitReadable(timeout: 0))
        pipe.clear()
        #expect(!pipe.waitReadable(timeout: 0))
    }

    /// What a signal handler does: one write(2) of a byte to the write end; the reader gets that byte.
    @Test func aRawWriteCarriesItsByte() {
        let pipe = WakePipe()
        var byte = UInt8(SIGTERM)
        #expect(write(pipe.writeEnd, &byte, 1) == 1)
        #expect(pipe.waitReadable(timeout: 1))
        var buffer = [UInt8](repeating: 0, count: 16)
        #expect(read(pipe.readEnd, &buffer, buffer.count) == 1 && buffer[0] == UInt8(SIGTERM))
        // Non-blocking: an empty pipe answers at once instead of waiting.
        #expect(read(pipe.readEnd, &buffer, buffer.count) == -1 && errno == EAGAIN)
    }

    @Test func aFullPipeNeverBlocksTheWriter() {
        let pipe = WakePipe()
        for _ in 0..<100_000 { pipe.signal() }
        #expect(pipe.waitReadable(timeout: 0))
        pipe.clear()
        #expect(!pipe.waitReadable(timeout: 0))
    }
}
