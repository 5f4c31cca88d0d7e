import ArgumentParser
import Foundation
import Models
import TUI
import Training

/// `cnntui` alone opens the terminal UI (the default subcommand, `ui`); every other subcommand runs headless.
@main
struct CNNTUI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cnntui",
        abstract: "Train convolutional networks on the CPU and watch them learn.",
        discussion: """
            Without arguments: pick a dataset, a model and a recipe, read the layer summary, then train with the
            dashboard. With --model and --dataset: start training at once (other flags as for `cnntui train`).
            """,
        subcommands: [
            // Subcommands, one file each; keep this list in the order `--help` should show.
            UICommand.self,
            TrainCommand.self,
            LRFindCommand.self,
            ResumeCommand.self,
            RunsCommand.self,
            CompareCommand.self,
            ControlCommand.self,
            RunSessionCommand.self,
            EvalCommand.self,
            PredictCommand.self,
            ExportCommand.self,
            OpenCommand.self,
            AttachCommand.self,
            BenchCommand.self, BenchWorkerCommand.self,
            ModelsCommand.self,
            SummaryCommand.self,
            DatasetsCommand.self,
            DownloadCommand.self,
        ],
        // Options on the root would capture a subcommand's --model; the UI's flags live on `ui` instead,
        // which runs when no subcommand is named (`cnntui --model mycnn --dataset fashion-mnist`).
        defaultSubcommand: UICommand.self)
}

/// `cnntui [ui] [--model M --dataset D ...]`: the pickers, or straight to the dashboard.
struct UICommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ui",
        abstract: "The terminal UI (the default): pickers, or with --model and --dataset straight to training.")

    @OptionGroup var options: UIRunOptions

    func validate() throws {
        try options.validateForUI()
    }

    func run() throws {
        let store = SessionStore(override: options.recipe.sessionsDir)
        let config = try options.resolvedConfigIfComplete()
        let painter: TerminalPainter
        do { painter = try TerminalPainter.start() } catch { throw ValidationError("\(error)") }
        let chosen: TrainingConfig
        if let config {
            chosen = config
        } else {
            // The zoo, then the network spec files in ./models/ (counted and timed like the zoo's).
            let setup = SetupApp(capabilities: painter.capabilities, width: painter.width, height: painter.height,
                                 painter: painter, models: ModelZoo.names + NetworkSpecReader.files(in: "models"),
                                 dataDirectory: options.recipe.dataDir, base: options.recipe.overrides,
                                 preselectedModel: options.model, preselectedDataset: options.dataset)
            var picked: TrainingConfig?
            while picked == nil {
                switch SetupLoop.run(setup, painter: painter) {
                case .train(let config):
                    picked = config
                case .runs:
                    switch RunsFlow.run(store: store, painter: painter) {
                    case .back: setup.returnFromRuns()
                    case .exit(let code):
                        if code != 0 { throw ExitCode(code) }
                        return
                    }
                case .quit:
                    painter.stop()
                    if painter.wasTerminated { throw ExitCode(DashboardRun.terminatedExitCode) }
                    return
                }
            }
            guard let picked else { return }
            chosen = picked
        }
        let handle = Trainer.start(RunRequest(.new(chosen), sessions: store, onAnomaly: .pause))
        let code = DashboardRun.show(painter: painter, handle: handle)
        if code != 0 { throw ExitCode(code) }
    }
}

/// Runs the dashboard on a live engine, restores the terminal, and says where the session went.
enum DashboardRun {
    /// After a SIGTERM (saved, like Ctrl-C): 128 + the signal's number, as the headless run exits.
    static let terminatedExitCode = 128 + SIGTERM

    /// The process's exit code: 1 when training failed, `terminatedExitCode` after a SIGTERM, else 0.
    static func show(painter: TerminalPainter, handle: TrainingHandle) -> Int32 {
        let app = App(capabilities: painter.capabilities, width: painter.width, height: painter.height, painter: painter)
        app.explainsLiveRuns = true
        DashboardLoop.run(app: app, painter: painter, feed: .engine(handle))
        painter.stop()
        let model = app.model
        if let failure = model.failure {
            stderrLine("error: \(failure)")
            return 1
        }
        if let run = model.run {
            let session = Session(id: run.sessionID, url: URL(fileURLWithPath: run.sessionPath))
            if app.detachRequested && !session.summary().finished {
                return detach(session)
            }
            let accuracy = model.lastEvaluation.map { ", last test accuracy \(String(format: "%.2f%%", $0.testAccuracy * 100))" } ?? ""
            print("session \(run.sessionID) saved in \(run.sessionPath)\(accuracy)")
        }
        return painter.wasTerminated ? terminatedExitCode : 0
    }

    /// `d` in a run of this process: it stopped at a checkpoint; a background process resumes it from there.
    static func detach(_ session: Session) -> Int32 {
        do {
            let pid = try Detach.start(session: session, json: false)
            if let status = Detach.earlyExit(of: pid, session: session, seconds: 3) {
                stderrLine("error: the background run ended at once (exit \(status)); see \(Detach.logURL(of: session).path)")
                return 1
            }
            print("session \(session.id) trains on in the background (pid \(pid)), log: \(Detach.logURL(of: session).path)")
            print("attach: cnntui attach \(session.id)")
            return 0
        } catch {
            stderrLine("error: \(error); the run is saved: cnntui resume \(session.id)")
            return 1
        }
    }
}
