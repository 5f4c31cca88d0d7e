import Foundation

/// Decodes many picture files on several threads into one buffer of RGB planes (grey pictures repeat their
/// plane), each resized to side x side. A file that does not decode is recorded with the reason, never fatal.
enum ParallelDecoder {
    struct Result {
        /// `count * 3 * side * side` bytes; a failed picture's part stays zero.
        var pixels: [UInt8]
        /// Each picture's size before resizing; nil where it failed.
        var sizes: [(width: Int, height: Int)?]
        /// Why each picture failed; nil where it decoded.
        var failures: [String?]
        /// Whether any picture that decoded had colour.
        var colour: Bool
    }

    /// At least two threads, as many as the machine has cores.
    static var threadCount: Int { max(2, ProcessInfo.processInfo.activeProcessorCount) }

    static func run(_ paths: [String], side: Int, mode: ResizeMode, progress: DecodeProgress?) -> Result {
        let size = 3 * side * side
        let shared = SharedResults(count: paths.count, imageBytes: size)
        let total = paths.count
        DispatchQueue.concurrentPerform(iterations: threadCount) { _ in
            while let i = shared.nextIndex() {
                do {
                    let image = try ImageDecoder.decode(path: paths[i])
                    let planes = squarePlanes(image, channels: 3, side: side, mode: mode)
                    shared.store(i, planes: planes, size: (image.width, image.height), colour: image.channels == 3)
                } catch {
                    shared.fail(i, reason: (error as? DataError)?.problem ?? "\(error)")
                }
                if let progress, let done = shared.finishedOne(reportEvery: max(1, total / 100)) { progress(done, total) }
            }
        }
        progress?(total, total)
        return shared.result()
    }

    /// `image` as `channels` planes of side x side (`planarBytes` converts grey and colour): stretched, or its shorter side scaled to `side` and the centre cut
    /// out (torchvision: the longer side becomes int(side * long / short), the crop's corner round((len - side) / 2)
    /// with Python's round-half-to-even).
    static func squarePlanes(_ image: DecodedImage, channels: Int, side: Int, mode: ResizeMode) -> [UInt8] {
        switch mode {
        case .stretch:
            return planarBytes(image, channels: channels, width: side, height: side)
        case .crop:
            let (w, h) = (image.width, image.height)
            let (rw, rh) = w <= h ? (side, max(side, side * h / w)) : (max(side, side * w / h), side)
            let resized = planarBytes(image, channels: channels, width: rw, height: rh)
            let top = Int((Double(rh - side) / 2).rounded(.toNearestOrEven))
            let left = Int((Double(rw - side) / 2).rounded(.toNearestOrEven))
            var out = [UInt8](repeating: 0, count: channels * side * side)
            for c in 0..<channels {
                for y in 0..<side {
                    let from = (c * rh + top + y) * rw + left
                    out[(c * side + y) * side..<(c * side + y + 1) * side] = resized[from..<from + side]
                }
            }
            return out
        }
    }
}

/// The decoding threads' common state, behind one lock: the next file to take, the output buffer, the
/// failures. Each thread writes only its own pictures' bytes, so the lock is held for bookkeeping only.
private final class SharedResults: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0, finished = 0
    private let count: Int, imageBytes: Int
    private var pixels: UnsafeMutableBufferPointer<UInt8>
    private var sizes: [(width: Int, height: Int)?]
    private var failures: [String?]
    private var colour = false

    init(count: Int, imageBytes: Int) {
        self.count = count
        self.imageBytes = imageBytes
        pixels = .allocate(capacity: max(1, count * imageBytes))
        pixels.initialize(repeating: 0)
        sizes = Array(repeating: nil, count: count)
        failures = Array(repeating: nil, count: count)
    }

    deinit { pixels.deallocate() }

    func nextIndex() -> Int? {
        lock.withLock {
            guard next < count else { return nil }
            defer { next += 1 }
            return next
        }
    }

    func store(_ i: Int, planes: [UInt8], size: (Int, Int), colour isColour: Bool) {
        planes.withUnsafeBufferPointer { source in
            guard let src = source.baseAddress, let dst = pixels.baseAddress else { return }
            (dst + i * imageBytes).update(from: src, count: imageBytes)
        }
        lock.withLock {
            sizes[i] = size
            if isColour { colour = true }
        }
    }

    func fail(_ i: Int, reason: String) { lock.withLock { failures[i] = reason } }

    /// Counts a finished picture; returns the count when it is a multiple of `reportEvery`.
    func finishedOne(reportEvery: Int) -> Int? {
        lock.withLock {
            finished += 1
            return finished % reportEvery == 0 ? finished : nil
        }
    }

    func result() -> ParallelDecoder.Result {
        lock.withLock {
            ParallelDecoder.Result(pixels: Array(pixels.prefix(count * imageBytes)), sizes: sizes, failures: failures, colour: colour)
        }
    }
}
