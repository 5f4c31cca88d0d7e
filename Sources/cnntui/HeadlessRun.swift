import Data
import Foundation
import Training

/// The pipe that the SIGINT and SIGTERM handlers write one byte to (the signal number); the main loop polls
/// the read end. A global constant, created before the handler is installed.
private let interruptPipe = WakePipe()
/// The write end as a plain global descriptor, so the handler touches no object and only calls `write(2)`.
private let interruptWriteEnd = interruptPipe.writeEnd

/// Drives a training run from the command line: shows progress, prints JSON lines, turns Ctrl-C and
/// SIGTERM (`kill`, a job scheduler's time limit) into commands: the first saves a checkpoint at the next
/// batch boundary and exits 130 (143 for SIGTERM); the second exits at once, leaving the last good checkpoint.
struct HeadlessRun {
    var json: Bool

    /// Runs to the end; returns the process exit code.
    func run(_ request: RunRequest) -> Int32 {
        let pipeEnds = (interruptPipe.readEnd, interruptWriteEnd)  // created before the handler can run
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber) { received in
                var byte = UInt8(truncatingIfNeeded: received)
                _ = write(interruptWriteEnd, &byte, 1)
            }
        }
        defer {
            signal(SIGINT, SIG_DFL)
            signal(SIGTERM, SIG_DFL)
        }
        // A parent may have started us with these signals blocked (test runners, some job launchers), and
        // the mask survives exec: unblock them, or Ctrl-C and `kill` would never reach the handler.
        var handled = sigset_t()
        sigemptyset(&handled)
        sigaddset(&handled, SIGINT)
        sigaddset(&handled, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &handled, nil)

        let handle = Trainer.start(request)
        var progress = ProgressReporter(json: json)
        var interrupts = 0
        var interruptExitCode: Int32 = 130  // 128 + the first signal's number
        var exitCode: Int32?
        var started: RunDescription?
        while exitCode == nil {
            var fds = [pollfd(fd: handle.events.wakeFileDescriptor, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: pipeEnds.0, events: Int16(POLLIN), revents: 0)]
            _ = poll(&fds, 2, 250)
            if fds[1].revents & Int16(POLLIN) != 0 {
                var buffer = [UInt8](repeating: 0, count: 16)
                let n = read(pipeEnds.0, &buffer, buffer.count)
                for signalNumber in buffer.prefix(max(0, n)) {
                    interrupts += 1
                    if interrupts == 1 {
                        interruptExitCode = 128 + Int32(signalNumber)
                        let what = Int32(signalNumber) == SIGTERM ? "terminated" : "interrupted"
                        progress.note("\(what): saving a checkpoint at the next batch boundary (Ctrl-C again to quit now)")
                        handle.send(.stop)
                    } else {
                        progress.note("interrupted again: quitting; the last good checkpoint stays")
                        // The engine will not get to remove its endpoint: do it here, so no reader finds it stale.
                        if let run = started, let socket = run.controlSocket {
                            unlink(socket)
                            unlink(ControlFile.url(in: Session(id: run.sessionID, url: URL(fileURLWithPath: run.sessionPath))).path)
                        }
                        _exit(interruptExitCode)
                    }
                }
            }
            for event in handle.events.drain() {
                progress.show(event)
                switch event {
                case let .started(run): started = run
                case .finished: exitCode = interrupts > 0 ? interruptExitCode : 0
                case .failed: exitCode = 1
                default: break
                }
            }
            progress.tick()
        }
        handle.wait()
        progress.end(interrupted: interrupts > 0)
        return exitCode ?? 1
    }
}

/// Turns events into a progress bar on a terminal, plain lines otherwise, and JSON lines with `--json`.
struct ProgressReporter {
    let json: Bool
    let isTerminal = isatty(STDERR_FILENO) == 1
    private var description: RunDescription?
    private var lastStep: StepEvent?
    private var lastRecord: StepRecord?
    private var lastEvaluation: EvaluationEvent?
    private var bestAccuracy: Float?
    private var lastPlainStepLine = 0
    private var barShown = false
    private var failure: String?
    /// The tenth of an image folder's decoding last printed.
    private var decodedTenths = -1

    init(json: Bool) { self.json = json }

    mutating func show(_ event: TrainingEvent) {
        switch event {
        case let .started(run):
            description = run
            let resumed = run.startEpoch > 1 ? ", resuming at epoch \(run.startEpoch)" : ""
            note("session \(run.sessionID): \(run.model) on \(run.dataset), \(run.parameterCount) parameters, "
                 + "\(run.epochs) epochs of \(run.stepsPerEpoch) steps, \(run.optimizer) lr \(run.learningRate), "
                 + "schedule \(run.schedule)\(resumed)")
        case let .step(step):
            lastStep = step
            if !isTerminal {
                let every = max(1, step.stepsPerEpoch / 10)
                if step.step % every == 0 && step.globalStep != lastPlainStepLine {
                    lastPlainStepLine = step.globalStep
                    stderrLine(stepLine(step))
                }
            }
        case let .decoding(progress):
            // A line per tenth, to stderr: the first start of a large folder takes seconds before training.
            let tenth = progress.total > 0 ? progress.done * 10 / progress.total : 10
            if tenth < decodedTenths { decodedTenths = -1 }   // a second pass (another side chosen) starts over
            guard tenth > decodedTenths else { break }
            decodedTenths = tenth
            stderrLine(progress.text)
        case let .record(record):
            lastRecord = record
        case let .evaluation(e):
            lastEvaluation = e
            bestAccuracy = max(bestAccuracy ?? e.testAccuracy, e.testAccuracy)
            note(String(format: "epoch %d: train loss %.4f acc %.2f%%, test loss %.4f acc %.2f%%, lr %g, %.1f s, %.0f img/s",
                        e.epoch, e.trainLoss, e.trainAccuracy * 100, e.testLoss, e.testAccuracy * 100,
                        e.learningRate, e.seconds, e.imagesPerSecond))
            if json {
                printJSON(["event": "epoch", "epoch": e.epoch, "train_loss": e.trainLoss, "train_accuracy": e.trainAccuracy,
                           "test_loss": e.testLoss, "test_accuracy": e.testAccuracy, "lr": e.learningRate,
                           "seconds": e.seconds, "images_per_second": e.imagesPerSecond])
            }
        case let .learningRateChanged(lr, step, manual):
            note("learning rate \(lr) from step \(step + 1)\(manual ? " (manual)" : "")")
        case let .hyperparameterChanged(field, value, step):
            note("\(field.label) \(value) " + (field.takesEffectNextEpoch ? "from the next epoch" : "from step \(step + 1)")
                 + " (manual)")
        case let .commandApplied(command, step):
            note("command \(command.rawValue) at step \(step)")
        case let .checkpointSaved(path, _):
            if !isTerminal { stderrLine("checkpoint saved: \(path)") }
        case let .failed(message):
            failure = message
            note("error: \(message)")
        case let .anomaly(found):
            note("stopped at epoch \(found.epoch), step \(found.globalStep): \(found.message) (first in layer \(found.layer))")
            if json {
                printJSON(["event": "anomaly", "epoch": found.epoch, "global_step": found.globalStep, "layer": found.layer,
                           "message": found.message])
            }
        case .stateChanged, .finished, .layerView, .health:
            break
        }
    }

    /// Redraws the bar (a terminal only).
    mutating func tick() {
        guard isTerminal, let step = lastStep else { return }
        let line = stepLine(step)
        FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line).utf8))
        barShown = true
    }

    mutating func note(_ line: String) {
        if barShown {
            FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
            barShown = false
        }
        stderrLine(line)
    }

    mutating func end(interrupted: Bool) {
        if barShown { FileHandle.standardError.write(Data("\n".utf8)) }
        guard let run = description else {
            if json { printJSON(["event": "end", "error": failure ?? "did not start"]) }
            return
        }
        if json {
            var end: [String: Any] = ["event": "end", "session": run.sessionID, "session_path": run.sessionPath,
                                      "interrupted": interrupted, "global_step": lastStep?.globalStep ?? 0]
            if let e = lastEvaluation {
                end["test_accuracy"] = e.testAccuracy
                end["test_loss"] = e.testLoss
                end["epoch"] = e.epoch
            }
            if let bestAccuracy { end["best_test_accuracy"] = bestAccuracy }
            if let failure { end["error"] = failure }
            printJSON(end)
        }
        if failure == nil { stderrLine("session saved in \(run.sessionPath)") }
    }

    private func stepLine(_ s: StepEvent) -> String {
        let width = 20
        let filled = s.stepsPerEpoch == 0 ? 0 : width * s.step / s.stepsPerEpoch
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let eta = s.etaSeconds.map { "ETA " + Self.duration($0) } ?? "ETA --"
        let figures = lastRecord.map {
            String(format: "loss %.4f  acc %5.1f%%  %.0f img/s", $0.loss, $0.accuracy * 100, $0.imagesPerSecond)
        } ?? "loss --  acc --  -- img/s"
        return String(format: "epoch %d/%d [%@] %d/%d  %@  %@",
                      s.epoch, description?.epochs ?? 0, bar, s.step, s.stepsPerEpoch, figures, eta)
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s >= 3600 { return "\(s / 3600)h\(String(format: "%02d", s % 3600 / 60))m" }
        if s >= 60 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s)s"
    }
}

func stderrLine(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// One JSON object per line on stdout, keys sorted, floats as numbers.
func printJSON(_ object: [String: Any]) {
    let sanitized = object.mapValues { value -> Any in
        if let f = value as? Float { return f.isFinite ? (Double("\(f)") ?? Double(f)) : NSNull() }  // 0.8, not 0.800000011920929
        if let d = value as? Double { return d.isFinite ? d : NSNull() }
        return value
    }
    guard let data = try? JSONSerialization.data(withJSONObject: sanitized, options: [.sortedKeys]) else { return }
    FileHandle.standardOutput.write(data + Data("\n".utf8))
}
