import Engine
import Foundation
import Testing
@testable import Training

func tinyConfig(epochs: Int = 2) -> TrainingConfig {
    TrainingConfig(model: "tiny", dataset: "synthetic", epochs: epochs, batchSize: 4, optimizer: .sgd,
                   learningRate: 0.1, momentum: 0.9, seed: 7, threads: 1, metricsEvery: 1)
}

private func entries(_ seed: Float) -> [(String, Safetensors.Entry)] {
    [("conv.weight", Safetensors.Entry(shape: [2, 1, 3, 3], values: (0..<18).map { Float($0) * seed })),
     ("bn.num_batches_tracked", Safetensors.Entry(shape: [], values: [12], isInt64: true))]
}

private func state(step: Int) -> TrainState {
    TrainState(position: RunPosition(epoch: 2, batchesDone: 1, globalStep: step,
                                     epochTotals: StepTally(lossSum: 1.25, correct: 3, seen: 4, seconds: 0.5),
                                     recordWindow: StepTally(lossSum: 0.75, correct: 1, seen: 2, seconds: 0.25),
                                     lastTestAccuracy: 0.5, bestTestAccuracy: 0.5, bestEpoch: 1),
               learningRate: 0.05, schedule: ["base": 0.1], networkRandom: RandomSource(seed: 3), metricsCount: 4,
               finished: false)
}

/// Every file under a directory with its bytes (symlinks as their targets), to show nothing changed.
func snapshot(_ root: URL) throws -> [String: Data] {
    var out: [String: Data] = [:]
    let fm = FileManager.default
    for case let path as String in fm.enumerator(atPath: root.path) ?? FileManager.DirectoryEnumerator() {
        let url = root.appendingPathComponent(path)
        if let target = try? fm.destinationOfSymbolicLink(atPath: url.path) {
            out[path] = Data(("-> " + target).utf8)
        } else if let data = try? Data(contentsOf: url) {
            out[path] = data
        }
    }
    return out
}

@Suite struct SessionTests {
    @Test func sessionRoundTrip() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let store = SessionStore(root: root)
        let date = Date(timeIntervalSince1970: 1_800_000_000)
        let first = try store.create(config: tinyConfig(), now: date)
        let second = try store.create(config: tinyConfig(), now: date)
        #expect(first.id != second.id)
        #expect(second.id == first.id + "-2")
        #expect(first.id.hasSuffix("-tiny-synthetic"))
        #expect(try first.readConfig() == tinyConfig())
        #expect(try store.open(first.id).url.path == first.url.path)
        #expect(try store.open(first.url.path).url.path == first.url.path)
        #expect(throws: TrainingError.self) { try store.open(String(first.id.prefix(8))) }  // ambiguous
        #expect(throws: TrainingError.self) { try store.open("no-such-session") }
        #expect(RunInfo.list(store).map(\.id) == [first.id, second.id])

        try CheckpointStore.save(session: first, model: entries(1), optimizer: entries(2), state: state(step: 5), markBest: true)
        try CheckpointStore.save(session: first, model: entries(3), optimizer: entries(4), state: state(step: 6), markBest: false)
        let last = try #require(first.checkpoint(.last))
        let best = try #require(first.checkpoint(.best))
        #expect(last != best)
        let restored = try CheckpointStore.readTrainState(in: last)
        #expect(restored.position.globalStep == 6 && restored.networkRandom == RandomSource(seed: 3))
        #expect(restored.position == state(step: 6).position)
        #expect(try CheckpointStore.readModel(in: last)["conv.weight"]?.values == entries(3)[0].1.values)
        #expect(try CheckpointStore.readModel(in: best)["conv.weight"]?.values == entries(1)[0].1.values)
        #expect(try CheckpointStore.readModel(in: best)["bn.num_batches_tracked"]?.isInt64 == true)
        let summary = first.summary()
        #expect(summary.model == "tiny" && summary.globalStep == 6 && summary.epochsDone == 1)

        // A third save moves `last` on; the checkpoint nobody points to any more is deleted.
        try CheckpointStore.save(session: first, model: entries(5), optimizer: entries(6), state: state(step: 7), markBest: false)
        let kept = try FileManager.default.contentsOfDirectory(atPath: first.checkpointsURL.path).filter { $0.hasPrefix("ckpt-") }
        #expect(Set(kept) == [best.lastPathComponent, try #require(first.checkpoint(.last)).lastPathComponent])
    }

    @Test func damagedCheckpointsAreRefusedNamingTheFile() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let session = try SessionStore(root: root).create(config: tinyConfig())
        let directory = try CheckpointStore.save(session: session, model: entries(1), optimizer: entries(2),
                                                 state: state(step: 5), markBest: true)
        let model = directory.appendingPathComponent("model.safetensors")
        let original = try Data(contentsOf: model)

        func refusal() -> String? {
            do { _ = try CheckpointStore.readModel(in: directory) } catch { return "\(error)" }
            return nil
        }
        var flipped = original
        flipped[flipped.count - 3] ^= 0x40  // a bit of a weight
        try flipped.write(to: model)
        #expect(refusal()?.contains(model.path) == true)
        try original.prefix(original.count - 10).write(to: model)  // truncated
        #expect(refusal()?.contains(model.path) == true)
        try Data().write(to: model)
        #expect(refusal()?.contains(model.path) == true)
        try original.write(to: model)
        #expect(refusal() == nil)
        let stateFile = directory.appendingPathComponent("train_state.json")
        let stateData = try Data(contentsOf: stateFile)
        try stateData.prefix(stateData.count / 2).write(to: stateFile)
        #expect(refusal()?.contains(stateFile.path) == true)
    }
}

@Suite struct CrashLeftoverTests {
    /// What `kill -9` in the middle of a save leaves: a half-written temporary checkpoint directory.
    /// `last` still names the previous, whole checkpoint, and the next save clears the leftover.
    @Test func aHalfWrittenSaveLeavesThePreviousCheckpointInUse() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let session = try SessionStore(root: root).create(config: tinyConfig())
        let model: [(String, Safetensors.Entry)] = [("w", Safetensors.Entry(shape: [2], values: [1, 2]))]
        let state = TrainState(position: RunPosition(epoch: 1, batchesDone: 2, globalStep: 2), learningRate: 0.1,
                               schedule: [:], networkRandom: RandomSource(seed: 1), metricsCount: 0, finished: false)
        let first = try CheckpointStore.save(session: session, model: model, optimizer: [], state: state, markBest: false)
        let leftover = session.checkpointsURL.appendingPathComponent(".tmp-ckpt-000002")
        try FileManager.default.createDirectory(at: leftover, withIntermediateDirectories: true)
        try Data([1, 2, 3]).write(to: leftover.appendingPathComponent("model.safetensors"))

        #expect(session.checkpoint(.last)?.lastPathComponent == first.lastPathComponent)
        #expect(try CheckpointStore.readModel(in: first)["w"]?.values == [1, 2])
        let second = try CheckpointStore.save(session: session, model: model, optimizer: [], state: state, markBest: false)
        #expect(second.lastPathComponent == "ckpt-000003")
        #expect(!FileManager.default.fileExists(atPath: leftover.path))
        #expect(session.checkpoint(.last)?.lastPathComponent == second.lastPathComponent)
    }
}
