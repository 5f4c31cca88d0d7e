import Foundation
import Training

/// The UI thread's loop while a run is shown: sleep in `poll()` on stdin and the engine's wake descriptor,
/// fold whatever arrived, and draw at most `frameInterval` apart (a key redraws at once). Training never
/// waits for it: the engine posts events without blocking and step events coalesce.
public enum DashboardLoop {
    /// Frames while events stream in: 10 per second is smooth for charts and costs the engine nothing measurable.
    public static let frameInterval = 0.1

    /// Runs until the user quits and the engine (if any) has ended. `handle` nil shows `app`'s model as it is
    /// (a finished session's history).
    public static func run(app: App, painter: TerminalPainter, handle: TrainingHandle?) {
        var engineEnded = handle == nil
        var dirty = true
        var redrawNow = true
        var lastDraw = 0.0
        while !(app.shouldQuit && engineEnded) {
            if dirty && (redrawNow || now() - lastDraw >= frameInterval) {
                app.draw()
                lastDraw = now()
                dirty = false
                redrawNow = false
            }
            // Sleep until input, an event, the next frame that is due, or (stopping) a look at the engine.
            var timeout: Int32 = -1
            if dirty { timeout = Int32(max(0, (lastDraw + frameInterval - now()) * 1000)) }
            if app.shouldQuit { timeout = timeout < 0 ? 100 : min(timeout, 100) }
            let watched = [handle?.events.wakeFileDescriptor, app.explainer?.wakeFileDescriptor].compactMap { $0 }
            painter.waitForInput(alsoWatching: watched, timeoutMilliseconds: timeout)

            for key in painter.pendingKeys() {
                if app.shouldQuit {
                    // Already stopping: a second Ctrl-C or SIGTERM leaves at once (the last good checkpoint stays).
                    if key == .interrupt { return }
                    continue
                }
                for command in app.handle(key: key) { handle?.send(command) }
                dirty = true
                redrawNow = true
            }
            if let handle {
                let events = handle.events.drain()
                for event in events {
                    for command in app.handle(event: event) { handle.send(command) }
                    switch event {
                    case .finished, .failed: engineEnded = true
                    default: break
                    }
                }
                if !events.isEmpty { dirty = true }
                if app.shouldQuit && !engineEnded && handle.wait(seconds: 0) { engineEnded = true }
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
