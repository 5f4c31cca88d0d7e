import ArgumentParser
import Training

/// Which session to continue, shared by `cnntui resume` and `cnntui open`.
struct SessionArguments: ParsableArguments {
    @Argument(help: "Session ID (or a unique part of it, or its path).") var id: String
    @Option(help: "Change the total number of epochs (e.g. to train further).") var epochs: Int?
    @Option(name: .customLong("sessions-dir"), help: "Sessions directory (default $CNNTUI_SESSIONS or ./Sessions).")
    var sessionsDir: String?

    func validate() throws {
        if let epochs, epochs < 1 { throw ValidationError("--epochs: must be at least 1, got \(epochs)") }
    }

    /// The store and the session named by `id`; a bad ID is a ValidationError saying why.
    func open() throws -> (SessionStore, Session) {
        (SessionStore(override: sessionsDir), try Self.open(id, sessionsDir: sessionsDir))
    }

    /// The session named by `id` in the store `sessionsDir` picks; a bad ID is a ValidationError saying why
    /// (with the near matches when nothing matches).
    static func open(_ id: String, sessionsDir: String?) throws -> Session {
        do { return try SessionStore(override: sessionsDir).open(id) } catch { throw ValidationError("\(error)") }
    }
}
