import Foundation
import Testing
@testable import Training

/// The control protocol, the endpoint of a live run, its client and liveness, and steering through them.
@Suite struct ControlTests {
    @Test func everyRequestParsesAndRoundTrips() throws {
        let cases: [(String, ControlRequest)] = [
            (#"{"cmd":"ping"}"#, .ping), (#"{"cmd":"pause"}"#, .pause), (#"{"cmd":"resume"}"#, .resume),
            (#"{"cmd":"save"}"#, .save), (#"{"cmd":"stop"}"#, .stop),
            (#"{"cmd":"set","field":"lr","value":0.02}"#, .set(.learningRate, 0.02)),
            (#"{"cmd":"set_lr","value":0.5}"#, .set(.learningRate, 0.5)),
            (#"{"cmd":"set","field":"momentum","value":0.9}"#, .set(.momentum, 0.9)),
            (#"{"cmd":"set","field":"weight_decay","value":0}"#, .set(.weightDecay, 0)),
            (#" {"value": 32, "field": "batch_size", "cmd": "set"} "#, .set(.batchSize, 32)),
        ]
        for (line, want) in cases {
            #expect(try ControlRequest.parse(line) == want, "\(line)")
            #expect(try ControlRequest.parse(want.jsonLine) == want)
        }
        #expect(ControlRequest.set(.batchSize, 32).jsonLine == #"{"cmd":"set","field":"batch_size","value":32}"#)
        #expect(ControlRequest.set(.learningRate, 0.02).command == .setLearningRate(0.02))
        #expect(ControlRequest.set(.momentum, 0.5).command == .set(.momentum, 0.5))
        #expect(ControlRequest.ping.command == nil && ControlRequest.stop.command == .stop)
    }

    @Test func badRequestsSayWhatIsWrong() {
        let bad: [(String, String)] = [
            ("pause", "not a JSON object"), ("[1]", "not a JSON object"), (#"{"command":"pause"}"#, "no \"cmd\""),
            (#"{"cmd":"explode"}"#, "unknown command 'explode'"), (#"{"cmd":"set","value":1}"#, "set needs \"field\""),
            (#"{"cmd":"set","field":"dropout","value":1}"#, "unknown field 'dropout'"),
            (#"{"cmd":"set","field":"lr"}"#, "needs \"value\""), (#"{"cmd":"set","field":"lr","value":"0.1"}"#, "needs \"value\""),
            (#"{"cmd":"set_lr","value":true}"#, "needs \"value\""),
        ]
        for (line, message) in bad {
            do {
                _ = try ControlRequest.parse(line)
                Issue.record("accepted \(line)")
            } catch {
                #expect(error.message.contains(message), "\(line): \(error.message)")
            }
        }
    }

    @Test func repliesRoundTrip() {
        let ok = ControlReply(ok: true, state: "paused", epoch: 2, globalStep: 17, session: "x")
        #expect(ok.jsonLine == #"{"epoch":2,"global_step":17,"ok":true,"session":"x","state":"paused"}"#)
        #expect(ControlReply.parse(ok.jsonLine) == ok)
        let refused = ControlReply.refused("momentum must be in [0, 1), got 1.5")
        #expect(ControlReply.parse(refused.jsonLine) == refused)
        #expect(ControlReply.parse("nonsense") == nil)
    }

    @Test func steeringRulesRefuseBadValuesNamingThem() {
        let sgd = SteeringRules(optimizer: .sgd, schedule: "constant", trainImages: 24, dropLast: true)
        for (field, value) in [(Hyperparameter.learningRate, 0.01), (.momentum, 0), (.momentum, 0.95), (.weightDecay, 0),
                               (.weightDecay, 5e-4), (.batchSize, 1), (.batchSize, 24)] {
            #expect(sgd.problem(field, value) == nil, "\(field) \(value)")
        }
        let refused: [(Hyperparameter, Double, String)] = [
            (.learningRate, 0, "lr must be a positive"), (.learningRate, -1, "lr must be a positive"),
            (.learningRate, .nan, "finite"), (.learningRate, 20, "above 10"), (.momentum, 1, "[0, 1)"),
            (.momentum, -0.1, "[0, 1)"), (.weightDecay, -1, ">= 0"), (.weightDecay, .infinity, "finite"),
            (.batchSize, 0, "whole number"), (.batchSize, 2.5, "whole number"), (.batchSize, 25, "leaves no batch"),
        ]
        for (field, value, message) in refused {
            #expect(sgd.problem(field, value)?.contains(message) == true, "\(field) \(value): \(sgd.problem(field, value) ?? "nil")")
        }
        let adam = SteeringRules(optimizer: .adam, schedule: "cosine:warmup=1", trainImages: 24, dropLast: false)
        #expect(adam.problem(.momentum, 0.5)?.contains("SGD only") == true)
        #expect(adam.problem(.batchSize, 8)?.contains("cannot change under the schedule") == true)
        #expect(adam.problem(.weightDecay, 0.01) == nil)
        #expect(adam.fields == [.learningRate, .weightDecay] && sgd.fields == Hyperparameter.allCases)
    }

    static func sgdConfig(epochs: Int = 3) -> TrainingConfig {
        TrainingConfig(model: "tiny", dataset: "synthetic", epochs: epochs, batchSize: 4, optimizer: .sgd, learningRate: 0.05,
                       schedule: "constant", augmentation: "flip", seed: 7, threads: 1, metricsEvery: 1)
    }

    static func metrics(_ run: RunDescription) throws -> [MetricRecord] {
        try MetricsLog.read(URL(fileURLWithPath: run.sessionPath).appendingPathComponent("metrics.jsonl"))
    }

    /// A paused run answers; steering it lands in its metrics; pausing stops its steps; stop ends it saved and
    /// removes the endpoint.
    @Test func liveEndpointSteersARun() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        var run: RunDescription?
        var replies: [ControlReply] = []
        var stepsWhilePaused = 0, pausedAgain = false, pauseStep = 0
        var socketMode: mode_t = 0
        let events = TinyRun.run(RunRequest(.new(Self.sgdConfig(epochs: 50)), sessions: SessionStore(root: root),
                                            sources: TinyRun.sources, startPaused: true)) { handle, event in
            do {
                switch event {
                case let .started(description):
                    run = description
                    let session = Session(id: description.sessionID, url: URL(fileURLWithPath: description.sessionPath))
                    var info = stat()
                    if let path = description.controlSocket, stat(path, &info) == 0 { socketMode = info.st_mode & 0o777 }
                    #expect(RunLiveness.status(of: session) == .live(pid: getpid()))
                    let client = try ControlClient(session: session)
                    for request: ControlRequest in [.ping, .set(.learningRate, 0.02), .set(.momentum, 1.5), .set(.momentum, 0.5),
                                                    .set(.weightDecay, 0.001), .resume] {
                        replies.append(try client.send(request))
                    }
                case let .step(step) where pausedAgain && step.globalStep > pauseStep:
                    stepsWhilePaused += 1
                case let .record(record) where record.globalStep == 3 && !pausedAgain:
                    let session = Session(id: run!.sessionID, url: URL(fileURLWithPath: run!.sessionPath))
                    let client = try ControlClient(session: session)
                    #expect(try client.send(.pause).ok)
                    // Wait for the engine to pause, then watch it stand still.
                    var status = try client.send(.ping)
                    while status.state != "paused" { usleep(10_000); status = try client.send(.ping) }
                    pausedAgain = true
                    pauseStep = status.globalStep ?? -1
                    usleep(300_000)
                    #expect(try client.send(.ping).globalStep == pauseStep)
                    #expect(try client.send(.stop).ok)
                default: break
                }
            } catch {
                Issue.record("\(error)")
                handle.send(.stop)
            }
        }
        #expect(TinyRun.failure(in: events) == nil)
        let description = try #require(run)
        #expect(socketMode == 0o600)
        #expect(replies.map(\.ok) == [true, true, false, true, true, true])
        #expect(replies[0].state != nil && replies[0].globalStep == 0 && replies[0].session == description.sessionID)
        #expect(replies[2].error?.contains("momentum must be in [0, 1)") == true)
        #expect(stepsWhilePaused == 0)
        #expect(events.contains(.hyperparameterChanged(.momentum, 0.5, globalStep: 0)))
        #expect(events.last.map { if case .finished = $0 { true } else { false } } == true)

        // Every applied command is in the metrics with its time and step; the refused one is not.
        let records = try Self.metrics(description)
        let handMade = records.filter { $0.time != nil }
        #expect(handMade.contains { $0.kind == .lr && $0.lrChange == "manual" && $0.lr == 0.02 && $0.globalStep == 0 })
        #expect(handMade.filter { $0.kind == .set }.map { "\($0.field!.rawValue)=\($0.value!)" } == ["momentum=0.5", "weight_decay=0.001"])
        #expect(handMade.filter { $0.kind == .command }.map { $0.command!.rawValue } == ["pause", "resume", "pause", "stop"])
        #expect(handMade.allSatisfy { $0.time! > Date().timeIntervalSince1970 - 600 })
        // Stopped saved, and the endpoint is gone with the run.
        let session = Session(id: description.sessionID, url: URL(fileURLWithPath: description.sessionPath))
        let state = try CheckpointStore.readTrainState(in: try #require(session.checkpoint(.last)))
        #expect(state.position.globalStep == pauseStep && state.steered?.momentum == 0.5)
        #expect(!FileManager.default.fileExists(atPath: ControlFile.url(in: session).path))
        #expect(!FileManager.default.fileExists(atPath: description.controlSocket!))
        #expect(RunLiveness.status(of: session) == .notRunning)
        do { _ = try ControlClient(session: session); Issue.record("connected to a finished run") } catch {
            #expect(error == .notRunning(session: session.id))
        }
    }

    /// A control.json left by a killed run (its socket refuses, or its process is gone) is not a live run, and
    /// reading it cleans it away.
    @Test func staleEndpointIsNotRunningAndIsCleaned() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let session = Session(id: "stale", url: root.appendingPathComponent("stale"))
        try FileManager.default.createDirectory(at: session.url, withIntermediateDirectories: true)
        let socketPath = try ControlSocketPath.path(for: session)
        func writeControl(pid: Int32) throws {
            let file = ControlFile(pid: pid, socket: socketPath, started: 1, host: ControlFile.hostName)
            try JSONEncoder().encode(file).write(to: ControlFile.url(in: session))
        }
        // A socket nobody listens on any more (the run was killed before it could remove it), our own live pid.
        let listener = try UnixSocket.listen(path: socketPath, mode: 0o600)
        close(listener)
        try writeControl(pid: getpid())
        #expect(RunLiveness.status(of: session) == .notRunning)
        #expect(!FileManager.default.fileExists(atPath: ControlFile.url(in: session).path))
        #expect(!FileManager.default.fileExists(atPath: socketPath))
        // A dead process.
        try writeControl(pid: Int32.max - 1)
        #expect(RunLiveness.status(of: session) == .notRunning)
        #expect(!FileManager.default.fileExists(atPath: ControlFile.url(in: session).path))
        // A dead socket of some other session goes when the next run starts an endpoint.
        let other = try ControlSocketPath.directory() + "/0000000000000000.sock"
        close(try UnixSocket.listen(path: other, mode: 0o600))
        #expect(FileManager.default.fileExists(atPath: other))
        _ = try ControlSocketPath.path(for: session)
        #expect(!FileManager.default.fileExists(atPath: other))
        // Another machine's run is not ours to judge or clean.
        let elsewhere = ControlFile(pid: getpid(), socket: socketPath, started: 1, host: "another-host.invalid")
        try JSONEncoder().encode(elsewhere).write(to: ControlFile.url(in: session))
        #expect(RunLiveness.status(of: session) == .notRunning)
        #expect(FileManager.default.fileExists(atPath: ControlFile.url(in: session).path))
    }

    /// Sessions nested far deeper than a socket path may be long still get an endpoint.
    @Test func longSessionPathStillServes() throws {
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: base) }
        var root = base
        while root.path.utf8.count < 160 { root.appendPathComponent("a-rather-long-directory-name") }
        var answered: ControlReply?
        let events = TinyRun.run(RunRequest(.new(Self.sgdConfig(epochs: 1)), sessions: SessionStore(root: root),
                                            sources: TinyRun.sources, startPaused: true)) { handle, event in
            guard case let .started(run) = event else { return }
            #expect(run.controlProblem == nil && run.sessionPath.utf8.count > 150)
            answered = try? ControlClient(session: Session(id: run.sessionID, url: URL(fileURLWithPath: run.sessionPath)))
                .send(.stop)
            if answered == nil { handle.send(.stop) }
        }
        #expect(TinyRun.failure(in: events) == nil)
        #expect(answered?.ok == true)
    }

    /// A run steered (momentum up from 0, weight decay, a batch size for the next epoch), stopped and resumed
    /// goes on exactly as the same run without the interruption, and replays none of the changes.
    @Test(arguments: [3, 8]) func resumeAfterSteeringKeepsTheSteeredValues(stopAt: Int) throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let steer: (TrainingHandle, TrainingEvent) -> Void = { handle, event in
            guard event == .stateChanged(.paused) else { return }
            handle.send(.set(.momentum, 0.5))
            handle.send(.set(.weightDecay, 0.01))
            handle.send(.set(.batchSize, 6))
            handle.send(.resume)
        }
        func evaluations(_ events: [TrainingEvent]) -> [EvaluationEvent] {
            events.compactMap { if case var .evaluation(e) = $0 { e.seconds = 0; e.imagesPerSecond = 0; return e } else { return nil } }
        }
        let straight = TinyRun.run(RunRequest(.new(Self.sgdConfig()), sessions: SessionStore(root: root.appendingPathComponent("a")),
                                              sources: TinyRun.sources, startPaused: true), whileRunning: steer)
        let store = SessionStore(root: root.appendingPathComponent("b"))
        let first = TinyRun.run(RunRequest(.new(Self.sgdConfig()), sessions: store, sources: TinyRun.sources,
                                           stopAtGlobalStep: stopAt, startPaused: true), whileRunning: steer)
        let path = try #require(TinyRun.session(of: first))
        let resumed = TinyRun.run(RunRequest(.resume(id: path, epochs: nil), sessions: store, sources: TinyRun.sources))
        #expect(TinyRun.failure(in: straight + first + resumed) == nil)
        let description = try #require(resumed.compactMap { if case let .started(r) = $0 { r } else { nil } }.first)
        #expect(description.momentum == 0.5 && description.weightDecay == 0.01)
        // Epoch 1 has 6 steps of 4 images, the later ones 4 of 6.
        #expect(description.batchSize == (stopAt < 6 ? 4 : 6))
        #expect(evaluations(straight) == evaluations(first) + evaluations(resumed))
        #expect(TinyRun.records(in: straight).map(\.loss) == (TinyRun.records(in: first) + TinyRun.records(in: resumed)).map(\.loss))
        #expect(!resumed.contains { if case .hyperparameterChanged = $0 { true } else { false } })
        let lastStep = try #require(straight.compactMap { if case let .step(s) = $0 { s } else { nil } }.last)
        #expect(lastStep.globalStep == 6 + 4 + 4 && lastStep.totalSteps == 14)
        let sets = try MetricsLog.read(URL(fileURLWithPath: path).appendingPathComponent("metrics.jsonl")).filter { $0.kind == .set }
        #expect(sets.map(\.field) == [.momentum, .weightDecay, .batchSize])
    }
}
