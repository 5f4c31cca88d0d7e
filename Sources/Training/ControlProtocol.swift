import Foundation

/// One request to a run's control endpoint: a JSON object on one line, `{"cmd":"pause"}` or
/// `{"cmd":"set","field":"momentum","value":0.5}` (`{"cmd":"set_lr","value":0.01}` is `set` of `lr`).
/// Plain JSON, so that any program (a PyTorch `train.py`, a shell with `socat`) speaks it.
public enum ControlRequest: Sendable, Equatable {
    case ping, pause, resume, save, stop
    case set(Hyperparameter, Double)

    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Reads one request line; throws saying what is wrong with it.
    public static func parse(_ line: some StringProtocol) throws(Invalid) -> ControlRequest {
        func invalid(_ message: String) -> Invalid { Invalid(message: message) }
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw invalid("not a JSON object: \(line.prefix(80))")
        }
        guard let command = object["cmd"] as? String else { throw invalid("no \"cmd\" (a string) in the request") }
        switch command {
        case "ping": return .ping
        case "pause": return .pause
        case "resume": return .resume
        case "save": return .save
        case "stop": return .stop
        case "set", "set_lr":
            let fieldName = command == "set_lr" ? "lr" : object["field"] as? String
            guard let fieldName else {
                throw invalid("set needs \"field\": one of \(Hyperparameter.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let field = Hyperparameter(rawValue: fieldName) else {
                throw invalid("unknown field '\(fieldName)': one of \(Hyperparameter.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            // Decoded, not cast: JSONSerialization hands `true` over as a number too.
            guard let value = try? JSONDecoder().decode(RequestValue.self, from: Data(line.utf8)).value else {
                throw invalid("\(command) needs \"value\" (a number) for \(field.rawValue)")
            }
            return .set(field, value)
        default:
            throw invalid("unknown command '\(command)': one of ping, pause, resume, save, stop, set, set_lr")
        }
    }

    /// The request as one JSON line (no newline).
    public var jsonLine: String {
        switch self {
        case .ping: return #"{"cmd":"ping"}"#
        case .pause: return #"{"cmd":"pause"}"#
        case .resume: return #"{"cmd":"resume"}"#
        case .save: return #"{"cmd":"save"}"#
        case .stop: return #"{"cmd":"stop"}"#
        case let .set(field, value):
            return #"{"cmd":"set","field":"\#(field.rawValue)","value":\#(ControlReply.number(value))}"#
        }
    }

    /// What the engine is sent once the request is accepted (nil for `ping`, which only asks).
    public var command: TrainingCommand? {
        switch self {
        case .ping: return nil
        case .pause: return .pause
        case .resume: return .resume
        case .save: return .saveCheckpoint
        case .stop: return .stop
        case let .set(.learningRate, value): return .setLearningRate(Float(value))
        case let .set(field, value): return .set(field, value)
        }
    }
}

/// The `value` of a `set` request.
private struct RequestValue: Decodable { var value: Double }

/// The answer to one request, one JSON line: `{"ok":true,"state":"running","epoch":2,"global_step":340}` or
/// `{"ok":false,"error":"momentum must be in [0, 1), got 1.5"}`. `ok` means accepted: a command takes effect
/// at the next batch boundary (a batch size at the next epoch).
public struct ControlReply: Sendable, Equatable {
    public var ok: Bool
    public var error: String?
    public var state: String?
    public var epoch: Int?
    public var globalStep: Int?
    /// The session's ID (`ping` answers with it, so a client knows whom it reached).
    public var session: String?

    public init(ok: Bool, error: String? = nil, state: String? = nil, epoch: Int? = nil, globalStep: Int? = nil,
                session: String? = nil) {
        self.ok = ok; self.error = error; self.state = state; self.epoch = epoch; self.globalStep = globalStep
        self.session = session
    }

    public static func refused(_ message: String) -> ControlReply { ControlReply(ok: false, error: message) }

    /// The reply as one JSON line (no newline), keys sorted.
    public var jsonLine: String {
        var object: [String: Any] = ["ok": ok]
        if let error { object["error"] = error }
        if let state { object["state"] = state }
        if let epoch { object["epoch"] = epoch }
        if let globalStep { object["global_step"] = globalStep }
        if let session { object["session"] = session }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data(#"{"ok":false}"#.utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// Reads a reply line; nil when it is not one.
    public static func parse(_ line: some StringProtocol) -> ControlReply? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let ok = object["ok"] as? Bool else { return nil }
        return ControlReply(ok: ok, error: object["error"] as? String, state: object["state"] as? String,
                            epoch: object["epoch"] as? Int, globalStep: object["global_step"] as? Int,
                            session: object["session"] as? String)
    }

    /// A number as JSON writes it: whole values without a fraction (`64`, not `64.0`).
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }
}
