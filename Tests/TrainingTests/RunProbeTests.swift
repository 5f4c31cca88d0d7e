import Engine
import Foundation
import Testing
@testable import Training

/// Layer views, health records and anomalies in whole runs.
@Suite(.serialized) struct RunProbeTests {
    static func modelBits(_ sessionPath: String) throws -> [String: [UInt32]] {
        let session = Session(id: "", url: URL(fileURLWithPath: sessionPath))
        let directory = try #require(session.checkpoint(.last))
        return try CheckpointStore.readModel(in: directory).mapValues { $0.values.map(\.bitPattern) }
    }

    /// Watched from before its first step (a view at every batch boundary), a run ends with the weights of an
    /// unwatched one, bit for bit, and posts views of the watched layer.
    @Test(arguments: ["relu", "conv", "fc"])
    func watchingChangesNoNumber(layer: String) throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let store = SessionStore(root: root)
        let config = TinyRun.config(metricsEvery: 2)
        let plain = TinyRun.run(RunRequest(.new(config), sessions: store, sources: TinyRun.sources))
        let handle = Trainer.start(RunRequest(.new(config), sessions: store, sources: TinyRun.sources, startPaused: true,
                                              layerViewInterval: 0))
        handle.send(.watchLayer(LayerWatch(layer: layer, testIndex: 5)))
        handle.send(.resume)
        var watched: [TrainingEvent] = []
        var views: [LayerView] = []
        var ended = false
        while !ended {
            handle.events.waitForEvents(timeout: 5)
            for event in handle.events.drain() {
                watched.append(event)
                if case let .layerView(view) = event { views.append(view) }
                if case .finished = event { ended = true }
                if case .failed = event { ended = true }
            }
        }
        handle.wait()
        #expect(TinyRun.failure(in: watched) == nil)
        #expect(try Self.modelBits(#require(TinyRun.session(of: plain))) == Self.modelBits(#require(TinyRun.session(of: watched))))
        #expect(!views.isEmpty && views.allSatisfy { $0.layer == layer && $0.testIndex == 5 })
        let expectedShape = layer == "fc" ? [3, 1, 1] : [4, 6, 6]
        #expect(views.last?.shape == expectedShape && views.last?.filters?.layer == "conv")
        if layer == "relu" { #expect(views.allSatisfy { $0.minimum >= 0 }) }
        // The description lists the layers; health came every record.
        guard case let .started(run)? = watched.first(where: { if case .started = $0 { true } else { false } }) else {
            Issue.record("no started event")
            return
        }
        #expect(run.layers.map(\.path) == ["conv", "bn", "relu", "pool", "flatten", "dropout", "fc"])
        #expect(run.layers.first?.outputShape == [4, 6, 6] && run.layers.first?.parameterCount == 40)
        let health = watched.compactMap { if case let .health(h) = $0 { h } else { nil } }
        #expect(health.map(\.globalStep) == [2, 4, 6, 8, 10, 12])
        #expect(health.first?.layers.map(\.layer) == ["conv", "bn", "fc"] && health.first?.rectifiers.map(\.layer) == ["relu"])
    }

    @Test func anUnknownLayerOrImagePostsNoViewAndTheRunGoesOn() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        for watch in [LayerWatch(layer: "nope", testIndex: 0), LayerWatch(layer: "conv", testIndex: 999)] {
            let handle = Trainer.start(RunRequest(.new(TinyRun.config(epochs: 1, schedule: "constant")), sessions: SessionStore(root: root),
                                                  sources: TinyRun.sources, startPaused: true, layerViewInterval: 0))
            handle.send(.watchLayer(watch))
            handle.send(.resume)
            var events: [TrainingEvent] = []
            while !events.contains(where: { if case .finished = $0 { true } else if case .failed = $0 { true } else { false } }) {
                handle.events.waitForEvents(timeout: 5)
                events += handle.events.drain()
            }
            handle.wait()
            #expect(TinyRun.failure(in: events) == nil)
            #expect(!events.contains { if case .layerView = $0 { true } else { false } })
        }
    }

    /// Sources whose network has a NaN in `conv.weight` after `cleanSteps`... from its first step: the
    /// first bad output is `conv`'s.
    static let poisoned = RunSources(
        loadDataset: { _, _ in TinyRun.dataset() },
        buildModel: { config, shape, classes in
            let network = TinyRun.network(inputShape: shape, classes: classes, seed: config.seed)
            network.stateDict.first { $0.0 == "conv.weight" }!.1.value.data[0] = .nan
            return network
        })

    @Test func anAnomalyPausesADashboardRun() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        var sawPause = false
        let events = TinyRun.run(RunRequest(.new(TinyRun.config()), sessions: SessionStore(root: root), sources: Self.poisoned,
                                            onAnomaly: .pause)) { handle, event in
            if case .stateChanged(.paused) = event, !sawPause {
                sawPause = true
                handle.send(.stop)
            }
        }
        let index = try #require(events.firstIndex { if case .anomaly = $0 { true } else { false } })
        guard case let .anomaly(found) = events[index] else { return }
        #expect(found.layer == "conv" && found.globalStep == 1 && found.message == "output of conv has NaN")
        #expect(events.dropFirst(index + 1).contains(.stateChanged(.paused)))
        #expect(events.last == .finished(testAccuracy: 0))
        #expect(TinyRun.records(in: events).isEmpty)
    }

    @Test func anAnomalyStopsAHeadlessRunKeepingTheLastGoodCheckpoint() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let events = TinyRun.run(RunRequest(.new(TinyRun.config()), sessions: SessionStore(root: root), sources: Self.poisoned))
        #expect(events.contains { if case let .anomaly(a) = $0 { a.layer == "conv" } else { false } })
        let message = try #require(TinyRun.failure(in: events))
        #expect(message.contains("output of conv has NaN") && message.contains("first in layer conv"))
        let path = try #require(TinyRun.session(of: events))
        let session = Session(id: "", url: URL(fileURLWithPath: path))
        #expect(session.checkpoint(.last) == nil)
        let reason = try JSONDecoder().decode(StopReason.self, from: Data(contentsOf: session.stoppedURL))
        #expect(reason.reason == "anomaly" && reason.layer == "conv" && reason.globalStep == 1)
    }

    /// health.jsonl of an interrupted and resumed run is that of an uninterrupted one.
    @Test(arguments: [3, 6])
    func healthLogContinuesAcrossAResume(stopAt: Int) throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let store = SessionStore(root: root)
        let config = TinyRun.config(metricsEvery: 2)
        let straight = try #require(TinyRun.session(of: TinyRun.run(RunRequest(.new(config), sessions: store, sources: TinyRun.sources))))
        let first = try #require(TinyRun.session(of: TinyRun.run(RunRequest(.new(config), sessions: store, sources: TinyRun.sources,
                                                                            stopAtGlobalStep: stopAt))))
        let interrupted = Session(id: "", url: URL(fileURLWithPath: first))
        #expect(try HealthLog.read(interrupted.healthJSONLURL).map(\.globalStep) == Array(stride(from: 2, through: stopAt, by: 2)))
        _ = TinyRun.run(RunRequest(.resume(id: first, epochs: nil), sessions: store, sources: TinyRun.sources))
        let a = try HealthLog.read(Session(id: "", url: URL(fileURLWithPath: straight)).healthJSONLURL)
        let b = try HealthLog.read(interrupted.healthJSONLURL)
        #expect(a.map(\.globalStep) == [2, 4, 6, 8, 10, 12])
        #expect(a == b)
    }
}
