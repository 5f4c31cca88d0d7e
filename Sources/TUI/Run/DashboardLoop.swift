import Foundation
import Training

/// What a dashboard shows and where its commands go.
public enum DashboardFeed {
    /// A session read back from its files: nothing more comes, nothing can be sent.
    case history
    /// The engine in this process: its channel, its command queue. Quitting waits for it to save and end.
    case engine(TrainingHandle)
    /// A run another process executes, followed through its events file; commands go to `control`. Quitting
    /// leaves the run going.
    case attached(RunFollower, control: any RunControl)
}

/// The UI thread's loop while a run is shown: sleep in `poll()` on stdin and the engine's wake descriptor,
/// fold whatever arrived, and draw at most `frameInterval` apart (a key redraws at once). Training never
/// waits for it: the engine posts events without blocking and step events coalesce.
public enum DashboardLoop {
    /// Frames while events stream in: 10 per second is smooth for charts and costs the engine nothing measurable.
    public static let frameInterval = 0.1
    /// How often an attached viewer looks at the events file (a file has no descriptor that wakes on growth
    /// without inotify, and 10 looks a second cost nothing).
    public static let followInterval = 0.1

    /// Runs until the user quits and the engine of this process (if any) has ended.
    public static func run(app: App, painter: TerminalPainter, feed: DashboardFeed) {
        var handle: TrainingHandle?
        var follower: RunFollower?
        let control: (any RunControl)?
        switch feed {
        case .history: control = nil
        case .engine(let engine): handle = engine; control = engine
        case .attached(let run, let remote): follower = run; control = remote
        }
        var engineEnded = handle == nil
        var dirty = true
        var redrawNow = true
        var lastDraw = 0.0

        func send(_ commands: [TrainingCommand]) {
            for command in commands {
                if let error = control?.send(command) {
                    app.showError(error)
                    redrawNow = true
                }
            }
        }

        while !(app.shouldQuit && engineEnded) {
            if dirty && (redrawNow || now() - lastDraw >= frameInterval) {
                app.draw()
                lastDraw = now()
                dirty = false
                redrawNow = false
            }
            // Sleep until input, an event, the next frame that is due, a look at the followed file, or (stopping)
            // a look at the engine.
            var timeout: Int32 = -1
            if dirty { timeout = Int32(max(0, (lastDraw + frameInterval - now()) * 1000)) }
            if follower != nil { timeout = timeout < 0 ? Int32(followInterval * 1000) : min(timeout, Int32(followInterval * 1000)) }
            if app.shouldQuit { timeout = timeout < 0 ? 100 : min(timeout, 100) }
            let watched = [handle?.events.wakeFileDescriptor, app.explainer?.wakeFileDescriptor].compactMap { $0 }
            painter.waitForInput(alsoWatching: watched, timeoutMilliseconds: timeout)

            for key in painter.pendingKeys() {
                if app.shouldQuit {
                    // Already stopping: a second Ctrl-C or SIGTERM leaves at once (the last good checkpoint stays).
                    if key == .interrupt { return }
                    continue
                }
                send(app.handle(key: key))
                dirty = true
                redrawNow = true
            }
            if let handle {
                let events = handle.events.drain()
                for event in events {
                    send(app.handle(event: event))
                    switch event {
                    case .finished, .failed: engineEnded = true
                    default: break
                    }
                }
                if !events.isEmpty { dirty = true }
                if app.shouldQuit && !engineEnded && handle.wait(seconds: 0) { engineEnded = true }
            }
            if let follower {
                let update = follower.poll()
                if update.reset { app.restartFold() }
                for event in update.events { send(app.handle(event: event)) }
                if let problem = update.problems.last { app.showError(problem) }
                if update.reset || !update.events.isEmpty || !update.problems.isEmpty { dirty = true }
            }
            if let explainer = app.explainer {
                let results = explainer.drain()
                for result in results { app.handle(explanation: result) }
                if !results.isEmpty { dirty = true }
            }
        }
        app.stopExplainer()
        app.draw()
    }

    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
}
