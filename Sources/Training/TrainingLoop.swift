import Data
import Engine
import Foundation

/// The engine thread's whole life: set up from the request, train epoch by epoch, evaluate, checkpoint,
/// obey commands at batch boundaries, and tell the channel everything. Lives on that one thread.
final class TrainingLoop {
    private let stopAtGlobalStep: Int?
    private let events: EventChannel
    private let commands: CommandQueue

    private let config: TrainingConfig
    private let session: Session
    private let network: Network
    private let optimizer: any Optimizer
    private let schedule: any LearningRateSchedule
    private let trainLoader: BatchLoader
    private let evaluator: Evaluator
    private let metrics: MetricsLog
    private let trainingStep: TrainingStep

    // Where the run stands; exactly what a checkpoint records.
    private var epoch = 1
    private var batchesDone = 0
    private var globalStep = 0
    private var epochLossSum = 0.0
    private var epochCorrect = 0
    private var epochSeen = 0
    private var epochSeconds = 0.0
    private var lastTestAccuracy: Float?
    private var bestTestAccuracy: Float?
    private var bestEpoch: Int?

    // Per-process bookkeeping.
    private var paused = false
    private var stopRequested = false
    /// False right after a checkpoint, so a stop does not write the same state twice.
    private var changedSinceSave = true
    private let speed = Throughput()

    private init(_ run: PreparedRun, stopAtGlobalStep: Int?, events: EventChannel, commands: CommandQueue) {
        self.stopAtGlobalStep = stopAtGlobalStep
        self.events = events
        self.commands = commands
        config = run.config
        session = run.session
        network = run.network
        optimizer = run.optimizer
        schedule = run.schedule
        trainLoader = run.trainLoader
        evaluator = run.evaluator
        metrics = run.metrics
        trainingStep = TrainingStep(network: run.network, optimizer: run.optimizer,
                                    loss: CrossEntropyLoss(labelSmoothing: run.config.labelSmoothing))
        if let state = run.resumedFrom {
            epoch = state.epoch
            batchesDone = state.batchesDone
            globalStep = state.globalStep
            epochLossSum = state.epochLossSum
            epochCorrect = state.epochCorrect
            epochSeen = state.epochSeen
            epochSeconds = state.epochSeconds
            lastTestAccuracy = state.lastTestAccuracy
            bestTestAccuracy = state.bestTestAccuracy
            bestEpoch = state.bestEpoch
            changedSinceSave = false
        }
    }

    /// The engine thread's body: prepare, announce, train; any error ends the run with `.failed`.
    static func run(_ request: RunRequest, events: EventChannel, commands: CommandQueue) {
        events.post(.stateChanged(.starting))
        do {
            let prepared = try PreparedRun(request)
            let loop = TrainingLoop(prepared, stopAtGlobalStep: request.stopAtGlobalStep, events: events, commands: commands)
            events.post(.started(loop.description(classNames: prepared.classNames)))
            events.post(.stateChanged(.running))
            try loop.train()
        } catch {
            events.post(.failed(message: "\(error)"))
            events.post(.stateChanged(.failed))
        }
    }

    private func description(classNames: [String]) -> RunDescription {
        RunDescription(sessionID: session.id, sessionPath: session.url.path, model: config.model, dataset: config.dataset,
                       classNames: classNames, epochs: config.epochs, batchSize: config.batchSize,
                       stepsPerEpoch: trainLoader.batchesPerEpoch, startEpoch: epoch,
                       optimizer: config.optimizer.rawValue, schedule: config.schedule,
                       learningRate: optimizer.learningRate, parameterCount: network.parameterCount)
    }


    // MARK: - Training

    private func train() throws {
        let stepsPerEpoch = trainLoader.batchesPerEpoch
        let totalSteps = stepsPerEpoch * config.epochs
        speed.begin(totalSteps: totalSteps, doneSteps: globalStep)
        while epoch <= config.epochs {
            trainLoader.startEpoch(epoch, skipBatches: batchesDone)
            while batchesDone < stepsPerEpoch {
                if try atBatchBoundary() { return try stop() }
                let started = DispatchTime.now().uptimeNanoseconds
                guard let batch = trainLoader.next() else { break }
                let (batchLoss, correct) = try step(batch)
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
                let count = batch.count
                // Consumed: a copy still alive here would make the loader copy the arrays instead of refilling them.
                trainLoader.recycle(consume batch)
                try afterStep(batchLoss: batchLoss, correct: correct, count: count, seconds: seconds,
                              stepsPerEpoch: stepsPerEpoch, totalSteps: totalSteps)
            }
            try endEpoch()
        }
        if try atBatchBoundary() { return try stop() }
        events.post(.stateChanged(.finished))
        events.post(.finished(testAccuracy: lastTestAccuracy ?? 0))
    }

    /// One optimizer step on one batch; returns the batch's mean loss and how many it got right.
    private func step(_ batch: Batch) throws -> (Float, Int) {
        trainingStep.load(images: batch.images, labels: batch.labels, count: batch.count)
        do {
            let outcome = try trainingStep.train()
            return (outcome.loss, outcome.correct)
        } catch let error as TrainingStep.LossNotFinite {
            throw TrainingError.setup(message: "loss became \(error.loss) at epoch \(epoch), step \(batchesDone + 1) (learning rate \(optimizer.learningRate) too high?)")
        }
    }

    private func afterStep(batchLoss: Float, correct: Int, count: Int, seconds: Double, stepsPerEpoch: Int, totalSteps: Int) throws {
        let usedLearningRate = optimizer.learningRate
        optimizer.learningRate = schedule.stepBatch()
        batchesDone += 1
        globalStep += 1
        epochLossSum += Double(batchLoss) * Double(count)
        epochCorrect += correct
        epochSeen += count
        epochSeconds += seconds
        changedSinceSave = true
        speed.record(images: count, seconds: seconds)
        let accuracy = Float(correct) / Float(count)
        events.post(.step(StepEvent(
            epoch: epoch, step: batchesDone, stepsPerEpoch: stepsPerEpoch, globalStep: globalStep, totalSteps: totalSteps,
            loss: batchLoss, accuracy: accuracy, learningRate: usedLearningRate,
            imagesPerSecond: speed.imagesPerSecond, etaSeconds: speed.eta(doneSteps: globalStep))))
        if globalStep % config.metricsEvery == 0 {
            var record = MetricRecord(kind: .step, epoch: epoch, step: batchesDone, globalStep: globalStep, lr: usedLearningRate)
            record.loss = batchLoss
            record.accuracy = accuracy
            record.imagesPerSecond = speed.imagesPerSecond
            metrics.append(record)
        }
    }

    private func endEpoch() throws {
        let evaluationStarted = DispatchTime.now().uptimeNanoseconds
        let result = try evaluator.evaluate(network)
        epochSeconds += Double(DispatchTime.now().uptimeNanoseconds - evaluationStarted) / 1e9
        let trainLoss = epochSeen == 0 ? 0 : Float(epochLossSum / Double(epochSeen))
        let trainAccuracy = epochSeen == 0 ? 0 : Float(epochCorrect) / Float(epochSeen)
        let learningRate = optimizer.learningRate
        let isBest = bestTestAccuracy.map { result.accuracy > $0 } ?? true
        lastTestAccuracy = result.accuracy
        if isBest {
            bestTestAccuracy = result.accuracy
            bestEpoch = epoch
        }
        let imagesPerSecond = epochSeconds > 0 ? Double(epochSeen) / epochSeconds : 0
        events.post(.evaluation(EvaluationEvent(
            epoch: epoch, globalStep: globalStep, trainLoss: trainLoss, trainAccuracy: trainAccuracy,
            testLoss: result.loss, testAccuracy: result.accuracy, perClassAccuracy: result.perClassAccuracy,
            confusion: result.confusion, preview: result.preview, misclassified: result.misclassified,
            learningRate: learningRate, seconds: epochSeconds, imagesPerSecond: imagesPerSecond)))
        var record = MetricRecord(kind: .epoch, epoch: epoch, globalStep: globalStep, lr: learningRate)
        record.trainLoss = trainLoss
        record.trainAccuracy = trainAccuracy
        record.testLoss = result.loss
        record.testAccuracy = result.accuracy
        record.imagesPerSecond = imagesPerSecond
        record.seconds = epochSeconds
        metrics.append(record)

        // The plateau schedule watches the test loss; the others ignore the metric.
        let next = schedule.stepEpoch(metric: result.loss)
        optimizer.learningRate = next
        if next != learningRate { noteLearningRateChange(next, manual: false) }

        epoch += 1
        batchesDone = 0
        epochLossSum = 0
        epochCorrect = 0
        epochSeen = 0
        epochSeconds = 0
        try saveCheckpoint(markBest: isBest)
    }

    /// Manual changes and the schedule's per-epoch changes become events and `lr` metric lines; a
    /// per-batch schedule (warm-up, cosine) changes the rate every step, which step events and step
    /// lines carry instead of flooding the never-dropped queue.
    private func noteLearningRateChange(_ learningRate: Float, manual: Bool) {
        events.post(.learningRateChanged(learningRate, globalStep: globalStep, manual: manual))
        var record = MetricRecord(kind: .lr, epoch: epoch, globalStep: globalStep, lr: learningRate)
        record.lrChange = manual ? "manual" : "schedule"
        metrics.append(record)
        changedSinceSave = true
    }

    // MARK: - Commands

    /// Applies pending commands; blocks while paused. Returns true when the run should stop here.
    private func atBatchBoundary() throws -> Bool {
        while true {
            for command in commands.drain() {
                switch command {
                case .pause:
                    if !paused {
                        paused = true
                        events.post(.stateChanged(.paused))
                    }
                case .resume:
                    if paused {
                        paused = false
                        events.post(.stateChanged(.running))
                    }
                case let .setLearningRate(learningRate):
                    guard learningRate.isFinite, learningRate > 0 else { continue }
                    schedule.override(learningRate: learningRate)
                    optimizer.learningRate = learningRate
                    noteLearningRateChange(learningRate, manual: true)
                case .saveCheckpoint:
                    try saveCheckpoint(markBest: false)
                case .stop:
                    stopRequested = true
                }
            }
            if let limit = stopAtGlobalStep, globalStep >= limit { stopRequested = true }
            if stopRequested { return true }
            if !paused { return false }
            commands.waitForCommand()
        }
    }

    private func stop() throws {
        if changedSinceSave { try saveCheckpoint(markBest: false) }
        events.post(.stateChanged(.finished))
        events.post(.finished(testAccuracy: lastTestAccuracy ?? 0))
    }

    // MARK: - Checkpoints

    private func saveCheckpoint(markBest: Bool) throws {
        let state = TrainState(
            epoch: epoch, batchesDone: batchesDone, globalStep: globalStep, learningRate: optimizer.learningRate,
            schedule: schedule.state, networkRandom: network.random.source, epochLossSum: epochLossSum,
            epochCorrect: epochCorrect, epochSeen: epochSeen, epochSeconds: epochSeconds,
            lastTestAccuracy: lastTestAccuracy, bestTestAccuracy: bestTestAccuracy, bestEpoch: bestEpoch,
            metricsCount: metrics.records.count, finished: epoch > config.epochs, modelDigest: "", optimizerDigest: "")
        // Metrics first: they may run ahead of the checkpoint (a resume keeps only `metricsCount`), never behind it.
        try metrics.write()
        let directory = try CheckpointStore.save(session: session, model: network.root.stateDictEntries(),
                                                 optimizer: optimizer.stateEntries(), state: state, markBest: markBest)
        changedSinceSave = false
        events.post(.checkpointSaved(path: directory.path, globalStep: globalStep))
    }
}

/// Images per second as a moving average, and an ETA that ignores the first (warm-up) steps.
final class Throughput {
    private(set) var imagesPerSecond = 0.0
    private var totalSteps = 0
    private var measuredSteps = 0
    private var measuredSeconds = 0.0
    private var warmupLeft = 0
    private static let warmupSteps = 5
    private static let smoothing = 0.1

    func begin(totalSteps: Int, doneSteps: Int) {
        self.totalSteps = totalSteps
        warmupLeft = Self.warmupSteps
        measuredSteps = 0
        measuredSeconds = 0
        imagesPerSecond = 0
    }

    func record(images: Int, seconds: Double) {
        let rate = seconds > 0 ? Double(images) / seconds : 0
        imagesPerSecond = imagesPerSecond == 0 ? rate : imagesPerSecond + Self.smoothing * (rate - imagesPerSecond)
        if warmupLeft > 0 {
            warmupLeft -= 1
        } else {
            measuredSteps += 1
            measuredSeconds += seconds
        }
    }

    /// nil while warming up.
    func eta(doneSteps: Int) -> Double? {
        guard measuredSteps > 0 else { return nil }
        return Double(max(0, totalSteps - doneSteps)) * measuredSeconds / Double(measuredSteps)
    }
}
