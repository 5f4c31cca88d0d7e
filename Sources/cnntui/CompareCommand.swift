import ArgumentParser
import Foundation
import TUI
import Training

/// `cnntui compare ID ID...`: the runs' curves overlaid in one dashboard, their results and the recipe
/// fields that differ side by side; live runs keep updating.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare runs: loss, accuracy and learning rate overlaid, results, differing recipe fields, per-class accuracy.",
        discussion: """
            x is the epoch; s switches to the global step, t to wall time (from each epoch's seconds in the
            metrics). 1-8 show or hide a run's curves. Runs still training are re-read when their files change.
            """)

    @Argument(help: "Two to eight session IDs (or unique parts of them, or their paths).") var ids: [String]
    @Option(name: .customLong("sessions-dir"), help: "Sessions directory (default $CNNTUI_SESSIONS or ./Sessions).")
    var sessionsDir: String?

    func validate() throws {
        if ids.count < 2 { throw ValidationError("compare needs at least two runs, got \(ids.count)") }
    }

    func run() throws {
        let store = SessionStore(override: sessionsDir)
        let runs: [ComparedRun]
        do { runs = try CompareApp.load(try ids.map { try store.open($0) }) } catch { throw ValidationError("\(error)") }
        let painter: TerminalPainter
        do { painter = try TerminalPainter.start() } catch { throw ValidationError("\(error)") }
        let app = CompareApp(runs: runs, capabilities: painter.capabilities, width: painter.width, height: painter.height,
                             painter: painter)
        CompareLoop.run(app, painter: painter)
        painter.stop()
        if painter.wasTerminated { throw ExitCode(DashboardRun.terminatedExitCode) }
    }
}
