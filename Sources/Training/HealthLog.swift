import Foundation

/// The health records of a run (`health.jsonl`, one `HealthRecord` a line, snake_case keys), kept in memory
/// and rewritten whole (atomically) at every checkpoint like the metrics, so a resumed run continues it
/// without gaps or duplicates.
///
/// Bounded: when it holds more than `limit` records, the older half is thinned to every other record. A long
/// run so stays covered from its first step, densest near the end, and the file stays a few megabytes.
public final class HealthLog {
    public static let limit = 1000
    private(set) var records: [HealthRecord] = []
    let session: Session
    private let limit: Int

    init(session: Session, limit: Int = HealthLog.limit) {
        self.session = session
        self.limit = max(limit, 4)
    }

    /// Reads the records a previous run wrote up to its checkpoint's step.
    func restore(upToGlobalStep step: Int) throws {
        records = try Self.read(session.healthJSONLURL).filter { $0.globalStep <= step }
    }

    func append(_ record: HealthRecord) {
        records.append(record)
        if records.count > limit {
            let half = records.count / 2
            let thinned = stride(from: 0, to: half, by: 2).map { records[$0] }
            records = thinned + records[half...]
        }
    }

    func write() throws {
        var jsonl = Data()
        let encoder = Self.encoder
        for record in records {
            jsonl.append(try encoder.encode(record))
            jsonl.append(UInt8(ascii: "\n"))
        }
        try AtomicFile.write(jsonl, to: session.healthJSONLURL)
    }

    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }

    /// The records of a health.jsonl, oldest first; none when there is no file.
    public static func read(_ url: URL) throws -> [HealthRecord] {
        guard let data = try? Data(contentsOf: url) else { return [] }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        var records: [HealthRecord] = []
        for (index, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() {
            guard let record = try? decoder.decode(HealthRecord.self, from: Data(line)) else {
                throw TrainingError.session(path: url.path, message: "line \(index + 1) is not a health record")
            }
            records.append(record)
        }
        return records
    }
}

/// What `stopped.json` records: why a run ended before its last epoch.
public struct StopReason: Codable, Sendable, Equatable {
    public var reason: String
    public var epoch: Int
    public var globalStep: Int
    public var layer: String
    public var message: String
    enum CodingKeys: String, CodingKey {
        case reason, epoch, layer, message
        case globalStep = "global_step"
    }
}
