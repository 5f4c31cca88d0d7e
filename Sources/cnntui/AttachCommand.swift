import ArgumentParser
import Foundation
import TUI
import Training

/// `cnntui attach ID`: the dashboard on a run another process executes (`cnntui train`, another terminal's UI),
/// fed by the session's events file through the same fold as a run of this process: the history so far, then
/// live. It only reads the session, so any number of viewers can watch, and killing one changes nothing.
struct AttachCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attach",
        abstract: "Watch a run another process executes in the dashboard: its history so far, then live.",
        discussion: """
            d (or q) leaves the viewer and the run goes on. A run that has ended opens as it ended; one whose process \
            is gone without ending shows INTERRUPTED (`cnntui resume ID` continues it).
            """)

    @Argument(help: "Session ID (or a unique part of it, or its path).") var id: String
    @Option(name: .customLong("sessions-dir"), help: "Sessions directory (default $CNNTUI_SESSIONS or ./Sessions).")
    var sessionsDir: String?

    func run() throws {
        let session: Session
        do { session = try SessionStore(override: sessionsDir).open(id) } catch { throw ValidationError("\(error)") }
        let painter: TerminalPainter
        do { painter = try TerminalPainter.start() } catch { throw ValidationError("\(error)") }
        let code = SessionDashboard.attach(session, painter: painter)
        if code != 0 { throw ExitCode(code) }
    }
}
