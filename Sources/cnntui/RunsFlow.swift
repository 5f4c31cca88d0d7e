import Foundation
import TUI
import Training

/// The runs screen reached from the pickers, and what its actions lead to: the dashboard on a session
/// (open, resume), a comparison (and back), attach.
enum RunsFlow {
    enum End {
        /// Back to the pickers; the terminal is still the UI's.
        case back
        /// Done, the terminal restored: exit with this code.
        case exit(Int32)
    }

    static func run(store: SessionStore, painter: TerminalPainter) -> End {
        let app = RunsApp(store: store, capabilities: painter.capabilities, width: painter.width, height: painter.height,
                          painter: painter)
        while true {
            switch RunsLoop.run(app, painter: painter) {
            case .back:
                return .back
            case .delete:
                // `RunsApp` carries out deletes itself and never hands one over; go on with the screen.
                app.resume()
            case .quit:
                painter.stop()
                return .exit(painter.wasTerminated ? DashboardRun.terminatedExitCode : 0)
            case .open(let session) where RunProcess.live(session) != nil:
                // A run another process executes is watched, never resumed beside it.
                return .exit(SessionDashboard.attach(session, painter: painter))
            case .open(let session):
                let history: DashboardModel?
                do {
                    history = SessionDashboard.resumes(session, epochs: nil) ? nil : try SessionHistory.model(of: session)
                } catch {
                    app.resume(saying: "\(error)", isError: true)
                    continue
                }
                return .exit(SessionDashboard.show(session, history: history, store: store, epochs: nil, painter: painter))
            case .resume(let session):
                return .exit(SessionDashboard.resume(session, store: store, epochs: nil, painter: painter))
            case .attach(let session):
                return .exit(SessionDashboard.attach(session, painter: painter))
            case .compare(let sessions):
                let runs: [ComparedRun]
                do { runs = try CompareApp.load(sessions) } catch {
                    app.resume(saying: "\(error)", isError: true)
                    continue
                }
                let compare = CompareApp(runs: runs, capabilities: painter.capabilities, width: painter.width,
                                         height: painter.height, painter: painter, canGoBack: true)
                CompareLoop.run(compare, painter: painter)
                if compare.quits {
                    painter.stop()
                    return .exit(painter.wasTerminated ? DashboardRun.terminatedExitCode : 0)
                }
                app.resume()
            }
        }
    }
}
