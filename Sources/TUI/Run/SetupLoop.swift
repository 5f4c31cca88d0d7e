import Training

/// The UI thread's loop over the pickers: sleeps in `poll()` on stdin and the estimator's and LR finder's wake
/// descriptors, folds the keys, the new estimates and the sweep's points into the app, and draws.
public enum SetupLoop {
    /// Returns the chosen config, or nil when the user quit.
    public static func run(_ app: SetupApp, painter: TerminalPainter) -> TrainingConfig? {
        app.requestEstimates()
        while true {
            app.draw()
            if let config = app.chosen { return config }
            if app.shouldQuit { return nil }
            painter.waitForInput(alsoWatching: app.wakeFileDescriptors, timeoutMilliseconds: -1)
            for key in painter.pendingKeys() where app.chosen == nil && !app.shouldQuit { app.handle(key: key) }
            app.refreshEstimates()
            app.refreshFinder()
        }
    }
}
