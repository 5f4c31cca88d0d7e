import Foundation

/// One line of a session's metrics: a step record (means over the steps since the previous one), an epoch
/// summary, a learning-rate change, another hyper-parameter set by hand (`set`), or a command carried out
/// (`command`: pause, resume, save, stop). Lines written by hand (`lr` manual, `set`, `command`) carry their
/// wall-clock `time`; files from before those fields read as they always did.
public struct MetricRecord: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case step, epoch, lr, set, command }

    public var kind: Kind
    public var epoch: Int
    public var step: Int?
    public var globalStep: Int
    public var lr: Float
    /// Step: the record's mean loss and accuracy (files from before records were means: one sampled batch's).
    public var loss: Float?
    public var accuracy: Float?
    /// Epoch: means over the epoch, and the evaluation.
    public var trainLoss: Float?
    public var trainAccuracy: Float?
    public var testLoss: Float?
    public var testAccuracy: Float?
    public var imagesPerSecond: Double?
    public var seconds: Double?
    /// Learning-rate change: `manual` (the user) or `schedule`.
    public var lrChange: String?
    /// `set`: the hyper-parameter (`momentum`, `weight_decay`, `batch_size`) and its new value.
    public var field: Hyperparameter?
    public var value: Double?
    /// `command`: what was carried out.
    public var command: AppliedCommand?
    /// Unix seconds when a change or command was applied.
    public var time: Double?

    public init(kind: Kind, epoch: Int, step: Int? = nil, globalStep: Int, lr: Float) {
        self.kind = kind; self.epoch = epoch; self.step = step; self.globalStep = globalStep; self.lr = lr
    }

    /// The `step` line of a record: the values are the record's, exactly.
    public init(_ record: StepRecord) {
        self.init(kind: .step, epoch: record.epoch, step: record.step, globalStep: record.globalStep, lr: record.learningRate)
        loss = record.loss
        accuracy = record.accuracy
        imagesPerSecond = record.imagesPerSecond
    }

    /// The record a `step` line holds; nil for other kinds.
    public var stepRecord: StepRecord? {
        guard kind == .step, let loss, let accuracy else { return nil }
        return StepRecord(epoch: epoch, step: step ?? 0, globalStep: globalStep, loss: loss, accuracy: accuracy,
                          imagesPerSecond: imagesPerSecond ?? 0, learningRate: lr)
    }

    enum CodingKeys: String, CodingKey {
        case kind, epoch, step, lr, loss, accuracy, seconds
        case globalStep = "global_step", trainLoss = "train_loss", trainAccuracy = "train_accuracy"
        case testLoss = "test_loss", testAccuracy = "test_accuracy", imagesPerSecond = "images_per_second"
        case lrChange = "lr_change"
        case field, value, command, time
    }
}

/// The metrics of a run, kept in memory and rewritten whole (atomically) at every checkpoint, so the
/// files on disk always agree with the last checkpoint: a resumed run continues them without gaps or
/// duplicates.
public final class MetricsLog {
    private(set) var records: [MetricRecord] = []
    let session: Session

    init(session: Session) { self.session = session }

    /// Reads the first `count` records a previous run wrote (those its checkpoint covers).
    func restore(count: Int) throws {
        records = try Self.read(session.metricsJSONLURL, limit: count)
    }

    /// The records of a metrics.jsonl, oldest first, at most `limit` of them (lines after those are not read);
    /// none when there is no file. Throws naming the file and the line that is not a record.
    public static func read(_ url: URL, limit: Int = .max) throws -> [MetricRecord] {
        guard limit > 0, let data = try? Data(contentsOf: url) else { return [] }
        return try records(in: data, file: url.path, limit: limit)
    }

    /// The records of a metrics.jsonl's bytes; `file` names it in errors.
    static func records(in data: Data, file: String, limit: Int = .max) throws -> [MetricRecord] {
        guard limit > 0 else { return [] }
        let decoder = JSONDecoder()
        var records: [MetricRecord] = []
        for (index, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated()
        where !line.isEmpty {
            guard let record = try? decoder.decode(MetricRecord.self, from: Data(line)) else {
                let text = String(decoding: line.prefix(120), as: UTF8.self)
                throw TrainingError.session(path: file, message: "line \(index + 1) is not a metrics record: \(text)")
            }
            records.append(record)
            if records.count == limit { break }
        }
        return records
    }

    func append(_ record: MetricRecord) { records.append(record) }

    func write() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var jsonl = Data()
        for record in records {
            jsonl.append(try encoder.encode(record))
            jsonl.append(UInt8(ascii: "\n"))
        }
        try AtomicFile.write(jsonl, to: session.metricsJSONLURL)
        try AtomicFile.write(Data(csv().utf8), to: session.metricsCSVURL)
    }

    static let csvColumns = ["kind", "epoch", "step", "global_step", "lr", "lr_change", "loss", "accuracy", "train_loss",
                             "train_accuracy", "test_loss", "test_accuracy", "images_per_second", "seconds", "field", "value",
                             "command", "time"]

    func csv() -> String {
        func text<T>(_ value: T?) -> String { value.map { "\($0)" } ?? "" }
        var lines = [Self.csvColumns.joined(separator: ",")]
        for r in records {
            lines.append([r.kind.rawValue, text(r.epoch), text(r.step), text(r.globalStep), text(r.lr), text(r.lrChange),
                          text(r.loss), text(r.accuracy), text(r.trainLoss), text(r.trainAccuracy), text(r.testLoss),
                          text(r.testAccuracy), text(r.imagesPerSecond), text(r.seconds), text(r.field?.rawValue),
                          text(r.value), text(r.command?.rawValue), text(r.time)].joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
