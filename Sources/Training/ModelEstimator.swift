import Engine
import Foundation
import Models
import Synchronization

/// What the model picker shows for one model at one dataset's shape.
public struct ModelEstimate: Sendable, Equatable {
    public var parameters: Int?
    public var macs: Int?
    /// Seconds of one training step (`TrainingStep`: forward, loss, backward, update) at `batchSize`, measured
    /// on this machine.
    public var stepSeconds: Double?
    public var batchSize: Int?
    /// Why the model cannot take this dataset's images, if it cannot.
    public var error: String?
    public init(parameters: Int? = nil, macs: Int? = nil, stepSeconds: Double? = nil, batchSize: Int? = nil,
                error: String? = nil) {
        self.parameters = parameters; self.macs = macs; self.stepSeconds = stepSeconds; self.batchSize = batchSize
        self.error = error
    }

    /// Training seconds of one epoch of `steps` batches.
    public func secondsPerEpoch(steps: Int) -> Double? { stepSeconds.map { $0 * Double(steps) } }
}

/// Counts parameters and multiply-adds of every model, and times training steps of the highlighted one, on a
/// background thread (building and stepping a large network takes seconds; the UI must not wait). Results
/// arrive through `results()`; `wakeFileDescriptor` becomes readable when one is new.
public final class ModelEstimator: Sendable {
    public struct Job: Sendable, Equatable {
        public var model: String
        public var inputShape: [Int]
        public var classes: Int
        public var batchSize: Int
        public var timeSteps: Bool
        public init(model: String, inputShape: [Int], classes: Int, batchSize: Int, timeSteps: Bool) {
            self.model = model; self.inputShape = inputShape; self.classes = classes; self.batchSize = batchSize
            self.timeSteps = timeSteps
        }
        var key: String { Self.key(model: model, inputShape: inputShape, classes: classes) }
        static func key(model: String, inputShape: [Int], classes: Int) -> String {
            "\(model)|\(inputShape.map(String.init).joined(separator: "x"))|\(classes)"
        }
    }

    private struct State {
        var counting: [Job] = []
        var timing: Job?
        var results: [String: ModelEstimate] = [:]
        var busy: String?
        var running = false
        var cancelled = false
    }

    private let state = Mutex(State())
    private let wake = WakePipe()
    private let work = DispatchSemaphore(value: 0)

    public init() {}

    public var wakeFileDescriptor: Int32 { wake.readEnd }

    /// Estimates so far, by `key(model:inputShape:classes:)`; empties the wake pipe.
    public func results() -> [String: ModelEstimate] {
        wake.clear()
        return state.withLock { $0.results }
    }

    /// The model being built or timed right now, if any.
    public var busyModel: String? { state.withLock { $0.busy } }

    public static func key(model: String, inputShape: [Int], classes: Int) -> String {
        Job.key(model: model, inputShape: inputShape, classes: classes)
    }

    /// Queues counting jobs (done in order) for models not counted yet at this shape.
    public func count(_ jobs: [Job]) {
        state.withLock { s in
            s.counting = jobs.filter { s.results[$0.key] == nil }
        }
        startIfNeeded()
    }

    /// Times `job`'s model next (replacing a timing request not yet started); no-op when already timed.
    public func time(_ job: Job) {
        state.withLock { s in
            if let done = s.results[job.key], done.stepSeconds != nil && done.batchSize == job.batchSize || done.error != nil {
                return
            }
            s.timing = job
        }
        startIfNeeded()
    }

    /// Forgets what was measured of `model` at every shape (its spec file was edited), so it is counted and
    /// timed again when next asked.
    public func forget(model: String) {
        state.withLock { s in s.results = s.results.filter { !$0.key.hasPrefix(model + "|") } }
    }

    /// Drops queued jobs and lets the thread end after the job it is on (training is about to start).
    public func cancel() {
        state.withLock { s in s.counting = []; s.timing = nil; s.cancelled = true }
        work.signal()
    }

    private func startIfNeeded() {
        let start = state.withLock { s -> Bool in
            s.cancelled = false
            if s.running { return false }
            s.running = true
            return true
        }
        work.signal()
        guard start else { return }
        let thread = Thread { [self] in loop() }
        thread.name = "cnntui-estimator"
        thread.stackSize = 16 << 20
        thread.start()
    }

    private func loop() {
        while true {
            let next = state.withLock { s -> Job? in
                if s.cancelled { s.running = false; return nil }
                if let t = s.timing { s.timing = nil; s.busy = t.model; return t }
                if !s.counting.isEmpty { let c = s.counting.removeFirst(); s.busy = c.model; return c }
                s.running = false
                s.busy = nil
                return nil
            }
            guard let job = next else { return }
            let estimate = Self.estimate(job, previous: state.withLock { $0.results[job.key] })
            state.withLock { s in s.results[job.key] = estimate; s.busy = nil }
            wake.signal()
        }
    }

    /// The layer-by-layer summary of `model` at a dataset's shape and `batchSize`, as lines (the pickers'
    /// last step, before training starts).
    public static func summaryLines(model: String, inputShape: [Int], classes: Int, batchSize: Int) throws -> [String] {
        try ModelSummary.make(model: model, inputShape: inputShape, classes: classes, batchSize: batchSize).renderText()
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    /// Builds the model; counts it; when asked, times two training steps after one warm-up step.
    static func estimate(_ job: Job, previous: ModelEstimate?) -> ModelEstimate {
        var result = previous ?? ModelEstimate()
        let network: Network
        do {
            network = try ModelZoo.build(job.model, inputShape: job.inputShape, classes: job.classes, seed: 0)
            let summary = try ModelSummary.make(network: network, batchSize: job.batchSize)
            result.parameters = summary.totals.trainableParams
            result.macs = summary.totals.macs
        } catch {
            result.error = "\(error)"
            return result
        }
        guard job.timeSteps else { return result }
        do {
            let trainingStep = try TrainingStep.onRandomBatch(network, batchSize: job.batchSize)
            var times: [Double] = []
            for _ in 0..<3 {
                let start = DispatchTime.now().uptimeNanoseconds
                _ = try trainingStep.train()
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            result.stepSeconds = (times[1] + times[2]) / 2
            result.batchSize = job.batchSize
        } catch {
            result.error = "\(error)"
        }
        return result
    }
}
