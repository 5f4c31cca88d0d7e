import ArgumentParser
import Foundation
import Training

/// `cnntui control ID pause|resume|save|stop|ping|set FIELD VALUE`: one command to a running training, through
/// its control endpoint; prints the run's reply (one JSON line) and exits 1 when it is an error.
struct ControlCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "control",
        abstract: "Send a command to a running training: pause, resume, save, stop, ping, set FIELD VALUE.",
        discussion: """
            FIELD is lr, momentum (SGD only), weight_decay or batch_size (from the next epoch). The run's reply is
            printed as one JSON line: {"ok":true,...} or {"ok":false,"error":"..."}. Exit status 1 on an error,
            including a session that is not running.
            """)

    @Argument(help: "Session ID (or a unique part of it, or its path).") var id: String
    @Argument(help: "pause, resume, save, stop, ping or set.") var command: String
    // Unrecognised words too, so a negative value (`set lr -1`) reaches the run, which refuses it by name.
    @Argument(parsing: .allUnrecognized, help: "For set: FIELD VALUE.") var arguments: [String] = []
    @Option(name: .customLong("sessions-dir"), help: "Sessions directory (default $CNNTUI_SESSIONS or ./Sessions).")
    var sessionsDir: String?
    @Option(help: "Seconds to wait for the run's answer.") var timeout: Double = 5

    func request() throws -> ControlRequest {
        let simple: [String: ControlRequest] = ["ping": .ping, "pause": .pause, "resume": .resume, "save": .save, "stop": .stop]
        if let request = simple[command] {
            guard arguments.isEmpty else { throw ValidationError("\(command) takes no arguments") }
            return request
        }
        guard command == "set" || command == "set_lr" else {
            throw ValidationError("unknown command '\(command)': one of pause, resume, save, stop, ping, set FIELD VALUE")
        }
        let pair = command == "set_lr" ? ["lr"] + arguments : arguments
        let fields = Hyperparameter.allCases.map(\.rawValue).joined(separator: ", ")
        guard pair.count == 2 else { throw ValidationError("set needs FIELD VALUE (FIELD: \(fields))") }
        guard let field = Hyperparameter(rawValue: pair[0]) else {
            throw ValidationError("unknown field '\(pair[0])': one of \(fields)")
        }
        guard let value = Double(pair[1]) else { throw ValidationError("not a number for \(field.rawValue): '\(pair[1])'") }
        return .set(field, value)
    }

    func validate() throws {
        _ = try request()
        if !(timeout > 0) { throw ValidationError("--timeout: must be positive, got \(timeout)") }
    }

    func run() throws {
        let request = try request()
        let session: Session
        do { session = try SessionStore(override: sessionsDir).open(id) } catch { throw ValidationError("\(error)") }
        do {
            let reply = try ControlClient(session: session).send(request, timeout: timeout)
            print(reply.jsonLine)
            if !reply.ok {
                stderrLine("error: \(reply.error ?? "refused")")
                throw ExitCode(1)
            }
        } catch let failure as ControlClient.Failure {
            stderrLine("error: \(failure)")
            throw ExitCode(1)
        }
    }
}
