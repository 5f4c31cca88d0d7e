import Foundation

/// A cnntui session as a TensorBoard event file, so the run opens in the tool most users already have
/// (`tensorboard --logdir DIR`):
///
///     train/loss, train/accuracy, train/lr   every step record of metrics.jsonl (means over `metrics_every` steps)
///     train/lr_set_by_hand                   each learning rate set by hand during the run
///     test/loss, test/accuracy               every epoch's evaluation
///     test/confusion_matrix                  every epoch's confusion matrix as a heat map (`ConfusionPicture`)
///
/// Steps are the run's global steps, so test points sit at the end of their epoch on the same axis as the
/// training curves; accuracies are fractions, as in the metrics. Wall times are the session's own: each line's
/// time in events.jsonl, else a time the metrics record, else interpolated between those (see `WallClock`).
/// The scalars come from metrics.jsonl (what the last checkpoint covers), then, for a run still training, the
/// records and evaluations its events file already has beyond them; confusion matrices come from the events
/// file's evaluation lines (a session from before events files exports its scalars only).
public enum TensorBoardExport {
    public enum Tag {
        public static let trainLoss = "train/loss"
        public static let trainAccuracy = "train/accuracy"
        public static let learningRate = "train/lr"
        public static let learningRateSetByHand = "train/lr_set_by_hand"
        public static let testLoss = "test/loss"
        public static let testAccuracy = "test/accuracy"
        public static let confusionMatrix = "test/confusion_matrix"
    }

    /// What an export wrote.
    public struct Written: Sendable, Equatable {
        /// The event file.
        public var file: URL
        /// Scalar points over all tags.
        public var scalars: Int
        /// Confusion-matrix pictures (one per evaluated epoch whose matrix the events file holds).
        public var images: Int
        /// The tags written, in first-written order.
        public var tags: [String]
    }

    /// Writes `session`'s event file into `directory` (created if missing) atomically, named
    /// `events.out.tfevents.<session start, Unix seconds>.<host>`: exporting the same run again replaces its
    /// file rather than adding a second copy TensorBoard would draw twice. Throws naming a session file that
    /// cannot be read.
    public static func write(session url: URL, to directory: URL) throws -> Written {
        let session = Session(id: url.lastPathComponent, url: url)
        _ = try session.readConfig()  // a cnntui session at all, else say so naming config.json
        let records = try MetricsLog.read(session.metricsJSONLURL)
        let lines = try SessionEvents.read(session.eventsURL)
        let clockStart = lines.first?.time ?? modificationTime(session.configURL) ?? 0
        let events = self.events(records: records, lines: lines, start: clockStart)

        let start = events.first?.wallTime ?? clockStart
        let file = directory.appendingPathComponent("events.out.tfevents.\(String(format: "%010ld", Int(start))).\(hostName())")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw TrainingError.session(path: directory.path, message: "cannot create: \(error.localizedDescription)")
        }
        var data = Data()
        for event in events { data.append(event.record()) }
        try AtomicFile.write(data, to: file)

        var tags: [String] = []
        for tag in events.compactMap(\.tag) where !tags.contains(tag) { tags.append(tag) }
        let images = events.filter { if case .image = $0.content { true } else { false } }.count
        return Written(file: file, scalars: events.count - 1 - images, images: images, tags: tags)
    }

    /// The file's events: the version first, then the run's points in the order the run made them. `start`
    /// is the session's first known time, for points no time can be found for.
    static func events(records: [MetricRecord], lines: [SessionEvents.Line], start: Double) -> [TensorBoardEvent] {
        // What the events file knows: when each record and evaluation was made, and the confusion matrices.
        var recordTimes: [Int: Double] = [:], manualRateTimes: [Int: Double] = [:]
        var evaluations: [Int: (time: Double, evaluation: EvaluationEvent)] = [:]
        for line in lines {
            switch line.event {
            case .record(let record): recordTimes[record.globalStep] = line.time
            case .evaluation(let evaluation): evaluations[evaluation.epoch] = (line.time, evaluation)
            case .learningRateChanged(_, let step, true): manualRateTimes[step] = line.time
            default: break
            }
        }

        var points: [WallClock.Point] = []
        func addRecord(_ record: StepRecord, time: Double?) {
            for (tag, value) in [(Tag.trainLoss, record.loss), (Tag.trainAccuracy, record.accuracy),
                                 (Tag.learningRate, record.learningRate)] {
                points.append(.init(step: record.globalStep, time: time, content: .scalar(tag: tag, value: value)))
            }
        }
        func addEvaluation(epoch: Int, step: Int, testLoss: Float, testAccuracy: Float, time: Double?) {
            points.append(.init(step: step, time: time, content: .scalar(tag: Tag.testLoss, value: testLoss)))
            points.append(.init(step: step, time: time, content: .scalar(tag: Tag.testAccuracy, value: testAccuracy)))
            if let confusion = evaluations[epoch]?.evaluation.confusion, !confusion.isEmpty {
                let picture = ConfusionPicture(confusion: confusion)
                let png = PNGWriter.encode(width: picture.width, height: picture.height, rgb: picture.rgb)
                points.append(.init(step: step, time: time, content: .image(tag: Tag.confusionMatrix, width: picture.width,
                                                                            height: picture.height, channels: 3, encoded: png)))
            }
        }

        for r in records {
            switch r.kind {
            case .step:
                if let record = r.stepRecord { addRecord(record, time: recordTimes[r.globalStep]) }
            case .epoch:
                guard let testLoss = r.testLoss, let testAccuracy = r.testAccuracy else { continue }
                addEvaluation(epoch: r.epoch, step: r.globalStep, testLoss: testLoss, testAccuracy: testAccuracy,
                              time: evaluations[r.epoch]?.time)
            case .lr where r.lrChange == "manual":
                points.append(.init(step: r.globalStep, time: r.time ?? manualRateTimes[r.globalStep],
                                    content: .scalar(tag: Tag.learningRateSetByHand, value: r.lr)))
            case .lr, .set, .command:
                break
            }
        }
        // A run still training rewrites its metrics at checkpoints only; its events file is already further.
        let lastStep = records.map(\.globalStep).max() ?? 0
        let lastEpoch = records.filter { $0.kind == .epoch }.map(\.epoch).max() ?? 0
        for line in lines {
            switch line.event {
            case .record(let record) where record.globalStep > lastStep:
                addRecord(record, time: line.time)
            case .evaluation(let e) where e.epoch > lastEpoch:
                addEvaluation(epoch: e.epoch, step: e.globalStep, testLoss: e.testLoss, testAccuracy: e.testAccuracy, time: line.time)
            case .learningRateChanged(let rate, let step, true) where step > lastStep:
                points.append(.init(step: step, time: line.time, content: .scalar(tag: Tag.learningRateSetByHand, value: rate)))
            default:
                break
            }
        }

        let epochEnds = records.filter { $0.kind == .epoch }.map { (step: $0.globalStep, seconds: $0.seconds ?? 0) }
        let times = WallClock.times(of: points, start: start, epochEnds: epochEnds)
        let first = times.min() ?? start
        return [TensorBoardEvent(wallTime: first, step: 0, content: .fileVersion(TensorBoardEvent.fileVersion))]
            + zip(points, times).map { TensorBoardEvent(wallTime: $1, step: $0.step, content: $0.content) }
    }

    /// This machine's name, as TensorBoard's own writers put it in their file names.
    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let safe = name.replacingOccurrences(of: "/", with: "_")
        return safe.isEmpty ? "localhost" : safe
    }

    private static func modificationTime(_ url: URL) -> Double? {
        var info = stat()
        guard stat(url.path, &info) == 0 else { return nil }
        return Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
    }
}

/// Wall times for an export's points. A point made at a known time keeps it; one without (a session from
/// before events files, or a line missing from one) gets the time interpolated by global step between the
/// nearest known points before and after it, or the nearest one's time at either end. With no known time at
/// all, the epochs' durations laid end to end from `start` are the known points.
enum WallClock {
    struct Point {
        var step: Int
        var time: Double?
        var content: TensorBoardEvent.Content
    }

    static func times(of points: [Point], start: Double, epochEnds: [(step: Int, seconds: Double)]) -> [Double] {
        var known = points.compactMap { point in point.time.map { (step: point.step, time: $0) } }
        if known.isEmpty {
            known = [(0, start)]
            var elapsed = 0.0
            for end in epochEnds {
                elapsed += end.seconds
                known.append((end.step, start + elapsed))
            }
        }
        // Known times by step; where several share a step, the earliest.
        let anchors = Dictionary(known.map { ($0.step, $0.time) }, uniquingKeysWith: { Swift.min($0, $1) }).sorted { $0.key < $1.key }
        return points.map { point in
            if let time = point.time { return time }
            let after = anchors.firstIndex { $0.key >= point.step }
            guard let after else { return anchors.last?.value ?? start }
            let next = anchors[after]
            guard after > 0, next.key != point.step else { return next.value }
            let previous = anchors[after - 1]
            let fraction = Double(point.step - previous.key) / Double(next.key - previous.key)
            return previous.value + (next.value - previous.value) * fraction
        }
    }
}
