import Foundation

/// The training process's side of the session's `events.jsonl` (`SessionEvents`): every event the engine posts,
/// appended as one line by one `write(2)` on an `O_APPEND` descriptor, so a reader sees whole lines, except the
/// last one while it is being written. Owned by the engine thread.
///
/// Step events are thinned to one per `stepInterval` (the newest wins): a step held back is written before the
/// next event that is not a record or a health record, so the step before an evaluation, a pause, a checkpoint
/// or the end is always in the file. Nothing else is ever dropped.
final class EventFile {
    /// Seconds between step lines: about 4 a second is smooth for a header and keeps the file small.
    static let stepInterval = 0.25

    let url: URL
    /// Bytes in the file: what a checkpoint records, so a resume can cut the file back to it.
    private(set) var length: Int
    private let descriptor: Int32
    private let pid = getpid()
    private var heldStep: StepEvent?
    /// When the last step line was written (monotonic nanoseconds).
    private var lastStepWritten: UInt64?

    /// Opens the file of `session` for appending, keeping its first `keep` bytes (a resumed run keeps what its
    /// checkpoint covers, a new run nothing). A longer file is replaced by those bytes under a new inode, which
    /// tells every follower to start over. A shorter one (its checkpoint is from before events files, or the file
    /// was lost or cut) is kept as far as its last whole line: it may miss events, it never repeats one.
    init(session: Session, keep: Int) throws {
        url = session.eventsURL
        var status = stat()
        let existing = stat(url.path, &status) == 0 ? Int(status.st_size) : 0
        if existing > 0 {
            var kept = try Self.prefix(of: url, bytes: min(keep, existing))
            // A torn last line would glue itself to the next one written.
            kept = kept.lastIndex(of: UInt8(ascii: "\n")).map { kept[...$0] } ?? Data()
            if kept.count < existing { try AtomicFile.write(Data(kept), to: url) }
        }
        descriptor = open(url.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw TrainingError.session(path: url.path, message: "cannot open: \(String(cString: strerror(errno)))")
        }
        length = fstat(descriptor, &status) == 0 ? Int(status.st_size) : 0
    }

    deinit { close(descriptor) }

    /// Writes `event` (a step only if it is due, else it is held).
    func append(_ event: TrainingEvent) throws {
        if case .step(let step) = event {
            let now = DispatchTime.now().uptimeNanoseconds
            if let last = lastStepWritten, Double(now - last) < Self.stepInterval * 1e9 {
                heldStep = step
                return
            }
            heldStep = nil
            lastStepWritten = now
            return try write(line(for: event))
        }
        switch event {
        case .record, .health: break
        default: try writeHeldStep()
        }
        try write(line(for: event))
    }

    /// Writes the step held back, if any.
    func writeHeldStep() throws {
        guard let step = heldStep else { return }
        heldStep = nil
        lastStepWritten = DispatchTime.now().uptimeNanoseconds
        try write(line(for: .step(step)))
    }

    /// The line for `event` stamped now, not written: a checkpoint records the file's length with its own line in it.
    func line(for event: TrainingEvent) throws -> Data {
        let pid: Int32? = if case .started = event { self.pid } else { nil }
        return try SessionEvents.encode(event, time: Date().timeIntervalSince1970, pid: pid)
    }

    /// Appends a line made by `line(for:)`, with one `write(2)`.
    func write(_ line: Data) throws {
        let (written, failure) = AtomicFile.writeAll(descriptor, line)
        length += written
        if let failure {
            throw TrainingError.session(path: url.path, message: "cannot write: \(String(cString: strerror(failure)))")
        }
    }

    private static func prefix(of url: URL, bytes: Int) throws -> Data {
        guard bytes > 0 else { return Data() }
        do {
            let handle = try FileHandle(forReadingFrom: url)
            defer { try? handle.close() }
            return try handle.read(upToCount: bytes) ?? Data()
        } catch {
            throw TrainingError.session(path: url.path, message: "cannot read: \(error.localizedDescription)")
        }
    }
}
