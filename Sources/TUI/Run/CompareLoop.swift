import Foundation
import Training

/// The UI thread's loop over a comparison: sleeps in `poll()` on stdin for at most a second, folds the
/// keys, and once a second re-reads the runs whose files changed (a stat per file when nothing did), so
/// live runs move on screen without a thread of their own.
public enum CompareLoop {
    public static let pollInterval = 1.0

    public static func run(_ app: CompareApp, painter: TerminalPainter) {
        var lastPoll = DashboardLoop.now()
        app.draw()
        while !app.isDone {
            let wait = max(0, lastPoll + pollInterval - DashboardLoop.now())
            painter.waitForInput(alsoWatching: [], timeoutMilliseconds: Int32(wait * 1000))
            var dirty = false
            for key in painter.pendingKeys() where !app.isDone {
                app.handle(key: key)
                dirty = true
            }
            if DashboardLoop.now() - lastPoll >= pollInterval {
                lastPoll = DashboardLoop.now()
                if app.refresh() { dirty = true }
            }
            if dirty && !app.isDone { app.draw() }
        }
    }
}
