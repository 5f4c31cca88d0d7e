import Data
import Engine
import Foundation
import Models

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
    /// Replaced at an epoch's end when the batch size was steered.
    private var trainLoader: BatchLoader
    private let evaluator: Evaluator
    private let metrics: MetricsLog
    private let eventFile: EventFile
    private let health: HealthLog
    private let trainingStep: TrainingStep
    private let onAnomaly: AnomalyAction
    private let layerViewInterval: Double
    private let rules: SteeringRules
    /// What the control endpoint's replies report.
    private let status: EngineStatusBoard
    /// Momentum, weight decay and batch size in force (a checkpoint saves them).
    private var steered: SteeredValues

    /// Where the run stands; a checkpoint records it whole. Changed only through `position`; the three
    /// below are read-only shorthands.
    private var position: RunPosition
    private var epoch: Int { position.epoch }
    private var batchesDone: Int { position.batchesDone }
    private var globalStep: Int { position.globalStep }

    // Per-process bookkeeping.
    private var paused = false
    private var stopRequested = false
    /// False right after a checkpoint, so a stop does not write the same state twice.
    private var changedSinceSave = true
    private let remaining = RemainingTime()
    /// What the layers page is looking at, if it is open.
    private var watchedLayer: LayerWatch? {
        didSet { if watchedLayer != oldValue { lastLayerView = nil } }
    }
    /// When the last layer view was taken (monotonic nanoseconds); nil: take one at the next boundary.
    private var lastLayerView: UInt64?
    /// A watch naming no layer or no test image: nothing is posted for it, and it is not tried again.
    private var unviewable: LayerWatch?

    private init(_ run: PreparedRun, request: RunRequest, events: EventChannel, commands: CommandQueue,
                 status: EngineStatusBoard) {
        self.status = status
        rules = run.rules
        steered = run.steered
        self.stopAtGlobalStep = request.stopAtGlobalStep
        onAnomaly = request.onAnomaly
        layerViewInterval = request.layerViewInterval
        health = run.health
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
        eventFile = run.eventFile
        trainingStep = TrainingStep(network: run.network, optimizer: run.optimizer,
                                    loss: CrossEntropyLoss(labelSmoothing: run.config.labelSmoothing))
        position = run.resumedFrom?.position ?? RunPosition()
        changedSinceSave = run.resumedFrom == nil
    }

    /// The engine thread's body: prepare, announce, train; any error ends the run with `.failed`.
    /// The run serves its control endpoint from the moment it is prepared until this returns: every exit
    /// (finished, stopped, failed) removes the socket and control.json.
    static func run(_ request: RunRequest, events: EventChannel, commands: CommandQueue) {
        events.post(.stateChanged(.starting))
        let status = EngineStatusBoard()
        let prepared: PreparedRun
        // An image folder's first decoding takes seconds: its progress goes out before the run is announced.
        let decodingStart = DispatchTime.now().uptimeNanoseconds
        let decodeProgress: DecodeProgress = { done, total in
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - decodingStart) / 1e9
            events.post(.decoding(DecodingProgress(done: done, total: total, seconds: seconds)))
        }
        do { prepared = try PreparedRun(request, decodeProgress: decodeProgress) } catch {
            events.post(.failed(message: "\(error)"))
            return
        }
        let loop = TrainingLoop(prepared, request: request, events: events, commands: commands, status: status)
        // A run without an endpoint still trains; it says why in its description.
        var endpoint: ControlEndpoint?
        var problem: String?
        do {
            endpoint = try ControlEndpoint.open(session: prepared.session, commands: commands, rules: prepared.rules,
                                                status: status)
        } catch { problem = "\(error)" }
        defer { endpoint?.close() }
        do {
            try loop.post(.started(loop.description(classNames: prepared.classNames, controlSocket: endpoint?.socketPath,
                                                    controlProblem: problem)))
            try loop.post(.stateChanged(.running))
            try loop.train()
        } catch {
            loop.fail(message: "\(error)")
        }
    }

    /// Tells the control endpoint's status board, the consumers in this process, then the session's events
    /// file (for those in others).
    private func post(_ event: TrainingEvent) throws {
        switch event {
        case let .stateChanged(state): status.update { $0.state = state }
        case let .step(step): status.update { $0.epoch = step.epoch; $0.globalStep = step.globalStep }
        case .finished: status.update { $0.state = .finished }
        case .failed: status.update { $0.state = .failed }
        default: break
        }
        events.post(event)
        try eventFile.append(event)
    }

    /// The run's last event. The file gets it if it can: the error may be the file's own.
    private func fail(message: String) {
        let failed = TrainingEvent.failed(message: message)
        status.update { $0.state = .failed }
        events.post(failed)
        try? eventFile.append(failed)
    }

    private func description(classNames: [String], controlSocket: String?, controlProblem: String?) -> RunDescription {
        RunDescription(sessionID: session.id, sessionPath: session.url.path, model: config.model, dataset: config.dataset,
                       classNames: classNames, epochs: config.epochs, batchSize: steered.batchSize,
                       stepsPerEpoch: trainLoader.batchesPerEpoch, stepsPerRecord: config.metricsEvery, startEpoch: epoch,
                       optimizer: config.optimizer.rawValue, schedule: config.schedule,
                       learningRate: optimizer.learningRate, parameterCount: network.parameterCount,
                       layers: Self.layers(of: network), momentum: steered.momentum, weightDecay: steered.weightDecay,
                       steering: rules, controlSocket: controlSocket, controlProblem: controlProblem)
    }

    /// The summary's rows (the same walk `cnntui summary` prints); none if the summary cannot be made.
    static func layers(of network: Network) -> [LayerInfo] {
        guard let summary = try? ModelSummary.make(network: network, batchSize: 1) else { return [] }
        return summary.rows.map {
            LayerInfo(path: $0.name, type: $0.type, depth: $0.depth, outputShape: $0.outputShape, parameterCount: $0.params)
        }
    }


    // MARK: - Training

    private func train() throws {
        remaining.begin(totalSteps: plannedSteps())
        while epoch <= config.epochs {
            // Both follow a steered batch size from the epoch it applies to.
            let stepsPerEpoch = trainLoader.batchesPerEpoch
            var totalSteps: Int { remaining.totalSteps }
            trainLoader.startEpoch(epoch, skipBatches: batchesDone)
            while batchesDone < stepsPerEpoch {
                if try atBatchBoundary() { return try stop() }
                let started = DispatchTime.now().uptimeNanoseconds
                guard let batch = trainLoader.next() else { break }
                let outcome: (Float, Int)?
                do { outcome = try step(batch) } catch let found as TrainingStep.NotFinite {
                    trainLoader.recycle(consume batch)
                    if try anomaly(found, stepsPerEpoch: stepsPerEpoch, totalSteps: totalSteps) { return }
                    continue
                }
                guard let (batchLoss, correct) = outcome else { break }
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
        try post(.finished(testAccuracy: position.lastTestAccuracy ?? 0))
    }

    /// The run's steps: those done, the rest of this epoch, and the epochs left at the batch size they will use.
    private func plannedSteps() -> Int {
        let thisEpoch = trainLoader.batchesPerEpoch
        let later = trainLoader.batchesPerEpoch(batchSize: steered.nextBatchSize ?? steered.batchSize)
        return globalStep + max(0, thisEpoch - batchesDone) + max(0, config.epochs - epoch) * later
    }

    /// One optimizer step on one batch; returns the batch's mean loss and how many it got right. A step that
    /// ends a record window also measures the network's health.
    private func step(_ batch: Batch) throws -> (Float, Int) {
        trainingStep.load(images: batch.images, labels: batch.labels, count: batch.count)
        trainingStep.recordHealth = (globalStep + 1) % config.metricsEvery == 0
        let outcome = try trainingStep.train()
        return (outcome.loss, outcome.correct)
    }

    /// A step found a NaN or an infinity and updated nothing. Pausing: tell, pause, skip the batch (it counts
    /// as a step without figures, so the schedule stays in line); returns false. Stopping: tell, write the
    /// logs and `stopped.json` but no checkpoint (the last good one stays `last`), end with `.failed`; true.
    private func anomaly(_ found: TrainingStep.NotFinite, stepsPerEpoch: Int, totalSteps: Int) throws -> Bool {
        let anomaly = Anomaly(epoch: epoch, globalStep: globalStep + 1, layer: found.layer, message: found.message)
        try post(.anomaly(anomaly))
        switch onAnomaly {
        case .pause:
            optimizer.learningRate = schedule.stepBatch()
            position.batchesDone += 1
            position.globalStep += 1
            changedSinceSave = true
            try post(.step(StepEvent(epoch: epoch, step: batchesDone, stepsPerEpoch: stepsPerEpoch, globalStep: globalStep,
                                        totalSteps: totalSteps, etaSeconds: remaining.eta(doneSteps: globalStep))))
            if !paused {
                paused = true
                try post(.stateChanged(.paused))
            }
            return false
        case .stop:
            try metrics.write()
            try health.write()
            try JSONFile.write(StopReason(reason: "anomaly", epoch: anomaly.epoch, globalStep: anomaly.globalStep,
                                          layer: anomaly.layer, message: anomaly.message), to: session.stoppedURL)
            try post(.failed(message: "\(anomaly.message) at epoch \(anomaly.epoch), step \(anomaly.globalStep) "
                                + "(first in layer \(anomaly.layer); learning rate \(optimizer.learningRate) too high?); "
                                + "not saved: the last checkpoint is the last good state"))
            return true
        }
    }

    private func afterStep(batchLoss: Float, correct: Int, count: Int, seconds: Double, stepsPerEpoch: Int, totalSteps: Int) throws {
        let usedLearningRate = optimizer.learningRate
        optimizer.learningRate = schedule.stepBatch()
        position.batchesDone += 1
        position.globalStep += 1
        position.epochTotals.add(batchLoss: batchLoss, correct: correct, count: count, seconds: seconds)
        position.recordWindow.add(batchLoss: batchLoss, correct: correct, count: count, seconds: seconds)
        changedSinceSave = true
        remaining.record(seconds: seconds)
        try post(.step(StepEvent(epoch: epoch, step: batchesDone, stepsPerEpoch: stepsPerEpoch, globalStep: globalStep,
                                    totalSteps: totalSteps, etaSeconds: remaining.eta(doneSteps: globalStep))))
        if globalStep % config.metricsEvery == 0 {
            let window = position.recordWindow
            let record = StepRecord(epoch: epoch, step: batchesDone, globalStep: globalStep, loss: window.meanLoss,
                                    accuracy: window.accuracy, imagesPerSecond: window.imagesPerSecond,
                                    learningRate: usedLearningRate)
            position.recordWindow = StepTally()
            try post(.record(record))
            metrics.append(MetricRecord(record))
            if let measured = trainingStep.health {
                let healthRecord = HealthRecord(epoch: epoch, globalStep: globalStep, layers: measured.layers,
                                                rectifiers: measured.rectifiers)
                health.append(healthRecord)
                try post(.health(healthRecord))
            }
        }
    }

    private func endEpoch() throws {
        let evaluationStarted = DispatchTime.now().uptimeNanoseconds
        let result = try evaluator.evaluate(network)
        position.epochTotals.seconds += Double(DispatchTime.now().uptimeNanoseconds - evaluationStarted) / 1e9
        let totals = position.epochTotals
        let trainLoss = totals.meanLoss
        let trainAccuracy = totals.accuracy
        let learningRate = optimizer.learningRate
        let isBest = position.bestTestAccuracy.map { result.accuracy > $0 } ?? true
        position.lastTestAccuracy = result.accuracy
        if isBest {
            position.bestTestAccuracy = result.accuracy
            position.bestEpoch = epoch
        }
        let imagesPerSecond = totals.imagesPerSecond
        try post(.evaluation(EvaluationEvent(
            epoch: epoch, globalStep: globalStep, trainLoss: trainLoss, trainAccuracy: trainAccuracy,
            testLoss: result.loss, testAccuracy: result.accuracy, perClassAccuracy: result.perClassAccuracy,
            confusion: result.confusion, preview: result.preview, misclassified: result.misclassified,
            leastSure: result.leastSure,
            learningRate: learningRate, seconds: totals.seconds, imagesPerSecond: imagesPerSecond)))
        var record = MetricRecord(kind: .epoch, epoch: epoch, globalStep: globalStep, lr: learningRate)
        record.trainLoss = trainLoss
        record.trainAccuracy = trainAccuracy
        record.testLoss = result.loss
        record.testAccuracy = result.accuracy
        record.imagesPerSecond = imagesPerSecond
        record.seconds = totals.seconds
        metrics.append(record)

        // The plateau schedule watches the test loss; the others ignore the metric.
        let next = schedule.stepEpoch(metric: result.loss)
        optimizer.learningRate = next
        if next != learningRate { try noteLearningRateChange(next, manual: false) }

        position.epoch += 1
        position.batchesDone = 0
        position.epochTotals = StepTally()
        // A batch size set during the epoch applies from here; the checkpoint below records it in force.
        if let next = steered.nextBatchSize {
            steered.nextBatchSize = nil
            if next != steered.batchSize {
                steered.batchSize = next
                trainLoader = trainLoader.resized(batchSize: next)
            }
        }
        try saveCheckpoint(markBest: isBest)
    }

    /// Manual changes and the schedule's per-epoch changes become events and `lr` metric lines; a
    /// per-batch schedule (warm-up, cosine) changes the rate every step, which step records carry
    /// instead of flooding the never-dropped queue.
    private func noteLearningRateChange(_ learningRate: Float, manual: Bool) throws {
        try post(.learningRateChanged(learningRate, globalStep: globalStep, manual: manual))
        var record = MetricRecord(kind: .lr, epoch: epoch, globalStep: globalStep, lr: learningRate)
        record.lrChange = manual ? "manual" : "schedule"
        if manual { record.time = Date().timeIntervalSince1970 }
        metrics.append(record)
        changedSinceSave = true
        // What a person did is on disk at once (a viewer, `cat metrics.jsonl`), not only at the next checkpoint.
        if manual { try metrics.write() }
    }

    /// Applies a steered value that `rules` accepts (the senders checked it; anything else is ignored here).
    private func steer(_ field: Hyperparameter, _ value: Double) throws {
        guard rules.problem(field, value) == nil else { return }
        switch field {
        case .learningRate:
            let learningRate = Float(value)
            schedule.override(learningRate: learningRate)
            optimizer.learningRate = learningRate
            try noteLearningRateChange(learningRate, manual: true)
            return
        case .momentum: steered.momentum = value
        case .weightDecay: steered.weightDecay = value
        case .batchSize: steered.nextBatchSize = Int(value)
        }
        steered.apply(to: optimizer)
        if field == .batchSize { remaining.retarget(totalSteps: plannedSteps()) }
        try post(.hyperparameterChanged(field, value, globalStep: globalStep))
        var record = MetricRecord(kind: .set, epoch: epoch, globalStep: globalStep, lr: optimizer.learningRate)
        record.field = field
        record.value = value
        record.time = Date().timeIntervalSince1970
        metrics.append(record)
        changedSinceSave = true
        try metrics.write()
    }

    /// Records a pause, resume, save or stop that was carried out: an event and a `command` line in the metrics.
    private func noteCommand(_ command: AppliedCommand) throws {
        try post(.commandApplied(command, globalStep: globalStep))
        var record = MetricRecord(kind: .command, epoch: epoch, globalStep: globalStep, lr: optimizer.learningRate)
        record.command = command
        record.time = Date().timeIntervalSince1970
        metrics.append(record)
        try metrics.write()
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
                        try post(.stateChanged(.paused))
                        try noteCommand(.pause)
                    }
                case .resume:
                    if paused {
                        paused = false
                        try post(.stateChanged(.running))
                        try noteCommand(.resume)
                    }
                case let .setLearningRate(learningRate):
                    try steer(.learningRate, Double(learningRate))
                case let .set(field, value):
                    try steer(field, value)
                case .saveCheckpoint:
                    // Recorded first, so the checkpoint's metrics include it.
                    try noteCommand(.save)
                    try saveCheckpoint(markBest: false)
                case .stop:
                    if !stopRequested { try noteCommand(.stop) }
                    stopRequested = true
                case let .watchLayer(watch):
                    watchedLayer = watch
                }
            }
            if let limit = stopAtGlobalStep, globalStep >= limit { stopRequested = true }
            if stopRequested { return true }
            try refreshLayerView()
            if !paused { return false }
            commands.waitForCommand()
        }
    }

    /// Posts the watched layer's view when one is watched and the last is `layerViewInterval` old (or
    /// the watch just changed): one test image through the network in inference mode, which changes no number
    /// of the training. Nothing is watched: returns at the first line.
    private func refreshLayerView() throws {
        guard let watch = watchedLayer, watch != unviewable else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        if let last = lastLayerView, Double(now - last) < layerViewInterval * 1e9 { return }
        lastLayerView = now
        guard let image = evaluator.image(at: watch.testIndex),
              let view = try trainingStep.probe.layerView(path: watch.layer, image: image, testIndex: watch.testIndex,
                                                          globalStep: globalStep)
        else {
            unviewable = watch
            return
        }
        try post(.layerView(view))
    }

    private func stop() throws {
        if changedSinceSave { try saveCheckpoint(markBest: false) }
        try post(.finished(testAccuracy: position.lastTestAccuracy ?? 0))
    }

    // MARK: - Checkpoints

    private func saveCheckpoint(markBest: Bool) throws {
        // The checkpoint records the events file's length with its own `checkpoint` line in it, so a run resumed
        // from it keeps that line (a viewer's Grad-CAM loads the weights it names) and nothing after it.
        try eventFile.writeHeldStep()
        let directory = CheckpointStore.nextDirectory(of: session)
        let saved = TrainingEvent.checkpointSaved(path: directory.path, globalStep: globalStep)
        let savedLine = try eventFile.line(for: saved)
        let state = TrainState(position: position, learningRate: optimizer.learningRate, schedule: schedule.state,
                               networkRandom: network.random.source, metricsCount: metrics.records.count,
                               finished: epoch > config.epochs, eventsLength: eventFile.length + savedLine.count,
                               steered: steered)
        // Metrics first: they may run ahead of the checkpoint (a resume keeps only `metricsCount`), never behind it.
        try metrics.write()
        try health.write()
        try CheckpointStore.save(session: session, model: network.root.stateDictEntries(), optimizer: optimizer.stateEntries(),
                                 state: state, markBest: markBest, into: directory)
        changedSinceSave = false
        events.post(saved)
        try eventFile.write(savedLine)
    }
}

/// The time left, from the mean step time so far; the first (warm-up) steps do not count.
final class RemainingTime {
    private(set) var totalSteps = 0
    private var measuredSteps = 0
    private var measuredSeconds = 0.0
    private var warmupLeft = 0
    private static let warmupSteps = 5

    func begin(totalSteps: Int) {
        self.totalSteps = totalSteps
        warmupLeft = Self.warmupSteps
        measuredSteps = 0
        measuredSeconds = 0
    }

    /// A new total (the batch size was steered); the step times measured so far still hold.
    func retarget(totalSteps: Int) { self.totalSteps = totalSteps }

    func record(seconds: Double) {
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
