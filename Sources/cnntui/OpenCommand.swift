import ArgumentParser
import Foundation
import TUI
import Training

/// `cnntui open ID`: a session in the dashboard. A finished one shows its history and last evaluation from its
/// events file (or, from before events files, its metrics); one that can go on resumes training from its last
/// checkpoint.
struct OpenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "open",
        abstract: "Open a session in the dashboard: a finished one's history, or resume an unfinished one.")

    @OptionGroup var arguments: SessionArguments

    func run() throws {
        let (store, session) = try arguments.open()
        let epochs = arguments.epochs
        // A run another process executes is watched, never resumed beside it.
        if RunProcess.live(session) != nil {
            let painter: TerminalPainter
            do { painter = try TerminalPainter.start() } catch { throw ValidationError("\(error)") }
            let code = SessionDashboard.attach(session, painter: painter)
            if code != 0 { throw ExitCode(code) }
            return
        }
        let resumes = SessionDashboard.resumes(session, epochs: epochs)
        // Read before the terminal is taken over, so an unreadable session is a plain error message.
        let history: DashboardModel?
        do { history = resumes ? nil : try SessionHistory.model(of: session) } catch { throw ValidationError("\(error)") }
        let painter: TerminalPainter
        do { painter = try TerminalPainter.start() } catch { throw ValidationError("\(error)") }
        let code = SessionDashboard.show(session, history: history, store: store, epochs: epochs, painter: painter)
        if code != 0 { throw ExitCode(code) }
    }
}

/// A session in the dashboard, for `cnntui open` and the runs screen: a finished one's history, or training
/// resumed from its last checkpoint.
enum SessionDashboard {
    /// Whether opening resumes training: there is a checkpoint, and epochs are left (or `epochs` adds some).
    static func resumes(_ session: Session, epochs: Int?) -> Bool {
        let summary = session.summary()
        return session.checkpoint(.last) != nil && (!summary.finished || (epochs ?? 0) > (summary.epochs ?? 0))
    }

    /// Shows `history` when given, else resumes training; stops the painter. Returns the exit code.
    static func show(_ session: Session, history: DashboardModel?, store: SessionStore, epochs: Int?,
                     painter: TerminalPainter) -> Int32 {
        guard let history else { return resume(session, store: store, epochs: epochs, painter: painter) }
        let app = App(capabilities: painter.capabilities, width: painter.width, height: painter.height, painter: painter)
        app.show(history: history, explainer: session.checkpoint(.last).map { _ in Explainer(sessionPath: session.url.path) })
        DashboardLoop.run(app: app, painter: painter, feed: .history)
        painter.stop()
        return painter.wasTerminated ? DashboardRun.terminatedExitCode : 0
    }

    /// Trains on from the last checkpoint with the dashboard; stops the painter. Returns the exit code.
    static func resume(_ session: Session, store: SessionStore, epochs: Int?, painter: TerminalPainter) -> Int32 {
        let handle = Trainer.start(RunRequest(.resume(id: session.url.path, epochs: epochs), sessions: store, onAnomaly: .pause))
        return DashboardRun.show(painter: painter, handle: handle)
    }
}

extension SessionDashboard {
    /// Watches a run another process executes, fed by its events file through the same fold as a run of this
    /// process; commands go through the run's control endpoint. A session from before events files shows its
    /// metrics, as `open` does. Stops the painter; returns the exit code.
    static func attach(_ session: Session, painter: TerminalPainter) -> Int32 {
        let app = App(capabilities: painter.capabilities, width: painter.width, height: painter.height, painter: painter)
        let fm = FileManager.default
        if !fm.fileExists(atPath: session.eventsURL.path) && fm.fileExists(atPath: session.metricsJSONLURL.path),
           let history = try? SessionHistory.model(of: session) {
            app.show(history: history, explainer: session.checkpoint(.last).map { _ in Explainer(sessionPath: session.url.path) })
            DashboardLoop.run(app: app, painter: painter, feed: .history)
        } else {
            app.attach()
            DashboardLoop.run(app: app, painter: painter,
                              feed: .attached(RunFollower(session: session), control: RemoteControl(session: session)))
        }
        painter.stop()
        if app.model.isTrainingLive { print("detached from session \(session.id); the run goes on (cnntui attach \(session.id))") }
        return painter.wasTerminated ? DashboardRun.terminatedExitCode : 0
    }
}
