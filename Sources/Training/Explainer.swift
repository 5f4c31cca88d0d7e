import Data
import Engine
import Foundation
import Synchronization

/// Grad-CAM maps for one session, on a thread of its own, so the UI never waits and training never notices.
///
/// The explainer builds its own network from the session's config and loads weights from a checkpoint file:
/// it never touches the training engine's model, so a live run stays bit-identical. Live, the dashboard hands
/// it the checkpoint written right after each evaluation (the weights that produced the browsed images);
/// for a session reopened from its files it loads `last` and can re-run the test set for the browser.
/// Requests queue without blocking; of the map requests only the newest waits (a user moving through the
/// browser wants the image in front of them). Results wait in `drain()`; `wakeFileDescriptor` becomes readable
/// whenever one is posted, so the UI polls it beside stdin.
public final class Explainer: Sendable {
    private enum Job: Sendable {
        case load(checkpoint: String)
        case explain(ExplainRequest)
        case evaluate
        case stop
    }

    private struct Queue {
        var loads: [String] = []
        var evaluate = false
        var explain: ExplainRequest?
        var stopping = false
    }

    private let queue = Mutex(Queue())
    private let results = Mutex<[ExplainerResult]>([])
    private let arrived = DispatchSemaphore(value: 0)
    private let wake = WakePipe()
    private let done = DispatchGroup()

    /// Starts the thread for the session at `sessionPath` (nothing is read until the first job).
    public init(sessionPath: String, sources: RunSources = .standard) {
        let session = Session(id: URL(fileURLWithPath: sessionPath).lastPathComponent,
                              url: URL(fileURLWithPath: sessionPath))
        done.enter()
        let thread = Thread { [self] in
            let worker = ExplainerWorker(session: session, sources: sources)
            while let job = nextJob() {
                for result in worker.run(job) { post(result) }
            }
            done.leave()
        }
        thread.name = "cnntui-explainer"
        thread.stackSize = 16 << 20
        thread.start()
    }

    /// Readable when results are waiting; `drain()` empties it.
    public var wakeFileDescriptor: Int32 { wake.readEnd }

    /// Use the weights of this checkpoint directory from now on (`.ready` says which, `.failed` if it cannot).
    public func load(checkpoint: String) { queue.withLock { $0.loads.append(checkpoint) }; arrived.signal() }

    /// Use the session's `last` checkpoint.
    public func loadLast() { load(checkpoint: "") }

    /// One map; replaces a map request still waiting.
    public func explain(_ request: ExplainRequest) { queue.withLock { $0.explain = request }; arrived.signal() }

    /// Re-run the test set with the loaded weights for the browser's images (`.images`).
    public func evaluate() { queue.withLock { $0.evaluate = true }; arrived.signal() }

    /// Ends the thread after the job in progress, without waiting for it (a quitting UI must not wait on a
    /// long evaluation; `waitUntilStopped` is for tests).
    public func stop() {
        queue.withLock { $0.stopping = true }
        arrived.signal()
    }

    /// Blocks until the thread has ended (after `stop`).
    public func waitUntilStopped() { done.wait() }

    /// Results posted since the last drain, oldest first.
    public func drain() -> [ExplainerResult] {
        wake.clear()
        return results.withLock { r in
            defer { r.removeAll() }
            return r
        }
    }

    /// Blocks until a result is waiting or `timeout` seconds pass (tests and headless use).
    @discardableResult
    public func waitForResults(timeout: Double?) -> Bool {
        if results.withLock({ !$0.isEmpty }) { return true }
        return wake.waitReadable(timeout: timeout)
    }

    private func post(_ result: ExplainerResult) {
        results.withLock { $0.append(result) }
        wake.signal()
    }

    /// The next job in order (loads, then the evaluation, then the newest map); nil once stopping.
    private func nextJob() -> Job? {
        while true {
            let job: Job? = queue.withLock { q in
                if q.stopping { return .stop }
                if !q.loads.isEmpty { return .load(checkpoint: q.loads.removeFirst()) }
                if q.evaluate { q.evaluate = false; return .evaluate }
                if let request = q.explain { q.explain = nil; return .explain(request) }
                return nil
            }
            if case .stop = job { return nil }
            if let job { return job }
            arrived.wait()
        }
    }

    /// The thread's state: the session's network and weights, built at the first load.
    private final class ExplainerWorker {
        let session: Session
        let sources: RunSources
        var gradCAM: GradCAM?
        var dataset: SessionDataset?
        var config: TrainingConfig?
        var weights: String?

        init(session: Session, sources: RunSources) { self.session = session; self.sources = sources }

        func run(_ job: Job) -> [ExplainerResult] {
            do {
                switch job {
                case .load(let checkpoint): return [try load(checkpoint)]
                case .explain(let request): return [try explain(request)]
                case .evaluate: return [try evaluate()]
                case .stop: return []
                }
            } catch {
                if case .explain(let request) = job { return [.failed(request, message: "\(error)")] }
                return [.failed(nil, message: "\(error)")]
            }
        }

        func load(_ checkpoint: String) throws -> ExplainerResult {
            let directory: URL
            if checkpoint.isEmpty {
                guard let last = session.checkpoint(.last) else {
                    throw TrainingError.session(path: session.url.path, message: "has no checkpoint yet")
                }
                directory = last
            } else {
                directory = URL(fileURLWithPath: checkpoint)
            }
            if gradCAM == nil {
                let config = try session.readConfig()
                let dataset = try session.readDataset()
                // No `Parallel.setThreads`: the count is the process's, and a live run's trainer set it.
                let network = try sources.buildModel(config, dataset.shape, dataset.classNames.count)
                gradCAM = GradCAM(network: network)
                self.config = config
                self.dataset = dataset
            }
            guard let gradCAM else { preconditionFailure("built above") }
            let entries = try CheckpointStore.readModel(in: directory)
            try gradCAM.network.root.loadStateDict(entries,
                                                   file: directory.appendingPathComponent(CheckpointStore.modelFile).path)
            let state = try CheckpointStore.readTrainState(in: directory)
            let label = state.position.batchesDone == 0
                ? "epoch \(state.position.epoch - 1), step \(state.position.globalStep)"
                : "step \(state.position.globalStep) (in epoch \(state.position.epoch))"
            weights = label
            return .ready(CAMSetup(layers: gradCAM.layers, defaultLayer: gradCAM.defaultLayer, weights: label,
                                   globalStep: state.position.globalStep))
        }

        func explain(_ request: ExplainRequest) throws -> ExplainerResult {
            guard let gradCAM, let dataset, let weights else {
                throw TrainingError.setup(message: "Grad-CAM: no weights loaded yet")
            }
            let shape = dataset.shape
            guard request.pixels.count == shape.reduce(1, *) else {
                throw TrainingError.setup(message: "Grad-CAM: image of \(request.pixels.count) bytes, the model takes \(shapeString(shape))")
            }
            let one = ImageSet(channels: shape[0], height: shape[1], width: shape[2], pixels: request.pixels, labels: [0])
            let image = one.normalizedImage(at: 0, mean: dataset.mean, std: dataset.std)
            let map = try gradCAM.map(image: image, layer: request.layer, classIndex: request.classIndex)
            return .map(request.key, map, weights: weights)
        }

        /// The test set through the loaded weights, as the run evaluated it (its `--limit-test` too).
        func evaluate() throws -> ExplainerResult {
            guard let gradCAM, let dataset, let config else {
                throw TrainingError.setup(message: "no weights loaded to evaluate")
            }
            var test = try sources.loadDataset(config, nil).test
            if let n = config.limitTest, n < test.count { test = test.subset(Array(0..<n)) }
            let evaluator = Evaluator(set: test, classes: dataset.classNames.count, mean: dataset.mean, std: dataset.std,
                                      batchSize: max(config.batchSize, 100))
            return .images(try evaluator.evaluate(gradCAM.network))
        }
    }
}

/// Which map: a test image, a stage, a class.
public struct CAMKey: Sendable, Hashable {
    public var testIndex: Int
    /// Index into `CAMSetup.layers`.
    public var layer: Int
    public var classIndex: Int
    public init(testIndex: Int, layer: Int, classIndex: Int) {
        self.testIndex = testIndex; self.layer = layer; self.classIndex = classIndex
    }
}

/// A map request: the key and the image's raw bytes (C*H*W, as the dataset stores them).
public struct ExplainRequest: Sendable, Equatable {
    public var testIndex: Int
    public var layer: Int
    public var classIndex: Int
    public var pixels: [UInt8]
    public init(testIndex: Int, layer: Int, classIndex: Int, pixels: [UInt8]) {
        self.testIndex = testIndex; self.layer = layer; self.classIndex = classIndex; self.pixels = pixels
    }
    public var key: CAMKey { CAMKey(testIndex: testIndex, layer: layer, classIndex: classIndex) }
}

/// What the loaded weights offer: the stages in forward order, the one shown first, and whose weights.
public struct CAMSetup: Sendable, Equatable {
    public var layers: [CAMLayer]
    public var defaultLayer: Int
    /// "epoch 3, step 1410".
    public var weights: String
    public var globalStep: Int
    public init(layers: [CAMLayer], defaultLayer: Int, weights: String, globalStep: Int) {
        self.layers = layers; self.defaultLayer = defaultLayer; self.weights = weights; self.globalStep = globalStep
    }
}

public enum ExplainerResult: Sendable, Equatable {
    /// Weights loaded (maps asked for before came from the previous ones).
    case ready(CAMSetup)
    case map(CAMKey, CAMMap, weights: String)
    /// The test set evaluated with the loaded weights (for a session read back from its files).
    case images(EvaluationResult)
    /// A request that failed (nil: a load or an evaluation), with why.
    case failed(ExplainRequest?, message: String)
}
