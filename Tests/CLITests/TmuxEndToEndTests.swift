import Foundation
import Testing

/// glibc (2.34+) has it, but its header declares it only under _GNU_SOURCE, which Swift's Glibc module lacks.
@_silgen_name("posix_spawn_file_actions_addclosefrom_np")
private func spawnActionsCloseFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ lowest: Int32) -> Int32

/// A private tmux server (its own socket), driven like a user at a terminal: send keys, read the screen.
struct Tmux {
    let socket = "cnntui-test-\(UUID().uuidString)"

    static var executable: String? {
        ["/usr/bin/tmux", "/usr/local/bin/tmux", "/opt/homebrew/bin/tmux"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }
    static var isInstalled: Bool { executable != nil }

    /// Runs a tmux client and returns what it printed. posix_spawn and waitpid rather than Foundation's
    /// Process: the client forks the server, and Process was seen never to notice the client's exit then.
    ///
    /// The client is spawned with an empty signal mask and default dispositions: test threads block most
    /// signals, and a tmux server (and the shell and cnntui in its pane) inheriting that mask ignores
    /// SIGHUP/SIGTERM/SIGINT, so `kill-server` never finishes and Ctrl-C never arrives. It also gets no
    /// descriptor beyond 0-2: a server that inherited another test's pipe would hold it open forever.
    @discardableResult
    func run(_ args: [String]) throws -> String {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("tmux-out-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: output) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        _ = spawnActionsCloseFrom(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t(), allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = [Self.executable ?? "tmux", "-L", socket] + args
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &actions, &attributes, &cArgs, environ)
        guard spawned == 0 else { throw TmuxFailure(message: "cannot run tmux: error \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (try? String(contentsOf: output, encoding: .utf8)) ?? ""
    }

    func start(width: Int, height: Int, command: String) throws {
        try run(["new-session", "-d", "-x", String(width), "-y", String(height), command])
    }

    /// The visible screen as text, wrapped lines joined (of `window`, else the current one).
    func screen(window: Int? = nil) throws -> String {
        try run(["capture-pane", "-p", "-J"] + (window.map { ["-t", ":\($0)"] } ?? []))
    }

    func send(_ keys: String...) throws { try run(["send-keys"] + keys) }

    func kill() { _ = try? run(["kill-server"]) }

    /// Polls the screen until `condition` holds; fails with the last screen after `seconds`.
    @discardableResult
    func waitFor(_ what: String, seconds: Double = 30, window: Int? = nil, _ condition: (String) -> Bool) throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        var last = ""
        while Date() < deadline {
            last = try screen(window: window)
            if condition(last) { return last }
            Thread.sleep(forTimeInterval: 0.2)
        }
        Issue.record("timed out waiting for \(what); the screen was:\n\(last)")
        throw TmuxTimeout()
    }
}

struct TmuxTimeout: Error {}
struct TmuxFailure: Error { var message: String }

/// The real binary in tmux: train MyCNN on Fashion-MNIST, watch, pause, change the learning rate, browse,
/// quit, and find the shell working as before.
@Suite(.serialized) struct TmuxEndToEndTests {
    static let fashionMNISTFound: Bool = {
        guard let result = try? CLI.run(["datasets", "--json"]),
              let list = try? CLI.json(result.stdout) as? [[String: Any]] else { return false }
        return list.contains { $0["name"] as? String == "fashion-mnist" && $0["found"] as? Bool == true }
    }()

    /// The header's "step N/M" (global within the epoch) and epoch, as one number that grows.
    static func progress(_ screen: String) -> Int? {
        let header = screen.split(separator: "\n").first.map(String.init) ?? ""
        func number(after word: String) -> Int? {
            guard let r = header.range(of: word + " ") else { return nil }
            return Int(header[r.upperBound...].prefix { $0.isNumber })
        }
        guard let epoch = number(after: "epoch"), let step = number(after: "step") else { return nil }
        return epoch * 100_000 + step
    }

    /// The shell command that runs the dashboard in `directory` with the full terminal (the test runner's
    /// environment may turn colour off), then says how it exited and leaves a shell.
    static func dashboardCommand(in directory: URL, arguments: String, pidFile: URL? = nil, environment: String = "") -> String {
        // `exec` makes the recorded shell pid the dashboard's own.
        let dashboard = pidFile.map { "sh -c 'echo $$ > \($0.path); exec \(CLI.executable.path) \(arguments)'" }
            ?? "\(CLI.executable.path) \(arguments)"
        return "cd \(directory.path) && env -u NO_COLOR -u CNNTUI_COLORS -u CNNTUI_GLYPHS \(environment) LANG=C.UTF-8 "
            + "CNNTUI_SESSIONS=\(directory.path)/Sessions TERM=xterm-256color \(dashboard); echo EXITED $?; exec sh"
    }

    /// The terminal is sane after the dashboard: canonical mode and echo are back.
    static func expectSaneTerminal(_ tmux: Tmux) throws {
        try tmux.send("stty -a | tr ' ;' '\\n\\n' | grep -E '^-?(icanon|echo)$' | tr '\\n' ' '; echo STTY-DONE", "Enter")
        let stty = try tmux.waitFor("stty output") { $0.components(separatedBy: "STTY-DONE").count > 2 }
        let line = stty.split(separator: "\n").first { $0.contains("icanon") && !$0.contains("stty") } ?? ""
        #expect(line.split(separator: " ").contains("icanon") && line.split(separator: " ").contains("echo"), "stty: \(line)")
    }

    static let realRunArguments = "--model mycnn --dataset fashion-mnist --limit-train 3200 --limit-test 500 --epochs 8"

    @Test(.enabled(if: Tmux.isInstalled, "tmux is not installed (scripts/install-deps installs it); skipping the end-to-end test"),
          .enabled(if: fashionMNISTFound, "Fashion-MNIST is not on this machine (apt install dataset-fashion-mnist)"))
    func dashboardDrivesARealRun() throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let tmux = Tmux()
        defer { tmux.kill() }
        let command = Self.dashboardCommand(in: directory, arguments: Self.realRunArguments)
        try tmux.start(width: 120, height: 40, command: command)

        // Training runs: the step counter moves and the loss chart fills.
        let first = try tmux.waitFor("the first steps") { Self.progress($0) != nil && $0.contains("RUNNING") }
        let start = Self.progress(first) ?? 0
        try tmux.waitFor("the step counter to move") { (Self.progress($0) ?? 0) > start }
        // After the first evaluation: per-class bars, the matrix and the image grid with right/wrong marks.
        let evaluated = try tmux.waitFor("the first evaluation", seconds: 45) { $0.contains("test ") && $0.contains("✓") }
        #expect(evaluated.contains("Per-class accuracy") && evaluated.contains("Ankle boot"))
        #expect(evaluated.contains("▀"), "the image grid draws half blocks")

        // Pause: the state says so and the step counter stops.
        try tmux.send("p")
        let paused = try tmux.waitFor("PAUSED") { $0.split(separator: "\n").first?.contains("PAUSED") == true }
        let stoppedAt = Self.progress(paused)
        Thread.sleep(forTimeInterval: 1.5)
        #expect(Self.progress(try tmux.screen()) == stoppedAt, "the step counter moved while paused")

        // A bad learning rate changes nothing; 0.0005 shows in the header and the LR chart.
        try tmux.send("l", "abc", "Enter")
        try tmux.waitFor("the bad-number message") { $0.contains("not a learning rate") }
        try tmux.send("Escape")
        try tmux.send("l", "0.0005", "Enter")
        let changed = try tmux.waitFor("lr 0.0005 in the header") { $0.contains("lr 0.0005") }
        #expect(changed.contains("marks: set by hand") && changed.contains("▲"))

        // The misclassified browser, filtered by a true class.
        try tmux.send("m")
        try tmux.waitFor("the browser") { $0.contains("Misclassified") && $0.contains("filter: all") }
        try tmux.send("t")
        let filtered = try tmux.waitFor("the class filter") { $0.contains("filter: true = T-shirt/top") }
        #expect(filtered.contains("true:      T-shirt/top") || filtered.contains("no misclassified images match"))

        // Quit asks while training; y saves and leaves; the shell comes back.
        try tmux.send("q")
        try tmux.waitFor("the quit question") { $0.contains("Quit?") }
        try tmux.send("y")
        let exited = try tmux.waitFor("the shell after quitting") { $0.contains("EXITED") }
        #expect(exited.contains("EXITED 0"))
        #expect(exited.contains("saved in \(directory.path)/Sessions/"))

        try Self.expectSaneTerminal(tmux)

        // The session's metrics have the manual learning-rate change.
        let sessions = try FileManager.default.contentsOfDirectory(atPath: directory.path + "/Sessions")
        #expect(sessions.count == 1)
        let metrics = try String(contentsOfFile: "\(directory.path)/Sessions/\(sessions[0])/metrics.jsonl", encoding: .utf8)
        let lrRecords = metrics.split(separator: "\n").compactMap { try? CLI.json(String($0)) as? [String: Any] }
            .filter { $0["kind"] as? String == "lr" && $0["lr_change"] as? String == "manual" }
        #expect(lrRecords.contains { abs(($0["lr"] as? Double ?? 0) - 0.0005) < 1e-9 })
    }

    /// `e` in the model picker with a scripted `$EDITOR`: the spec copied to models/mycnn.cnn, the terminal handed
    /// to the editor and taken back, its mistake shown with the line, `e` again to mend it, the layer summary,
    /// and the edited network trains.
    @Test(.enabled(if: Tmux.isInstalled, "tmux is not installed (scripts/install-deps installs it); skipping the end-to-end test"),
          .enabled(if: fashionMNISTFound, "Fashion-MNIST is not on this machine (apt install dataset-fashion-mnist)"))
    func specEditorRoundTrip() throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // The first time it makes both poolings larger than their planes, the second time it mends them; each
        // time it writes on the terminal and waits, so the test sees that the editor had the screen.
        let editor = directory.appendingPathComponent("edit.sh")
        try Data("""
            #!/bin/sh
            count="$(dirname "$0")/count"
            n=$(( $(cat "$count" 2>/dev/null || echo 0) + 1 )); echo $n > "$count"
            echo "EDITOR-HAS-THE-TERMINAL $n"; sleep 1
            if [ $n = 1 ]; then sed -i 's/^  maxpool 2$/  maxpool 64/' "$1"; else sed -i 's/maxpool 64/maxpool 2/' "$1"; fi

            """.utf8).write(to: editor)
        chmod(editor.path, 0o755)
        let tmux = Tmux()
        defer { tmux.kill() }
        let command = Self.dashboardCommand(in: directory, arguments: "--dataset fashion-mnist --limit-train 640 --limit-test 200 --epochs 1",
                                            environment: "-u VISUAL EDITOR=\(editor.path)")
        try tmux.start(width: 100, height: 30, command: command)
        try tmux.waitFor("the dataset picker") { $0.contains("Choose a dataset") }
        try tmux.send("Enter")
        try tmux.waitFor("the model picker") { $0.contains("Choose a model") && $0.contains("e edit as a spec file") }
        try tmux.send("e")
        try tmux.waitFor("the editor") { $0.contains("EDITOR-HAS-THE-TERMINAL 1") && !$0.contains("Choose a model") }
        let problem = try tmux.waitFor("the spec's mistake") { $0.contains("does not build") }
        #expect(problem.contains("models/mycnn.cnn: line") && problem.contains("maxpool 64"), "\(problem)")
        #expect(!problem.contains("EDITOR-HAS-THE-TERMINAL"), "the editor's text was not painted over:\n\(problem)")

        try tmux.send("e")
        try tmux.waitFor("the editor again") { $0.contains("EDITOR-HAS-THE-TERMINAL 2") }
        let summary = try tmux.waitFor("the layer summary") { $0.contains("Layer summary") }
        #expect(summary.contains("models/mycnn.cnn builds"), "\(summary)")
        let spec = try String(contentsOf: directory.appendingPathComponent("models/mycnn.cnn"), encoding: .utf8)
        #expect(spec.contains("maxpool 2") && !spec.contains("maxpool 64"))

        try tmux.send("Enter")
        try tmux.waitFor("the edited network to train", seconds: 120) { $0.contains("FINISHED") }
        try tmux.send("q")
        let exited = try tmux.waitFor("the shell after quitting") { $0.contains("EXITED") }
        #expect(exited.contains("EXITED 0"), "\(exited)")
        let sessions = try FileManager.default.contentsOfDirectory(atPath: directory.path + "/Sessions")
        let kept = try String(contentsOfFile: "\(directory.path)/Sessions/\(sessions.first ?? "")/model.cnn", encoding: .utf8)
        #expect(kept == spec)
        try Self.expectSaneTerminal(tmux)
    }

    /// `kill` (SIGTERM) on the dashboard does what Ctrl-C does: a checkpoint at the next batch boundary, then the
    /// terminal restored; the exit code says it was terminated (143, as headless).
    @Test(.enabled(if: Tmux.isInstalled, "tmux is not installed (scripts/install-deps installs it); skipping the end-to-end test"),
          .enabled(if: fashionMNISTFound, "Fashion-MNIST is not on this machine (apt install dataset-fashion-mnist)"))
    func sigtermSavesAndRestoresTheTerminal() throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let tmux = Tmux()
        defer { tmux.kill() }
        let pidFile = directory.appendingPathComponent("pid")
        let command = Self.dashboardCommand(in: directory, arguments: Self.realRunArguments, pidFile: pidFile)
        try tmux.start(width: 120, height: 40, command: command)

        let first = try tmux.waitFor("the first steps") { Self.progress($0) != nil && $0.contains("RUNNING") }
        try tmux.waitFor("the step counter to move") { (Self.progress($0) ?? 0) > (Self.progress(first) ?? 0) }
        let pidText = try String(contentsOf: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let pid = try #require(pid_t(pidText))
        #expect(kill(pid, SIGTERM) == 0)

        let exited = try tmux.waitFor("the shell after SIGTERM") { $0.contains("EXITED") }
        #expect(exited.contains("EXITED 143"), "\(exited)")
        #expect(exited.contains("saved in \(directory.path)/Sessions/"))

        // A checkpoint of the steps trained before the signal (the first epoch was still running).
        let sessions = try FileManager.default.contentsOfDirectory(atPath: directory.path + "/Sessions")
        #expect(sessions.count == 1)
        let last = "\(directory.path)/Sessions/\(sessions.first ?? "")/checkpoints/last/train_state.json"
        let state = try #require(try CLI.json(String(contentsOfFile: last, encoding: .utf8)) as? [String: Any])
        #expect((state["global_step"] as? Int ?? 0) > 0)

        try Self.expectSaneTerminal(tmux)
    }

    /// `cnntui attach` on a headless `cnntui train` of another process: the header follows it, `d` leaves the
    /// viewer while the run goes on to its end, and attaching to the finished run opens it.
    @Test(.enabled(if: Tmux.isInstalled, "tmux is not installed (scripts/install-deps installs it); skipping the end-to-end test"),
          .enabled(if: fashionMNISTFound, "Fashion-MNIST is not on this machine (apt install dataset-fashion-mnist)"))
    func attachFollowsAHeadlessRunAndDetaches() throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (trainer, session) = try Self.startHeadlessRun(in: directory)
        defer { if trainer.isRunning { trainer.terminate() } }
        let sessions = directory.appendingPathComponent("Sessions")

        let tmux = Tmux()
        defer { tmux.kill() }
        try tmux.start(width: 120, height: 40, command: Self.dashboardCommand(in: directory, arguments: "attach \(session)"))
        let first = try tmux.waitFor("the attached header") { Self.progress($0) != nil && $0.contains("RUNNING") }
        #expect(first.contains("mycnn on fashion-mnist") && first.contains("d detach"))
        try tmux.waitFor("the step counter to move") { (Self.progress($0) ?? 0) > (Self.progress(first) ?? 0) }
        // A second viewer at the same time, in another window.
        try tmux.run(["new-window", "-d", "-t", ":1", Self.dashboardCommand(in: directory, arguments: "attach \(session)")])
        try tmux.waitFor("the second viewer", window: 1) { Self.progress($0) != nil && $0.contains("RUNNING") }

        // d leaves the first viewer; the run goes on.
        try tmux.send("d")
        let detached = try tmux.waitFor("the shell after detaching") { $0.contains("EXITED") }
        #expect(detached.contains("EXITED 0") && detached.contains("detached from session \(session)"))
        #expect(trainer.isRunning, "detaching stopped the run")
        trainer.waitUntilExit()
        #expect(trainer.terminationStatus == 0)
        // The second viewer saw it end, and stays.
        try tmux.waitFor("the second viewer to show the end", seconds: 5, window: 1) { $0.contains("FINISHED") }

        // Attaching to the finished run opens it as it ended; q leaves.
        try tmux.send("clear; \(CLI.executable.path) attach \(session) --sessions-dir \(sessions.path); echo AGAIN $?", "Enter")
        let finished = try tmux.waitFor("the finished run") { $0.contains("FINISHED") && $0.contains("epoch 2/2") }
        #expect(finished.contains("Per-class accuracy"))
        try tmux.send("q")
        try tmux.waitFor("the shell after quitting") { $0.contains("AGAIN 0") }
    }

    /// The whole of leaving a run: `train --detach`, attach, pause there (the background run stops stepping), set
    /// the learning rate (it lands in the session's metrics), resume, detach, attach again from a second window,
    /// `cnntui control ID stop` from the shell (the viewer shows the end), and `runs` lists it as stopped.
    @Test(.enabled(if: Tmux.isInstalled, "tmux is not installed (scripts/install-deps installs it); skipping the end-to-end test"),
          .enabled(if: fashionMNISTFound, "Fashion-MNIST is not on this machine (apt install dataset-fashion-mnist)"))
    func aDetachedRunIsSteeredFromViewersAndStoppedFromTheShell() throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let sessions = directory.appendingPathComponent("Sessions")
        let environment = ["CNNTUI_SESSIONS": sessions.path]
        let train = try CLI.run(["train", "--model", "mycnn", "--dataset", "fashion-mnist", "--epochs", "40", "--limit-train",
                                 "1280", "--limit-test", "200", "--batch-size", "64", "--detach"], environment: environment)
        try #require(train.status == 0, "\(train.stderr)")
        let session = try #require(try FileManager.default.contentsOfDirectory(atPath: sessions.path).first)
        defer { _ = try? CLI.run(["control", session, "stop"], environment: environment) }
        func control(_ words: String...) throws -> [String: Any] {
            let result = try CLI.run(["control", session] + words, environment: environment)
            return (try? CLI.json(result.stdout) as? [String: Any]) ?? ["stderr": result.stderr]
        }

        let tmux = Tmux()
        defer { tmux.kill() }
        try tmux.start(width: 120, height: 40, command: Self.dashboardCommand(in: directory, arguments: "attach \(session)"))
        try tmux.waitFor("the attached header", seconds: 15) { Self.progress($0) != nil && $0.contains("RUNNING") }

        // p pauses the other process: its step count stands still.
        try tmux.send("p")
        try tmux.waitFor("PAUSED") { $0.split(separator: "\n").first?.contains("PAUSED") == true }
        let before = try control("ping")["global_step"] as? Int
        Thread.sleep(forTimeInterval: 1)
        let after = try control("ping")["global_step"] as? Int
        #expect(before != nil && after == before, "the paused run stepped")
        #expect(try control("ping")["state"] as? String == "paused")

        // The steering form's learning rate lands in the run's metrics as a manual change.
        try tmux.send("l")
        try tmux.send("0.0025", "Enter")
        let metrics = sessions.appendingPathComponent(session).appendingPathComponent("metrics.jsonl")
        let deadline = Date().addingTimeInterval(5)
        var changed = false
        while !changed && Date() < deadline {
            changed = ((try? String(contentsOf: metrics, encoding: .utf8)) ?? "").contains("\"lr\":0.0025,\"lr_change\":\"manual\"")
            if !changed { Thread.sleep(forTimeInterval: 0.1) }
        }
        #expect(changed, "no manual lr line in the metrics")

        // Resume, then d leaves the viewer and the run goes on.
        try tmux.send("p")
        try tmux.waitFor("RUNNING again") { $0.split(separator: "\n").first?.contains("RUNNING") == true }
        try tmux.send("d")
        try tmux.waitFor("the shell after detaching") { $0.contains("EXITED 0") }
        #expect(try control("ping")["state"] as? String == "running")

        // A second window attaches to the same run, which still steps.
        try tmux.run(["new-window", "-d", "-t", ":1", Self.dashboardCommand(in: directory, arguments: "attach \(session)")])
        try tmux.waitFor("the second viewer", window: 1) { Self.progress($0) != nil && $0.contains("RUNNING") && $0.contains("0.0025") }

        // stop from the shell: saved, ended; the viewer shows it and runs lists it as stopped.
        #expect(try control("stop")["ok"] as? Bool == true)
        try tmux.waitFor("the viewer to show the end", seconds: 10, window: 1) { $0.contains("FINISHED") }
        let runs = try CLI.run(["runs", "--json"], environment: environment)
        #expect(try TrainCommandTests.jsonLines(runs.stdout).first?["status"] as? String == "stopped", "\(runs.stdout)")
    }

    /// `kill -9` of the trainer while a viewer watches: the viewer says INTERRUPTED within a second or two.
    @Test(.enabled(if: Tmux.isInstalled, "tmux is not installed (scripts/install-deps installs it); skipping the end-to-end test"),
          .enabled(if: fashionMNISTFound, "Fashion-MNIST is not on this machine (apt install dataset-fashion-mnist)"))
    func aKilledRunShowsInterrupted() throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (trainer, session) = try Self.startHeadlessRun(in: directory)
        defer { if trainer.isRunning { trainer.terminate() } }
        let tmux = Tmux()
        defer { tmux.kill() }
        try tmux.start(width: 120, height: 40, command: Self.dashboardCommand(in: directory, arguments: "attach \(session)"))
        try tmux.waitFor("the attached header") { Self.progress($0) != nil && $0.contains("RUNNING") }
        #expect(kill(trainer.processIdentifier, SIGKILL) == 0)
        trainer.waitUntilExit()
        try tmux.waitFor("INTERRUPTED", seconds: 3) { $0.split(separator: "\n").first?.contains("INTERRUPTED") == true }
        try tmux.send("q")
        try tmux.waitFor("the shell after quitting") { $0.contains("EXITED 0") }
    }

    /// `cnntui train` headless in `directory` (a short MyCNN run of 2 epochs), once its session has its events file.
    static func startHeadlessRun(in directory: URL) throws -> (Process, String) {
        let trainer = Process()
        trainer.executableURL = CLI.executable
        trainer.arguments = ["train", "--model", "mycnn", "--dataset", "fashion-mnist", "--limit-train", "6400",
                             "--limit-test", "200", "--epochs", "2", "--batch-size", "32"]
        trainer.environment = ProcessInfo.processInfo.environment.merging(["CNNTUI_SESSIONS": directory.path + "/Sessions"]) { $1 }
        trainer.currentDirectoryURL = directory
        trainer.standardInput = FileHandle.nullDevice
        trainer.standardOutput = FileHandle.nullDevice
        trainer.standardError = FileHandle.nullDevice
        try trainer.run()
        // The session appears with its events file.
        let sessions = directory.appendingPathComponent("Sessions")
        var id: String?
        let appeared = Date().addingTimeInterval(20)
        while id == nil && Date() < appeared {
            id = (try? FileManager.default.contentsOfDirectory(atPath: sessions.path))?.first {
                FileManager.default.fileExists(atPath: sessions.appendingPathComponent($0).appendingPathComponent("events.jsonl").path)
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        guard let id else {
            trainer.terminate()
            throw TmuxFailure(message: "no session with an events file after 20 s")
        }
        return (trainer, id)
    }
}
