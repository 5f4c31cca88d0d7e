import Foundation

/// What `cnntui compare` shows of one run, read from its session: the config, the metrics records, the
/// class names, the last evaluation's per-class accuracy (from the events file, when the run wrote one) and
/// its status. `reload()` re-reads only what changed since, judged by file size and modification time, so
/// a comparison can poll live runs every second for the cost of a few `stat` calls.
public struct ComparedRun {
    public let session: Session
    public private(set) var config: TrainingConfig
    /// The metrics file's records, then the step records the events file has beyond them: a live run's metrics
    /// are rewritten at its checkpoints, its events file at every record, so its curves move as it trains.
    public var records: [MetricRecord] {
        let lastStep = metricsRecords.last { $0.kind == .step }?.globalStep ?? 0
        return metricsRecords + liveRecords.filter { $0.globalStep > lastStep }.map(MetricRecord.init)
    }
    private var metricsRecords: [MetricRecord] = []
    /// Step records read from events.jsonl.
    private var liveRecords: [StepRecord] = []
    public private(set) var classNames: [String] = []
    public private(set) var perClass: PerClassAccuracy?
    public private(set) var status: RunStatus = .new
    /// The last metrics.jsonl read was not valid (a record line the reader does not know); the records
    /// before it stay.
    public private(set) var metricsError: String?
    private var metricsStamp: FileStamp?
    private var checkpointStamp: FileStamp?
    private var eventsStamp: FileStamp?
    private var summary: SessionSummary?
    /// Reads events.jsonl on from where it stopped (shared by copies of this value, which all poll one file).
    private let events: EventFollower

    public init(session: Session) throws {
        self.session = session
        events = EventFollower(url: session.eventsURL)
        config = try session.readConfig()
        classNames = (try? session.readDataset().classNames) ?? []
        reload()
    }

    public var id: String { session.id }

    /// Re-reads the metrics and the events file when they changed and refreshes the status; true when
    /// anything shown may have changed.
    @discardableResult
    public mutating func reload() -> Bool {
        var changed = false
        let metrics = FileStamp(session.metricsJSONLURL)
        if metrics != metricsStamp {
            metricsStamp = metrics
            do {
                metricsRecords = try MetricsLog.read(session.metricsJSONLURL)
                metricsError = nil
            } catch {
                metricsError = "\(error)"
            }
            changed = true
        }
        let eventsNow = FileStamp(session.eventsURL)
        if eventsNow != eventsStamp {
            eventsStamp = eventsNow
            readNewEvents()
            changed = true
        }
        if classNames.isEmpty { classNames = (try? session.readDataset().classNames) ?? [] }
        // The status changes without the metrics changing (a process starts or dies), so liveness is asked
        // every time; the summary under it reads the last checkpoint, so only when that link moved.
        let checkpoint = FileStamp(session.checkpointsURL.appendingPathComponent(CheckpointSlot.last.rawValue))
        if checkpoint != checkpointStamp || summary == nil {
            checkpointStamp = checkpoint
            summary = session.summary()
        }
        let newStatus = summary.map { RunStatus.of(session, summary: $0) } ?? .new
        if newStatus != status {
            status = newStatus
            changed = true
        }
        return changed
    }

    /// Reads the complete lines added to events.jsonl since the last reload (all of them again after a resume
    /// truncated it): keeps its step records and the last evaluation's per-class accuracy. Only `record` and
    /// `evaluation` lines are decoded, and only the fields used.
    private mutating func readNewEvents() {
        let batch = events.poll()
        if batch.reset {
            perClass = nil
            liveRecords = []
        }
        let evaluationMarker = Data("\"evaluation\"".utf8), recordMarker = Data("\"type\":\"record\"".utf8)
        let decoder = JSONDecoder()
        for line in batch.lines.map(\.bytes) {
            if line.range(of: recordMarker) != nil, let record = try? decoder.decode(StepRecord.self, from: line) {
                liveRecords.append(record)
            } else if line.range(of: evaluationMarker) != nil,
                      let evaluation = try? decoder.decode(PerClassAccuracy.self, from: line), evaluation.type == "evaluation" {
                perClass = evaluation
            }
        }
    }

    /// Seconds each finished epoch took (its `seconds`, evaluation included), in epoch order.
    public var epochSeconds: [Double] { records.filter { $0.kind == .epoch }.compactMap(\.seconds) }

    /// Best and last test accuracy of the evaluations in the metrics.
    public var bestTestAccuracy: Float? { records.compactMap(\.testAccuracy).max() }
    public var lastTestAccuracy: Float? { records.last { $0.kind == .epoch }?.testAccuracy }
    public var epochsDone: Int { records.filter { $0.kind == .epoch }.map(\.epoch).max() ?? 0 }

    /// Steps per epoch as the metrics show it: the first epoch line's step count, else the largest step
    /// seen so far (a run still in its first epoch), as `SessionHistory` counts it.
    public var stepsPerEpoch: Int {
        let firstEpoch = records.first { $0.kind == .epoch }
        return max(1, firstEpoch.map { $0.globalStep / max(1, $0.epoch) } ?? records.compactMap(\.step).max() ?? 1)
    }
}

/// The per-class accuracy of one evaluation line of events.jsonl.
public struct PerClassAccuracy: Decodable, Sendable, Equatable {
    public var type: String
    public var epoch: Int?
    public var perClassAccuracy: [Float]

    enum CodingKeys: String, CodingKey {
        case type, epoch
        case perClassAccuracy = "per_class_accuracy"
    }
}

/// Size, modification time and inode of a file, to notice that it changed without reading it.
struct FileStamp: Equatable, Sendable {
    var size: UInt64
    var modifiedSeconds: Int
    var modifiedNanoseconds: Int
    var inode: UInt64

    init?(_ url: URL) {
        var info = stat()
        guard stat(url.path, &info) == 0 else { return nil }
        size = UInt64(info.st_size)
        modifiedSeconds = Int(info.st_mtim.tv_sec)
        modifiedNanoseconds = Int(info.st_mtim.tv_nsec)
        inode = UInt64(info.st_ino)
    }
}

extension TrainingConfig {
    /// Every field of config.json by its name there, with its value as text, in the file's order of
    /// importance (what a person compares first). `versions` is one entry per program.
    public var recipeFields: [(name: String, value: String)] {
        func text<T>(_ v: T?) -> String { v.map { "\($0)" } ?? "-" }
        var fields: [(String, String)] = [
            ("model", model), ("dataset", dataset), ("epochs", "\(epochs)"), ("batch_size", "\(batchSize)"),
            ("optimizer", optimizer.rawValue), ("lr", "\(learningRate)"), ("momentum", "\(momentum)"),
            ("weight_decay", "\(weightDecay)"), ("schedule", schedule), ("label_smoothing", "\(labelSmoothing)"),
            ("augmentation", text(augmentation)), ("validation_fraction", "\(validationFraction)"),
            ("drop_last", "\(dropLast)"), ("seed", "\(seed)"), ("limit_train", text(limitTrain)),
            ("limit_test", text(limitTest)), ("metrics_every", "\(metricsEvery)"), ("threads", "\(threads)"),
            ("recipe", recipe), ("data_dir", text(dataDirectory)),
        ]
        for (program, version) in versions.sorted(by: { $0.key < $1.key }) { fields.append(("versions.\(program)", version)) }
        return fields
    }

    /// The fields whose values are not all the same across `configs`, each with one value per config.
    public static func differingFields(_ configs: [TrainingConfig]) -> [(name: String, values: [String])] {
        let all = configs.map { Dictionary($0.recipeFields.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a }) }
        var names: [String] = []
        for config in configs { for field in config.recipeFields where !names.contains(field.name) { names.append(field.name) } }
        return names.compactMap { name in
            let values = all.map { $0[name] ?? "-" }
            return Set(values).count > 1 ? (name, values) : nil
        }
    }
}
