import Foundation

/// The session's JSON files (config, dataset info, train state): pretty-printed with sorted keys so
/// they read and diff well, written atomically, and read back with errors that name the file.
enum JSONFile {
    static func write<Value: Encodable>(_ value: Value, to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(value), to: url)
    }

    /// Decodes `url` as `Value`; `failure` turns "cannot read: ..." or "`invalid`: ..." into the caller's error.
    static func read<Value: Decodable>(_ type: Value.Type, from url: URL, invalid: String,
                                       failure: (_ message: String) -> TrainingError) throws -> Value {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw failure("cannot read: \(error.localizedDescription)")
        }
        do { return try JSONDecoder().decode(type, from: data) } catch {
            throw failure("\(invalid): \(error)")
        }
    }
}
