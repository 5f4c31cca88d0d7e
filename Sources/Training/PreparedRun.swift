import Data
import Engine
import Foundation

/// Everything the engine thread builds before the first step, from the Sendable request alone:
/// the dataset and its loaders, the model, optimizer and schedule, the session, and (when resuming)
/// the restored checkpoint.
final class PreparedRun {
    let config: TrainingConfig
    let session: Session
    let classNames: [String]
    let network: Network
    let optimizer: any Optimizer
    let schedule: any LearningRateSchedule
    let trainLoader: BatchLoader
    let evaluator: Evaluator
    let metrics: MetricsLog
    let health: HealthLog
    /// The session's events file, holding what the checkpoint resumed from covers (nothing for a new run).
    let eventFile: EventFile
    /// The checkpoint's position, when resuming from one.
    let resumedFrom: TrainState?
    /// Momentum, weight decay and batch size in force: the config's, or those a steered run saved.
    let steered: SteeredValues
    let rules: SteeringRules

    init(_ request: RunRequest, decodeProgress: DecodeProgress? = nil) throws {
        var config: TrainingConfig
        var existing: Session?
        var created: Session?
        switch request.origin {
        case let .new(newConfig):
            config = newConfig
            try config.validate()
        case let .created(session):
            guard session.checkpoint(.last) == nil else {
                throw TrainingError.session(path: session.url.path, message: "has trained already (`cnntui resume` continues it)")
            }
            config = try session.readConfig()
            try config.validate()
            created = session
        case let .resume(id, epochs):
            let session = try request.sessions.open(id)
            // Two processes training one session would each write its files: the second only watches.
            if let live = RunProcess.live(session) {
                throw TrainingError.session(path: session.url.path,
                                            message: "is training now (pid \(live.pid)): watch it with `cnntui attach \(session.id)`")
            }
            config = try session.readConfig()
            if let epochs {
                guard epochs >= 1 else { throw TrainingError.invalidFlag(flag: "--epochs", message: "must be at least 1, got \(epochs)") }
                config.epochs = epochs
            }
            existing = session
        }
        Parallel.setThreads(config.threads)

        let data = try RunData(config, sources: request.sources, decodeProgress: decodeProgress)
        let dataset = data.dataset
        if config.augmentation == nil { config.augmentation = data.augmentation.description }
        classNames = dataset.classNames

        network = try request.sources.buildModel(config, dataset.shape, dataset.classNames.count)
        // A steered run continues with the values in force at its checkpoint (read again, verified, below).
        let saved = existing?.checkpoint(.last).flatMap { try? CheckpointStore.readTrainState(in: $0) }
        steered = saved?.steered ?? SteeredValues(config)
        rules = SteeringRules(optimizer: config.optimizer, schedule: config.schedule, trainImages: data.train.count,
                              dropLast: config.dropLast)
        trainLoader = try data.trainLoader(config, batchSize: steered.batchSize)
        evaluator = Evaluator(set: data.test, classes: dataset.classNames.count, mean: dataset.mean, std: dataset.std,
                              batchSize: max(config.batchSize, 100))
        optimizer = try OptimizerFactory.make(config, parameters: network.trainableParameters)
        // The schedule is laid out at the starting batch size (steering the batch size is refused under a
        // schedule that counts batches).
        schedule = try ScheduleFactory.make(config.schedule, learningRate: config.learningRate,
                                            stepsPerEpoch: trainLoader.batchesPerEpoch(batchSize: config.batchSize),
                                            epochs: config.epochs)
        optimizer.learningRate = schedule.learningRate
        // Before any optimizer state is loaded: momentum steered up from 0 brings buffers the checkpoint holds.
        steered.apply(to: optimizer)

        if let existing {
            session = existing
            metrics = MetricsLog(session: existing)
            health = HealthLog(session: existing)
            // Everything is loaded and verified before anything in the session is written.
            if let checkpoint = existing.checkpoint(.last) {
                let state = try Self.restore(from: checkpoint, network: network, optimizer: optimizer,
                                             schedule: schedule, metrics: metrics)
                try health.restore(upToGlobalStep: state.position.globalStep)
                resumedFrom = state
            } else {
                resumedFrom = nil
            }
            try existing.writeConfig(config)
            eventFile = try EventFile(session: existing, keep: resumedFrom?.eventsLength ?? 0)
            // The run goes on: whatever stopped it before is no longer why it stands.
            try? FileManager.default.removeItem(at: existing.stoppedURL)
        } else {
            config.versions["blas_core"] = BLAS.coreName
            if let created {
                try created.writeConfig(config)
                session = created
            } else {
                session = try request.sessions.create(config: config)
            }
            try session.writeDataset(SessionDataset(
                name: dataset.name, classNames: dataset.classNames, shape: dataset.shape, mean: dataset.mean,
                std: dataset.std, trainCount: data.train.count, testCount: data.test.count,
                imageFolder: dataset.folder))
            metrics = MetricsLog(session: session)
            health = HealthLog(session: session)
            eventFile = try EventFile(session: session, keep: 0)
            resumedFrom = nil
        }
        self.config = config
    }

    /// Loads and verifies every part of a checkpoint before applying any of it; a damaged file is
    /// refused with its name and nothing in the session changes.
    private static func restore(from directory: URL, network: Network, optimizer: any Optimizer,
                                schedule: any LearningRateSchedule, metrics: MetricsLog) throws -> TrainState {
        let state = try CheckpointStore.readTrainState(in: directory)
        let model = try CheckpointStore.readModel(in: directory)
        let optimizerState = try CheckpointStore.readOptimizer(in: directory, digest: state.optimizerDigest)
        try network.root.loadStateDict(model, file: directory.appendingPathComponent(CheckpointStore.modelFile).path)
        try optimizer.loadState(optimizerState, file: directory.appendingPathComponent(CheckpointStore.optimizerFile).path)
        do { try schedule.restore(state.schedule) } catch {
            throw TrainingError.checkpoint(file: directory.appendingPathComponent(CheckpointStore.stateFile).path,
                                           message: "\(error)")
        }
        optimizer.learningRate = state.learningRate
        network.random.source = state.networkRandom
        try metrics.restore(count: state.metricsCount)
        return state
    }
}

/// The images a run trains and tests on, as the config selects them: the dataset, less the held-out
/// validation part and beyond `--limit-train`/`--limit-test`, with the augmentation it names (or the dataset's
/// default). The run and the learning-rate finder both take their data from here, so the finder sees the
/// batches training would.
struct RunData {
    let dataset: Dataset
    let train: ImageSet
    let test: ImageSet
    let augmentation: Augmentation

    init(_ config: TrainingConfig, sources: RunSources, decodeProgress: DecodeProgress? = nil) throws {
        let dataset = try sources.loadDataset(config, decodeProgress)
        var train = dataset.train
        var test = dataset.test
        if config.validationFraction > 0 {
            train = dataset.splitValidation(fraction: config.validationFraction, seed: config.seed).train
        }
        let trainCount = EpochSize.trainingImages(datasetSize: dataset.train.count, heldOutFraction: config.validationFraction,
                                                  limit: config.limitTrain)
        if trainCount < train.count { train = train.subset(Array(0..<trainCount)) }
        if let n = config.limitTest, n < test.count { test = test.subset(Array(0..<n)) }
        guard train.count > 0, test.count > 0 else {
            throw TrainingError.invalidFlag(
                flag: "--dataset", message: "'\(config.dataset)' has \(train.count) training and \(test.count) test images")
        }
        if let spec = config.augmentation {
            do { augmentation = try Augmentation.parse(spec) } catch {
                throw TrainingError.invalidFlag(flag: "--augment", message: "'\(spec)': \(error)")
            }
        } else {
            augmentation = dataset.defaultAugmentation
        }
        self.dataset = dataset
        self.train = train
        self.test = test
    }

    /// The shuffling, augmenting, normalising loader of the training images; its order and draws are a pure
    /// function of (seed, epoch), so two loaders with one config hand out the same batches.
    /// `batchSize`: the size in force (a steered run's), the config's by default.
    func trainLoader(_ config: TrainingConfig, batchSize: Int? = nil) throws -> BatchLoader {
        let batchSize = batchSize ?? config.batchSize
        let loader = BatchLoader(set: train, batchSize: batchSize, shuffle: true, dropLast: config.dropLast,
                                 augmentation: augmentation, mean: dataset.mean, std: dataset.std, seed: config.seed,
                                 prefetch: 2)
        guard loader.batchesPerEpoch > 0 else {
            throw TrainingError.invalidFlag(
                flag: "--batch-size", message: "\(batchSize) with the last batch dropped leaves no batch of \(train.count) images")
        }
        return loader
    }
}

extension Tensor {
    /// Resizes to `shape` and copies that many values from `values` (a batch's images).
    func fill(from values: [Float], shape: [Int]) {
        resize(to: shape)
        let n = count
        values.withUnsafeBufferPointer { source in
            guard let base = source.baseAddress else { return }
            data.update(from: base, count: min(n, source.count))
        }
    }
}
