import Foundation
import Training

/// The UI thread's loop over the runs screen: sleeps in `poll()` on stdin, folds the keys, and lists the
/// sessions directory again every `refreshInterval` so statuses and sizes follow the runs.
public enum RunsLoop {
    public static let refreshInterval = 2.0

    /// Returns what the user chose to do (`RunsApp.outcome`).
    public static func run(_ app: RunsApp, painter: TerminalPainter) -> RunsAction {
        var lastRefresh = DashboardLoop.now()
        app.draw()
        while true {
            if let outcome = app.outcome { return outcome }
            let wait = max(0, lastRefresh + refreshInterval - DashboardLoop.now())
            painter.waitForInput(alsoWatching: [], timeoutMilliseconds: Int32(wait * 1000))
            for key in painter.pendingKeys() where app.outcome == nil { app.handle(key: key) }
            if DashboardLoop.now() - lastRefresh >= refreshInterval {
                lastRefresh = DashboardLoop.now()
                app.refresh()
            }
            if app.outcome == nil { app.draw() }
        }
    }
}
