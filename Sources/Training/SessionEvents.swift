import Foundation

/// The session's events file (`events.jsonl`): every `TrainingEvent` as one JSON object on one line, so another
/// process (an attached viewer, a PyTorch `train.py` writing the same file) can follow a run.
///
///     {"v":1,"time":1718000000.25,"type":"step","epoch":1,"step":40,...}
///
/// `v` is the schema version, `time` the writer's wall clock in Unix seconds, `type` the kind; the event's
/// fields follow at the top level in snake_case (the README has a table per type). Image pixels and float
/// tensors are base64 (bytes as stored; tensors little-endian float32) to keep evaluation lines small.
/// Floats that are not finite are the strings "nan", "inf" and "-inf", as in `health.jsonl`.
public enum SessionEvents {
    public static let version = 1

    /// One event read back from a line.
    public struct Line: Sendable, Equatable {
        public var time: Double
        public var event: TrainingEvent
        /// The writing process, on `started` lines (nil from writers that do not say).
        public var pid: Int32?
        public init(time: Double, event: TrainingEvent, pid: Int32? = nil) {
            self.time = time; self.event = event; self.pid = pid
        }
    }

    /// What a line holds: an event, or a type this version does not know (a newer writer's; skipped).
    public enum Decoded: Sendable, Equatable {
        case event(Line)
        case unknown(type: String)
    }

    /// The line for `event`, newline included.
    public static func encode(_ event: TrainingEvent, time: Double, pid: Int32? = nil) throws -> Data {
        var data = try encoder.encode(LineCoding(line: Line(time: time, event: event, pid: pid)))
        data.append(UInt8(ascii: "\n"))
        return data
    }

    /// Decodes one line (without its newline). Throws `TrainingError.session` naming `file` and `lineNumber`
    /// when it is not an event line: not JSON, no version, a newer major version, or a known type with bad fields.
    public static func decode(_ line: some DataProtocol, file: String, lineNumber: Int) throws -> Decoded {
        do {
            return try decoder.decode(DecodedCoding.self, from: Data(line)).decoded
        } catch {
            let text = String(decoding: line.prefix(120), as: UTF8.self)
            throw TrainingError.session(path: file, message: "line \(lineNumber) is not an event: \(reason(error)): \(text)")
        }
    }

    /// Every event of a whole file, oldest first: unknown types skipped, the first bad line thrown (naming the
    /// file and line), a last line without its newline ignored (its writer is still writing it). No file: none.
    public static func read(_ url: URL) throws -> [Line] {
        guard let data = try? Data(contentsOf: url) else { return [] }
        var lines: [Line] = []
        var number = 0
        var start = data.startIndex
        while let newline = data[start...].firstIndex(of: UInt8(ascii: "\n")) {
            number += 1
            defer { start = newline + 1 }
            guard newline > start else { continue }
            if case .event(let line) = try decode(data[start..<newline], file: url.path, lineNumber: number) {
                lines.append(line)
            }
        }
        return lines
    }

    private static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }

    private static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return decoder
    }

    private static func reason(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "no \"\(key.stringValue)\""
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
             DecodingError.dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "\"\(path)\": \(context.debugDescription)"
        case let error as TrainingError: return error.description
        default: return "\(error)"
        }
    }

    /// The `type` of each event.
    enum Kind: String {
        case started, step, record, evaluation, state, lr, checkpoint, finished, failed, health, anomaly, decoding
        case layerView = "layer_view"
        /// A steered hyper-parameter (`field`, `value`) and a carried-out control command (`command`).
        case set, command
    }

    fileprivate enum Keys: String, CodingKey {
        case v, time, type, pid
        // Fields of the small events that have no struct of their own.
        case state, lr, globalStep = "global_step", manual, path, testAccuracy = "test_accuracy", message
        case field, value, command
    }

    private struct LineCoding: Encodable {
        var line: Line

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(SessionEvents.version, forKey: .v)
            try c.encode(line.time, forKey: .time)
            // Each payload writes its fields into the same object.
            switch line.event {
            case .started(let run):
                try c.encode(Kind.started.rawValue, forKey: .type)
                try c.encodeIfPresent(line.pid, forKey: .pid)
                try run.encode(to: encoder)
            case .step(let step):
                try c.encode(Kind.step.rawValue, forKey: .type)
                try step.encode(to: encoder)
            case .record(let record):
                try c.encode(Kind.record.rawValue, forKey: .type)
                try record.encode(to: encoder)
            case .evaluation(let evaluation):
                try c.encode(Kind.evaluation.rawValue, forKey: .type)
                try evaluation.encode(to: encoder)
            case .stateChanged(let state):
                try c.encode(Kind.state.rawValue, forKey: .type)
                try c.encode(state, forKey: .state)
            case let .learningRateChanged(lr, globalStep, manual):
                try c.encode(Kind.lr.rawValue, forKey: .type)
                try c.encode(lr, forKey: .lr)
                try c.encode(globalStep, forKey: .globalStep)
                try c.encode(manual, forKey: .manual)
            case let .checkpointSaved(path, globalStep):
                try c.encode(Kind.checkpoint.rawValue, forKey: .type)
                try c.encode(path, forKey: .path)
                try c.encode(globalStep, forKey: .globalStep)
            case .finished(let testAccuracy):
                try c.encode(Kind.finished.rawValue, forKey: .type)
                try c.encode(testAccuracy, forKey: .testAccuracy)
            case .failed(let message):
                try c.encode(Kind.failed.rawValue, forKey: .type)
                try c.encode(message, forKey: .message)
            case .layerView(let view):
                try c.encode(Kind.layerView.rawValue, forKey: .type)
                try view.encode(to: encoder)
            case .health(let record):
                try c.encode(Kind.health.rawValue, forKey: .type)
                try record.encode(to: encoder)
            case .anomaly(let anomaly):
                try c.encode(Kind.anomaly.rawValue, forKey: .type)
                try anomaly.encode(to: encoder)
            case .decoding(let progress):
                try c.encode(Kind.decoding.rawValue, forKey: .type)
                try progress.encode(to: encoder)
            case let .hyperparameterChanged(field, value, globalStep):
                try c.encode(Kind.set.rawValue, forKey: .type)
                try c.encode(field, forKey: .field)
                try c.encode(value, forKey: .value)
                try c.encode(globalStep, forKey: .globalStep)
            case let .commandApplied(command, globalStep):
                try c.encode(Kind.command.rawValue, forKey: .type)
                try c.encode(command, forKey: .command)
                try c.encode(globalStep, forKey: .globalStep)
            }
        }
    }

    private struct DecodedCoding: Decodable {
        var decoded: Decoded

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            let version = try c.decode(Int.self, forKey: .v)
            guard version <= SessionEvents.version else {
                throw TrainingError.setup(message: "schema version \(version); this cnntui reads up to \(SessionEvents.version)")
            }
            let time = try c.decode(Double.self, forKey: .time)
            let type = try c.decode(String.self, forKey: .type)
            guard let kind = Kind(rawValue: type) else {
                decoded = .unknown(type: type)
                return
            }
            var pid: Int32?
            let event: TrainingEvent
            switch kind {
            case .started:
                pid = try c.decodeIfPresent(Int32.self, forKey: .pid)
                event = .started(try RunDescription(from: decoder))
            case .step: event = .step(try StepEvent(from: decoder))
            case .record: event = .record(try StepRecord(from: decoder))
            case .evaluation:
                let evaluation = try EvaluationEvent(from: decoder)
                if let problem = evaluation.inconsistency { throw corrupt(problem, decoder) }
                event = .evaluation(evaluation)
            case .state: event = .stateChanged(try c.decode(TrainingState.self, forKey: .state))
            case .lr:
                event = .learningRateChanged(try c.decode(Float.self, forKey: .lr),
                                             globalStep: try c.decode(Int.self, forKey: .globalStep),
                                             manual: try c.decode(Bool.self, forKey: .manual))
            case .checkpoint:
                event = .checkpointSaved(path: try c.decode(String.self, forKey: .path),
                                         globalStep: try c.decode(Int.self, forKey: .globalStep))
            case .finished: event = .finished(testAccuracy: try c.decode(Float.self, forKey: .testAccuracy))
            case .failed: event = .failed(message: try c.decode(String.self, forKey: .message))
            case .layerView: event = .layerView(try LayerView(from: decoder))
            case .health: event = .health(try HealthRecord(from: decoder))
            case .anomaly: event = .anomaly(try Anomaly(from: decoder))
            case .decoding: event = .decoding(try DecodingProgress(from: decoder))
            case .set:
                event = .hyperparameterChanged(try c.decode(Hyperparameter.self, forKey: .field),
                                               try c.decode(Double.self, forKey: .value),
                                               globalStep: try c.decode(Int.self, forKey: .globalStep))
            case .command:
                event = .commandApplied(try c.decode(AppliedCommand.self, forKey: .command),
                                        globalStep: try c.decode(Int.self, forKey: .globalStep))
            }
            decoded = .event(Line(time: time, event: event, pid: pid))
        }
    }
}

// MARK: - The payloads' fields (snake_case, as the README lists them; the plain ones are beside their types)





extension PredictedImage: Codable {
    enum CodingKeys: String, CodingKey {
        case channels, height, width, pixels, loss
        case testIndex = "test_index", trueClass = "true_class", predictedClass = "predicted_class", topK = "top_k"
        case trueProbability = "true_probability"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let (channels, height, width) = (try c.decode(Int.self, forKey: .channels), try c.decode(Int.self, forKey: .height),
                                         try c.decode(Int.self, forKey: .width))
        let pixels = [UInt8](try c.decode(Data.self, forKey: .pixels))  // base64
        try requireCount(pixels.count, of: [channels, height, width], "pixels", decoder)
        self.init(testIndex: try c.decode(Int.self, forKey: .testIndex), channels: channels, height: height, width: width,
                  pixels: pixels,
                  trueClass: try c.decode(Int.self, forKey: .trueClass),
                  predictedClass: try c.decode(Int.self, forKey: .predictedClass),
                  topK: try c.decode([ClassProbability].self, forKey: .topK),
                  trueProbability: try c.decode(Float.self, forKey: .trueProbability), loss: try c.decode(Float.self, forKey: .loss))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(testIndex, forKey: .testIndex)
        try c.encode(channels, forKey: .channels)
        try c.encode(height, forKey: .height)
        try c.encode(width, forKey: .width)
        try c.encode(Data(pixels), forKey: .pixels)
        try c.encode(trueClass, forKey: .trueClass)
        try c.encode(predictedClass, forKey: .predictedClass)
        try c.encode(topK, forKey: .topK)
        try c.encode(trueProbability, forKey: .trueProbability)
        try c.encode(loss, forKey: .loss)
    }
}

extension LayerView: Codable {
    enum CodingKeys: String, CodingKey {
        case layer, shape, values, minimum, maximum, mean, filters
        case testIndex = "test_index", globalStep = "global_step", zeroFraction = "zero_fraction"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let (shape, values) = (try c.decode([Int].self, forKey: .shape), try Float32Base64.decode(c.decode(Data.self, forKey: .values)))
        guard shape.count == 3 else { throw corrupt("shape \(shape) is not [C, H, W]", decoder) }
        try requireCount(values.count, of: shape, "values", decoder)
        self.init(layer: try c.decode(String.self, forKey: .layer), testIndex: try c.decode(Int.self, forKey: .testIndex),
                  globalStep: try c.decode(Int.self, forKey: .globalStep), shape: shape, values: values,
                  minimum: try c.decode(Float.self, forKey: .minimum), maximum: try c.decode(Float.self, forKey: .maximum),
                  mean: try c.decode(Float.self, forKey: .mean), zeroFraction: try c.decode(Float.self, forKey: .zeroFraction),
                  filters: try c.decodeIfPresent(FilterBank.self, forKey: .filters))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(layer, forKey: .layer)
        try c.encode(testIndex, forKey: .testIndex)
        try c.encode(globalStep, forKey: .globalStep)
        try c.encode(shape, forKey: .shape)
        try c.encode(Float32Base64.encode(values), forKey: .values)
        try c.encode(minimum, forKey: .minimum)
        try c.encode(maximum, forKey: .maximum)
        try c.encode(mean, forKey: .mean)
        try c.encode(zeroFraction, forKey: .zeroFraction)
        try c.encodeIfPresent(filters, forKey: .filters)
    }
}

extension FilterBank: Codable {
    enum CodingKeys: String, CodingKey { case layer, shape, weights }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let (shape, weights) = (try c.decode([Int].self, forKey: .shape), try Float32Base64.decode(c.decode(Data.self, forKey: .weights)))
        guard shape.count == 4 else { throw corrupt("filter shape \(shape) is not [out, in/groups, kh, kw]", decoder) }
        try requireCount(weights.count, of: shape, "weights", decoder)
        self.init(layer: try c.decode(String.self, forKey: .layer), shape: shape, weights: weights)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(layer, forKey: .layer)
        try c.encode(shape, forKey: .shape)
        try c.encode(Float32Base64.encode(weights), forKey: .weights)
    }
}

/// A viewer indexes pixels and values by the shape a line gives: a line whose counts disagree with its shape (a
/// foreign writer's, or a damaged file) is refused when read, not when drawn.
private func requireCount(_ count: Int, of shape: [Int], _ what: String, _ decoder: any Decoder) throws {
    var expected = 1
    for dimension in shape {
        let (product, overflow) = expected.multipliedReportingOverflow(by: dimension)
        guard dimension >= 0, !overflow else { throw corrupt("shape \(shape) is not a size", decoder) }
        expected = product
    }
    guard count == expected else { throw corrupt("\(count) \(what) for shape \(shape) (\(expected) expected)", decoder) }
}

private func corrupt(_ message: String, _ decoder: any Decoder) -> DecodingError {
    .dataCorrupted(DecodingError.Context(codingPath: decoder.codingPath, debugDescription: message))
}

/// Float tensors as the bytes of little-endian float32 (numpy: `np.frombuffer(base64.b64decode(s), "<f4")`):
/// a quarter of the size of decimal text, and exact.
enum Float32Base64 {
    static func encode(_ values: [Float]) -> Data {
        var data = Data(capacity: values.count * 4)
        for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        return data
    }

    static func decode(_ data: Data) throws -> [Float] {
        guard data.count % 4 == 0 else {
            throw TrainingError.setup(message: "\(data.count) bytes is not a whole number of float32 values")
        }
        let bytes = [UInt8](data)
        return stride(from: 0, to: bytes.count, by: 4).map { i in
            Float(bitPattern: UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
        }
    }
}
