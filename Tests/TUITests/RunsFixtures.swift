import Foundation
import Training
@testable import TUI

/// Runs for the runs screen (fixed rows, no files) and session directories for comparisons (real files in
/// a temporary directory, read back by `ComparedRun` as a user's would be).
enum RunsSample {
    static func date(_ id: String) -> Date? {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.dateFormat = "yyyyMMdd-HHmmss"
        return f.date(from: String(id.prefix(15)))
    }

    static func run(_ id: String, model: String, dataset: String, epochs: Int, done: Int?, best: Float?, last: Float?,
                    status: RunStatus, size: Int64) -> RunInfo {
        let summary = SessionSummary(id: id, path: "/home/me/Sessions/\(id)", model: model, dataset: dataset, epochs: epochs,
                                     epochsDone: done, globalStep: done.map { $0 * 469 }, lastTestAccuracy: last,
                                     bestTestAccuracy: best, finished: status == .finished)
        return RunInfo(session: Session(id: id, url: URL(fileURLWithPath: "/home/me/Sessions/\(id)")), summary: summary,
                       status: status, started: date(id), sizeBytes: size)
    }

    /// Five runs in start order: finished ones, an interrupted one, a live one and a new one.
    static let runs: [RunInfo] = [
        run("20261120-091500-mycnn-fashion-mnist", model: "mycnn", dataset: "fashion-mnist", epochs: 10, done: 10,
            best: 0.9132, last: 0.9101, status: .finished, size: 4_718_592),
        run("20261121-140210-resnet-2-2-2-cifar10", model: "resnet-2-2-2", dataset: "cifar10", epochs: 30, done: 12,
            best: 0.8120, last: 0.8044, status: .interrupted, size: 36_700_160),
        run("20261122-080000-mycnn-fashion-mnist", model: "mycnn", dataset: "fashion-mnist", epochs: 10, done: 10,
            best: 0.9217, last: 0.9217, status: .finished, size: 4_718_592),
        run("20261123-200555-shufflenet-v2-cifar10", model: "shufflenet-v2", dataset: "cifar10", epochs: 40, done: 3,
            best: 0.5511, last: 0.5511, status: .running(pid: 48213), size: 12_582_912),
        run("20261123-210000-vgg11-cifar10", model: "vgg11", dataset: "cifar10", epochs: 20, done: nil, best: nil, last: nil,
            status: .new, size: 8_192),
    ]

    static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                             "Ankle boot"]

    /// Writes a session as a run leaves it: config.json, dataset.json, metrics.jsonl (step records every 5 of
    /// 20 steps an epoch, an epoch line each), a `last` checkpoint's train_state.json and, when
    /// `perClass`, an events.jsonl whose evaluation lines hold per-class accuracy.
    static func writeSession(root: URL, id: String, learningRate: Float, schedule: String = "constant", epochs: Int,
                             done: Int, rate: Double, secondsPerEpoch: Double, perClass: Bool) throws -> Session {
        let session = Session(id: id, url: root.appendingPathComponent(id))
        let fm = FileManager.default
        try fm.createDirectory(at: session.checkpointsURL, withIntermediateDirectories: true)
        let config = TrainingConfig(model: "mycnn", dataset: "fashion-mnist", epochs: epochs, batchSize: 64, optimizer: .sgd,
                                    learningRate: learningRate, momentum: 0.9, schedule: schedule, limitTrain: 1280,
                                    limitTest: 500, metricsEvery: 5, versions: ["cnntui": "0.1.0", "session_format": "1"])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(config).write(to: session.configURL)
        let names = classNames.map { "\"\($0)\"" }.joined(separator: ",")
        try Data("""
            {"name":"fashion-mnist","class_names":[\(names)],"shape":[1,28,28],"mean":[0.286],"std":[0.353],
             "train_count":1280,"test_count":500}
            """.utf8).write(to: session.datasetURL)
        var lines: [String] = []
        var events: [String] = []
        let steps = 20
        for epoch in 1...max(1, done) where done > 0 {
            for step in stride(from: 5, through: steps, by: 5) {
                let g = (epoch - 1) * steps + step
                var r = MetricRecord(kind: .step, epoch: epoch, step: step, globalStep: g, lr: learningRate)
                r.loss = Float(2.3 * exp(-rate * Double(g) / 20) + 0.25)
                r.accuracy = Float(0.92 - 0.8 * exp(-rate * Double(g) / 20))
                r.imagesPerSecond = 64 * 20 / secondsPerEpoch
                lines.append(String(decoding: try encoder.encode(r), as: UTF8.self))
            }
            var e = MetricRecord(kind: .epoch, epoch: epoch, globalStep: epoch * steps, lr: learningRate)
            e.trainLoss = Float(2.3 * exp(-rate * Double(epoch)) + 0.3)
            e.trainAccuracy = Float(0.9 - 0.8 * exp(-rate * Double(epoch)))
            e.testLoss = Float(2.3 * exp(-rate * Double(epoch)) + 0.35)
            let accuracy = Float(0.88 - 0.78 * exp(-rate * Double(epoch)))
            e.testAccuracy = accuracy
            e.seconds = secondsPerEpoch * (1 + 0.1 * Double(epoch))
            e.imagesPerSecond = 64 * 20 / secondsPerEpoch
            lines.append(String(decoding: try encoder.encode(e), as: UTF8.self))
            let perClass = (0..<10).map { c in String(format: "%.4f", min(1, Double(accuracy) * (0.8 + 0.04 * Double((c * 7 + epoch) % 10)))) }
            events.append("""
                {"v":1,"time":1700000000,"type":"evaluation","epoch":\(epoch),"test_accuracy":\(accuracy),"per_class_accuracy":[\(perClass.joined(separator: ","))]}
                """)
            events.append("{\"v\":1,\"time\":1700000001,\"type\":\"checkpoint\",\"path\":\"ckpt\",\"global_step\":\(epoch * steps)}")
        }
        try Data((lines.map { $0 + "\n" }.joined()).utf8).write(to: session.metricsJSONLURL)
        if perClass { try Data((events.map { $0 + "\n" }.joined()).utf8).write(to: session.eventsURL) }
        if done > 0 {
            let ckpt = session.checkpointsURL.appendingPathComponent("ckpt-000001")
            try fm.createDirectory(at: ckpt, withIntermediateDirectories: true)
            try Data("""
                {"epoch":\(done + 1),"batches_done":0,"global_step":\(done * steps),"epoch_loss_sum":0,"epoch_correct":0,
                 "epoch_seen":0,"epoch_seconds":0,"lr":\(learningRate),"schedule":{},
                 "network_random":{"s0":1,"s1":2,"s2":3,"s3":4},"metrics_count":\(lines.count),"finished":\(done == epochs),
                 "model_digest":"","optimizer_digest":""}
                """.utf8).write(to: ckpt.appendingPathComponent("train_state.json"))
            try fm.createSymbolicLink(atPath: session.checkpointsURL.appendingPathComponent("last").path,
                                      withDestinationPath: "ckpt-000001")
        }
        return session
    }

    /// Three runs of MyCNN differing in learning rate (and the third in schedule): two finished with events
    /// files, one interrupted after 2 of 3 epochs that has none.
    static func comparedRuns() throws -> (root: URL, runs: [ComparedRun]) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cnntui-compare-\(UUID().uuidString)")
        let sessions = [
            try writeSession(root: root, id: "20261124-101500-mycnn-fashion-mnist", learningRate: 0.01, epochs: 3, done: 3,
                             rate: 0.5, secondsPerEpoch: 12, perClass: true),
            try writeSession(root: root, id: "20261124-103000-mycnn-fashion-mnist", learningRate: 0.05, epochs: 3, done: 3,
                             rate: 1.1, secondsPerEpoch: 12.5, perClass: true),
            try writeSession(root: root, id: "20261124-104500-mycnn-fashion-mnist", learningRate: 0.1,
                             schedule: "cosine:warmup=1", epochs: 3, done: 2, rate: 1.6, secondsPerEpoch: 20, perClass: false),
        ]
        return (root, try sessions.map { try ComparedRun(session: $0) })
    }
}
