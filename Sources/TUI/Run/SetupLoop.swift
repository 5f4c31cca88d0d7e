import Training

/// The UI thread's loop over the pickers: sleeps in `poll()` on stdin and the estimator's and LR finder's wake
/// descriptors, folds the keys, the new estimates and the sweep's points into the app, and draws.
public enum SetupLoop {
    public enum Outcome: Equatable, Sendable {
        case train(TrainingConfig)
        /// The user asked for the runs screen (`SetupApp.returnFromRuns` before running this loop again).
        case runs
        case quit
    }

    public static func run(_ app: SetupApp, painter: TerminalPainter) -> Outcome {
        app.requestEstimates()
        while true {
            app.draw()
            if let config = app.chosen { return .train(config) }
            if app.shouldQuit { return .quit }
            if app.wantsRuns { return .runs }
            painter.waitForInput(alsoWatching: app.wakeFileDescriptors, timeoutMilliseconds: -1)
            for key in painter.pendingKeys() where app.chosen == nil && !app.shouldQuit && !app.wantsRuns { app.handle(key: key) }
            app.refreshEstimates()
            app.refreshFinder()
        }
    }
}
