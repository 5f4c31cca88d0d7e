import Foundation
import Training

/// A session's history read back from its files, as the events a live run posted: the dashboard shows a finished
/// session with the same screens. From its events file when that holds the whole run (everything the live
/// dashboard had: per-class accuracy, the confusion matrix, the images); else, for sessions from before events
/// files, from config.json, dataset.json and metrics.jsonl, which keep loss, accuracy and learning rate only.
public enum SessionHistory {
    public static func model(of session: Session) throws -> DashboardModel {
        var model = DashboardModel.folding(try events(of: session))
        model.isHistory = true
        return model
    }

    public static func events(of session: Session) throws -> [TrainingEvent] {
        if let recorded = try recordedEvents(of: session) { return recorded }
        let config = try session.readConfig()
        let classNames = (try? session.readDataset().classNames) ?? []
        let records = try MetricsLog.read(session.metricsJSONLURL)
        return events(config: config, classNames: classNames, records: records, session: session)
    }

    /// The events file's events, when its first line starts the run at its first epoch (a run resumed from a
    /// checkpoint older than events files has only its later part there); nil otherwise. A run that did not
    /// write its last event ends `interrupted`: no process writes this session any more (`open` resumes a session
    /// it can, so it shows this only for one without a checkpoint).
    static func recordedEvents(of session: Session) throws -> [TrainingEvent]? {
        let lines = try SessionEvents.read(session.eventsURL)
        guard case .started(let run)? = lines.first?.event, run.startEpoch == 1 else { return nil }
        var events = lines.map(\.event)
        switch events.last {
        case .finished?, .failed?: break
        default: events.append(.stateChanged(.interrupted))
        }
        return events
    }

    static func events(config: TrainingConfig, classNames: [String], records: [MetricRecord],
                       session: Session) -> [TrainingEvent] {
        // The first epoch record's step count is the epoch length (the loader's, limits and drop-last included).
        let firstEpoch = records.first { $0.kind == .epoch }
        let stepsPerEpoch = max(1, firstEpoch.map { $0.globalStep / max(1, $0.epoch) } ?? records.compactMap(\.step).max() ?? 1)
        let totalSteps = stepsPerEpoch * config.epochs
        let summary = session.summary()
        var events: [TrainingEvent] = [.started(RunDescription(
            sessionID: session.id, sessionPath: session.url.path, model: config.model, dataset: config.dataset,
            classNames: classNames, epochs: config.epochs, batchSize: config.batchSize, stepsPerEpoch: stepsPerEpoch,
            stepsPerRecord: config.metricsEvery, startEpoch: 1, optimizer: config.optimizer.rawValue,
            schedule: config.schedule, learningRate: config.learningRate, parameterCount: 0))]
        for r in records {
            switch r.kind {
            case .step:
                guard let record = r.stepRecord else { continue }
                events.append(.step(StepEvent(epoch: r.epoch, step: record.step, stepsPerEpoch: stepsPerEpoch,
                                              globalStep: r.globalStep, totalSteps: totalSteps, etaSeconds: nil)))
                events.append(.record(record))
            case .epoch:
                guard let testLoss = r.testLoss, let testAccuracy = r.testAccuracy else { continue }
                events.append(.evaluation(EvaluationEvent(
                    epoch: r.epoch, globalStep: r.globalStep, trainLoss: r.trainLoss ?? .nan,
                    trainAccuracy: r.trainAccuracy ?? .nan, testLoss: testLoss, testAccuracy: testAccuracy,
                    perClassAccuracy: [], confusion: [], preview: [], misclassified: [], learningRate: r.lr,
                    seconds: r.seconds ?? 0, imagesPerSecond: r.imagesPerSecond ?? 0)))
                // The header's step counter comes from the last step event: end the epoch there.
                events.append(.step(StepEvent(epoch: r.epoch, step: stepsPerEpoch, stepsPerEpoch: stepsPerEpoch,
                                              globalStep: r.globalStep, totalSteps: totalSteps, etaSeconds: nil)))
            case .lr:
                events.append(.learningRateChanged(r.lr, globalStep: r.globalStep, manual: r.lrChange == "manual"))
            case .set:
                guard let field = r.field, let value = r.value else { continue }
                events.append(.hyperparameterChanged(field, value, globalStep: r.globalStep))
            case .command:
                guard let command = r.command else { continue }
                events.append(.commandApplied(command, globalStep: r.globalStep))
            }
        }
        if summary.finished {
            events.append(.finished(testAccuracy: summary.lastTestAccuracy ?? lastEpochAccuracy(records) ?? 0))
        } else {
            events.append(.stateChanged(.paused))
        }
        return events
    }

    /// The test accuracy of the last epoch the metrics hold.
    private static func lastEpochAccuracy(_ records: [MetricRecord]) -> Float? {
        records.last { $0.kind == .epoch }?.testAccuracy
    }
}
