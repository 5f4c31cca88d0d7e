import Data
import Engine
import Foundation

/// Running sums over training steps, from which their means come: the epoch's train loss and accuracy, and
/// each `StepRecord`'s window. Checkpoints keep them, so a resumed run reports what an uninterrupted one would.
public struct StepTally: Codable, Sendable, Equatable {
    /// Sum over the steps of the batch's mean loss times its size.
    public var lossSum = 0.0
    public var correct = 0
    public var seen = 0
    /// Wall time of the steps (an epoch's also counts its evaluation).
    public var seconds = 0.0

    public init(lossSum: Double = 0, correct: Int = 0, seen: Int = 0, seconds: Double = 0) {
        self.lossSum = lossSum; self.correct = correct; self.seen = seen; self.seconds = seconds
    }

    mutating func add(batchLoss: Float, correct: Int, count: Int, seconds: Double) {
        lossSum += Double(batchLoss) * Double(count)
        self.correct += correct
        seen += count
        self.seconds += seconds
    }

    /// Mean loss per image (0 before any).
    var meanLoss: Float { seen == 0 ? 0 : Float(lossSum / Double(seen)) }
    var accuracy: Float { seen == 0 ? 0 : Float(correct) / Float(seen) }
    var imagesPerSecond: Double { seconds > 0 ? Double(seen) / seconds : 0 }

    enum CodingKeys: String, CodingKey {
        case lossSum = "loss_sum", correct, seen, seconds
    }
}

/// Where a run stands: what the training loop advances step by step and a checkpoint saves.
public struct RunPosition: Sendable, Equatable {
    /// The epoch to continue (1-based) and how many of its batches are already trained.
    public var epoch = 1
    public var batchesDone = 0
    /// Optimizer steps taken so far.
    public var globalStep = 0
    /// The epoch in progress, so its train loss and accuracy come out the same.
    public var epochTotals = StepTally()
    /// The steps since the last `StepRecord`, so the next record's means cover the same steps.
    public var recordWindow = StepTally()
    public var lastTestAccuracy: Float?
    public var bestTestAccuracy: Float?
    public var bestEpoch: Int?

    public init(epoch: Int = 1, batchesDone: Int = 0, globalStep: Int = 0, epochTotals: StepTally = StepTally(),
                recordWindow: StepTally = StepTally(), lastTestAccuracy: Float? = nil, bestTestAccuracy: Float? = nil,
                bestEpoch: Int? = nil) {
        self.epoch = epoch; self.batchesDone = batchesDone; self.globalStep = globalStep; self.epochTotals = epochTotals
        self.recordWindow = recordWindow; self.lastTestAccuracy = lastTestAccuracy
        self.bestTestAccuracy = bestTestAccuracy; self.bestEpoch = bestEpoch
    }
}

/// A checkpoint's `train_state.json`, beside the model and optimizer tensors: enough to continue a run bit
/// for bit.
public struct TrainState: Codable, Sendable, Equatable {
    public var position: RunPosition
    public var learningRate: Float
    public var schedule: [String: Double]
    /// The network's random stream (dropout, drop-path).
    public var networkRandom: RandomSource
    /// How many metric records belong to the run up to here (a resume drops any written after).
    public var metricsCount: Int
    /// True once the last epoch is done.
    public var finished: Bool
    /// The length in bytes of the session's `events.jsonl` with this checkpoint's own line in it: a resume cuts the
    /// file back to it, so no event is folded twice. Nil in checkpoints from before events files.
    public var eventsLength: Int?
    /// Momentum, weight decay and batch size in force (absent from checkpoints written before steering: the
    /// config's values).
    public var steered: SteeredValues?
    /// Content digests of the two tensor files, checked on load (a flipped byte is refused, not loaded).
    public var modelDigest: String
    public var optimizerDigest: String

    public init(position: RunPosition, learningRate: Float, schedule: [String: Double], networkRandom: RandomSource,
                metricsCount: Int, finished: Bool, eventsLength: Int? = nil, steered: SteeredValues? = nil, modelDigest: String = "",
                optimizerDigest: String = "") {
        self.steered = steered
        self.position = position; self.learningRate = learningRate; self.schedule = schedule
        self.networkRandom = networkRandom; self.metricsCount = metricsCount; self.finished = finished
        self.eventsLength = eventsLength
        self.modelDigest = modelDigest; self.optimizerDigest = optimizerDigest
    }

    // One flat object, as checkpoints have always been written; `record_window` is absent from those written
    // before step records were window means (their runs resume with an empty window).
    enum CodingKeys: String, CodingKey {
        case epoch, schedule, finished, steered
        case batchesDone = "batches_done", globalStep = "global_step", learningRate = "lr"
        case networkRandom = "network_random", epochLossSum = "epoch_loss_sum", epochCorrect = "epoch_correct"
        case epochSeen = "epoch_seen", epochSeconds = "epoch_seconds", recordWindow = "record_window"
        case lastTestAccuracy = "last_test_accuracy", bestTestAccuracy = "best_test_accuracy", bestEpoch = "best_epoch"
        case modelDigest = "model_digest", optimizerDigest = "optimizer_digest", metricsCount = "metrics_count"
        case eventsLength = "events_length"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        position = RunPosition(
            epoch: try c.decode(Int.self, forKey: .epoch), batchesDone: try c.decode(Int.self, forKey: .batchesDone),
            globalStep: try c.decode(Int.self, forKey: .globalStep),
            epochTotals: StepTally(lossSum: try c.decode(Double.self, forKey: .epochLossSum),
                                   correct: try c.decode(Int.self, forKey: .epochCorrect),
                                   seen: try c.decode(Int.self, forKey: .epochSeen),
                                   seconds: try c.decode(Double.self, forKey: .epochSeconds)),
            recordWindow: try c.decodeIfPresent(StepTally.self, forKey: .recordWindow) ?? StepTally(),
            lastTestAccuracy: try c.decodeIfPresent(Float.self, forKey: .lastTestAccuracy),
            bestTestAccuracy: try c.decodeIfPresent(Float.self, forKey: .bestTestAccuracy),
            bestEpoch: try c.decodeIfPresent(Int.self, forKey: .bestEpoch))
        learningRate = try c.decode(Float.self, forKey: .learningRate)
        schedule = try c.decode([String: Double].self, forKey: .schedule)
        networkRandom = try c.decode(RandomSource.self, forKey: .networkRandom)
        metricsCount = try c.decode(Int.self, forKey: .metricsCount)
        finished = try c.decode(Bool.self, forKey: .finished)
        eventsLength = try c.decodeIfPresent(Int.self, forKey: .eventsLength)
        steered = try c.decodeIfPresent(SteeredValues.self, forKey: .steered)
        modelDigest = try c.decode(String.self, forKey: .modelDigest)
        optimizerDigest = try c.decode(String.self, forKey: .optimizerDigest)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(position.epoch, forKey: .epoch)
        try c.encode(position.batchesDone, forKey: .batchesDone)
        try c.encode(position.globalStep, forKey: .globalStep)
        try c.encode(position.epochTotals.lossSum, forKey: .epochLossSum)
        try c.encode(position.epochTotals.correct, forKey: .epochCorrect)
        try c.encode(position.epochTotals.seen, forKey: .epochSeen)
        try c.encode(position.epochTotals.seconds, forKey: .epochSeconds)
        try c.encode(position.recordWindow, forKey: .recordWindow)
        try c.encodeIfPresent(position.lastTestAccuracy, forKey: .lastTestAccuracy)
        try c.encodeIfPresent(position.bestTestAccuracy, forKey: .bestTestAccuracy)
        try c.encodeIfPresent(position.bestEpoch, forKey: .bestEpoch)
        try c.encode(learningRate, forKey: .learningRate)
        try c.encode(schedule, forKey: .schedule)
        try c.encode(networkRandom, forKey: .networkRandom)
        try c.encode(metricsCount, forKey: .metricsCount)
        try c.encode(finished, forKey: .finished)
        try c.encodeIfPresent(eventsLength, forKey: .eventsLength)
        try c.encodeIfPresent(steered, forKey: .steered)
        try c.encode(modelDigest, forKey: .modelDigest)
        try c.encode(optimizerDigest, forKey: .optimizerDigest)
    }
}

/// Writes and reads checkpoint directories (layout in `Session`).
public enum CheckpointStore {
    static let modelFile = "model.safetensors"
    static let optimizerFile = "optimizer.safetensors"
    static let stateFile = "train_state.json"

    /// Where the next checkpoint of `session` goes (the training process is the only one that writes them).
    static func nextDirectory(of session: Session) -> URL {
        session.checkpointsURL.appendingPathComponent(String(format: "ckpt-%06d", nextNumber(in: session.checkpointsURL)))
    }

    /// Writes a new checkpoint directory (at `nextDirectory(of:)`, or `into` when the caller named it first), moves
    /// `last` (and `best` when asked) to it, and deletes checkpoint directories no link points to any more.
    /// Returns the new directory.
    @discardableResult
    static func save(session: Session, model: [(String, Safetensors.Entry)], optimizer: [(String, Safetensors.Entry)],
                     state: TrainState, markBest: Bool, into target: URL? = nil) throws -> URL {
        let fm = FileManager.default
        let directory = session.checkpointsURL
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        let name = (target ?? nextDirectory(of: session)).lastPathComponent
        let temporary = directory.appendingPathComponent(".tmp-" + name)
        try? fm.removeItem(at: temporary)
        try fm.createDirectory(at: temporary, withIntermediateDirectories: false)

        var state = state
        state.modelDigest = digest(model)
        state.optimizerDigest = digest(optimizer)
        try AtomicFile.write(try Safetensors.encode(model, metadata: ["format": "pt", "digest": state.modelDigest]),
                             to: temporary.appendingPathComponent(modelFile))
        try AtomicFile.write(try Safetensors.encode(optimizer, metadata: ["digest": state.optimizerDigest]),
                             to: temporary.appendingPathComponent(optimizerFile))
        try JSONFile.write(state, to: temporary.appendingPathComponent(stateFile))

        let final = directory.appendingPathComponent(name)
        guard rename(temporary.path, final.path) == 0 else {
            throw TrainingError.checkpoint(file: final.path, message: "rename failed: \(String(cString: strerror(errno)))")
        }
        AtomicFile.syncDirectory(directory)
        try AtomicFile.replaceSymlink(at: directory.appendingPathComponent(CheckpointSlot.last.rawValue), pointingTo: name)
        if markBest {
            try AtomicFile.replaceSymlink(at: directory.appendingPathComponent(CheckpointSlot.best.rawValue), pointingTo: name)
        }
        prune(directory)
        return final
    }

    /// Loads a checkpoint's model tensors, verifying them; throws naming the file on any damage.
    static func readModel(in directory: URL) throws -> [String: Safetensors.Entry] {
        let state = try readTrainState(in: directory)
        return try readTensors(directory.appendingPathComponent(modelFile), digest: state.modelDigest)
    }

    static func readOptimizer(in directory: URL, digest expected: String) throws -> [String: Safetensors.Entry] {
        try readTensors(directory.appendingPathComponent(optimizerFile), digest: expected)
    }

    public static func readTrainState(in directory: URL) throws -> TrainState {
        let url = directory.appendingPathComponent(stateFile)
        return try JSONFile.read(TrainState.self, from: url, invalid: "corrupt or truncated train state") {
            TrainingError.checkpoint(file: url.path, message: $0)
        }
    }

    /// A digest of this form is the MD5 of the file's bytes: what a checkpoint written by the PyTorch export's
    /// train.py records, since Python could not compute `digest` over a large model's values in reasonable time.
    static let fileDigestPrefix = "md5:"

    private static func readTensors(_ url: URL, digest expected: String) throws -> [String: Safetensors.Entry] {
        let entries: [String: Safetensors.Entry]
        let bytes: Data
        do {
            bytes = try Data(contentsOf: url)
        } catch {
            throw TrainingError.checkpoint(file: url.path, message: "refused: cannot read: \(error.localizedDescription)")
        }
        do { entries = try Safetensors.decode(bytes, file: url.path).entries } catch EngineError.checkpoint(_, let message) {
            throw TrainingError.checkpoint(file: url.path, message: "refused: \(message)")
        } catch let error as EngineError {
            throw TrainingError.checkpoint(file: url.path, message: "refused: \(error)")
        }
        let actual: String
        if expected.hasPrefix(fileDigestPrefix) {
            var md5 = MD5()
            bytes.withUnsafeBytes { md5.update($0) }
            actual = fileDigestPrefix + md5.finalize()
        } else {
            actual = digest(entries.sorted { $0.key < $1.key })
        }
        guard actual == expected else {
            throw TrainingError.checkpoint(
                file: url.path, message: "refused: contents do not match the digest in train_state.json (corrupt checkpoint)")
        }
        return entries
    }

    /// FNV-1a over names, shapes and value bits, in name order: what a checkpoint holds, independent of
    /// the order or padding the file uses.
    static func digest(_ entries: [(String, Safetensors.Entry)]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt8) { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        func mix64(_ v: UInt64) { for i in 0..<8 { mix(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) } }
        for (name, entry) in entries.sorted(by: { $0.0 < $1.0 }) {
            for byte in name.utf8 { mix(byte) }
            mix(0)
            for d in entry.shape { mix64(UInt64(d)) }
            mix(entry.isInt64 ? 1 : 0)
            for v in entry.values { mix64(UInt64(v.bitPattern)) }
        }
        return String(hash, radix: 16)
    }

    private static func nextNumber(in directory: URL) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        let numbers = names.compactMap { name -> Int? in
            let stem = name.hasPrefix(".tmp-") ? String(name.dropFirst(5)) : name
            return stem.hasPrefix("ckpt-") ? Int(stem.dropFirst(5)) : nil
        }
        return (numbers.max() ?? 0) + 1
    }

    /// Removes checkpoint directories neither link points to, and leftovers of interrupted saves.
    static func prune(_ directory: URL) {
        let fm = FileManager.default
        let kept = Set(CheckpointSlot.allCases.compactMap {
            try? fm.destinationOfSymbolicLink(atPath: directory.appendingPathComponent($0.rawValue).path)
        })
        let names = (try? fm.contentsOfDirectory(atPath: directory.path)) ?? []
        for name in names where (name.hasPrefix("ckpt-") || name.hasPrefix(".tmp-ckpt-")) && !kept.contains(name) {
            try? fm.removeItem(at: directory.appendingPathComponent(name))
        }
    }
}
