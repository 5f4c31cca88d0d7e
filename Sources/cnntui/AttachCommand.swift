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
        // A session from before events files has its metrics only: it shows as `open` shows it.
        let fm = FileManager.default
        let history: DashboardModel?
        if !fm.fileExists(atPath: session.eventsURL.path) && fm.fileExists(atPath: session.metricsJSONLURL.path) {
            do { history = try SessionHistory.model(of: session) } catch { throw ValidationError("\(error)") }
        } else {
            history = nil
        }
        let painter: TerminalPainter
        do { painter = try TerminalPainter.start() } catch { throw ValidationError("\(error)") }
        let app = App(capabilities: painter.capabilities, width: painter.width, height: painter.height, painter: painter)
        if let history {
            app.show(history: history, explainer: session.checkpoint(.last).map { _ in Explainer(sessionPath: session.url.path) })
            DashboardLoop.run(app: app, painter: painter, feed: .history)
        } else {
            app.attach()
            DashboardLoop.run(app: app, painter: painter, feed: .attached(RunFollower(session: session), control: NoControlEndpoint()))
        }
        painter.stop()
        if app.model.isTrainingLive { print("detached from session \(session.id); the run goes on (cnntui attach \(session.id))") }
        if painter.wasTerminated { throw ExitCode(DashboardRun.terminatedExitCode) }
    }
}

/// The commands of an attached viewer until runs have a control endpoint (the Unix socket of `control.json`):
/// every one is refused, saying so; watching works without it.
struct NoControlEndpoint: RunControl {
    func send(_ command: TrainingCommand) -> String? {
        "this run has no control endpoint yet: an attached viewer watches, it cannot pause, set the learning rate, "
            + "save, stop or watch a layer (that needs the run's control socket)"
    }
}
