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
        let summary = session.summary()
        let resumable = session.checkpoint(.last) != nil && (!summary.finished || (epochs ?? 0) > (summary.epochs ?? 0))
        let history: DashboardModel?
        if resumable {
            history = nil
        } else {
            do { history = try SessionHistory.model(of: session) } catch { throw ValidationError("\(error)") }
        }
        let painter: TerminalPainter
        do { painter = try TerminalPainter.start() } catch { throw ValidationError("\(error)") }
        if let history {
            let app = App(capabilities: painter.capabilities, width: painter.width, height: painter.height, painter: painter)
            app.show(history: history, explainer: session.checkpoint(.last).map { _ in Explainer(sessionPath: session.url.path) })
            DashboardLoop.run(app: app, painter: painter, feed: .history)
            painter.stop()
            if painter.wasTerminated { throw ExitCode(DashboardRun.terminatedExitCode) }
            return
        }
        let handle = Trainer.start(RunRequest(.resume(id: session.url.path, epochs: epochs), sessions: store, onAnomaly: .pause))
        let code = DashboardRun.show(painter: painter, handle: handle)
        if code != 0 { throw ExitCode(code) }
    }
}
