import Engine
import Foundation
import Testing
@testable import Training

/// The events file's lines: every event survives the trip, unknown kinds are skipped, bad lines are named.
@Suite struct SessionEventsTests {
    static func image(_ index: Int, correct: Bool) -> PredictedImage {
        PredictedImage(testIndex: index, channels: 1, height: 2, width: 3, pixels: [0, 1, 127, 128, 254, 255],
                       trueClass: 1, predictedClass: correct ? 1 : 2,
                       topK: [ClassProbability(classIndex: correct ? 1 : 2, probability: 0.625), ClassProbability(classIndex: 0, probability: 0.25)],
                       trueProbability: correct ? 0.625 : 0.125, loss: 2.0794415)
    }

    static let run = RunDescription(
        sessionID: "20240101-120000-mycnn-fashion-mnist", sessionPath: "/tmp/Sessions/20240101-120000-mycnn-fashion-mnist",
        model: "mycnn", dataset: "fashion-mnist", classNames: ["T-shirt/top", "Trouser", "Pullover"], epochs: 3,
        batchSize: 64, stepsPerEpoch: 50, stepsPerRecord: 10, startEpoch: 2, optimizer: "adam", schedule: "cosine",
        learningRate: 0.001, parameterCount: 12345,
        layers: [LayerInfo(path: "features.0", type: "Conv2d", depth: 1, outputShape: [8, 28, 28], parameterCount: 80)])

    /// One of every kind of event, with the optional parts both present and absent.
    static let everyEvent: [TrainingEvent] = [
        .started(run),
        .started(RunDescription(sessionID: "s", sessionPath: "/s", model: "m", dataset: "d", classNames: [], epochs: 1,
                                batchSize: 1, stepsPerEpoch: 1, stepsPerRecord: 1, startEpoch: 1, optimizer: "sgd",
                                schedule: "constant", learningRate: 0.1, parameterCount: 0)),
        .step(StepEvent(epoch: 2, step: 7, stepsPerEpoch: 50, globalStep: 57, totalSteps: 150, etaSeconds: 12.5)),
        .step(StepEvent(epoch: 1, step: 1, stepsPerEpoch: 50, globalStep: 1, totalSteps: 150, etaSeconds: nil)),
        .record(StepRecord(epoch: 2, step: 10, globalStep: 60, loss: 0.4321, accuracy: 0.875, imagesPerSecond: 1234.5,
                           learningRate: 0.00095)),
        .evaluation(EvaluationEvent(
            epoch: 2, globalStep: 100, trainLoss: 0.5, trainAccuracy: 0.8, testLoss: 0.45, testAccuracy: 0.83,
            perClassAccuracy: [0.9, 0.8, 0.7], confusion: [[9, 1, 0], [1, 8, 1], [0, 3, 7]],
            preview: [image(4, correct: true), image(5, correct: false)], misclassified: [image(5, correct: false)],
            leastSure: [image(4, correct: true)], learningRate: 0.0009, seconds: 3.25, imagesPerSecond: 980.5)),
        .stateChanged(.paused),
        .stateChanged(.running),
        .learningRateChanged(0.0005, globalStep: 61, manual: true),
        .learningRateChanged(0.0001, globalStep: 100, manual: false),
        .checkpointSaved(path: "/tmp/Sessions/x/checkpoints/ckpt-000002", globalStep: 100),
        .finished(testAccuracy: 0.83),
        .failed(message: "dataset \"x\": not found\nsecond line"),
        .layerView(LayerView(layer: "features.0", testIndex: 4, globalStep: 60, shape: [2, 1, 2],
                             values: [0, -1.5, 3.25, .leastNonzeroMagnitude], minimum: -1.5, maximum: 3.25, mean: 0.4375,
                             zeroFraction: 0.25,
                             filters: FilterBank(layer: "features.0", shape: [2, 1, 1, 1], weights: [0.5, -0.25]))),
        .layerView(LayerView(layer: "fc", testIndex: 0, globalStep: 1, shape: [3, 1, 1], values: [1, 2, 3], minimum: 1,
                             maximum: 3, mean: 2, zeroFraction: 0, filters: nil)),
        .health(HealthRecord(epoch: 2, globalStep: 60,
                             layers: [LayerHealth(layer: "features.0", weightNorm: 1.5, gradientNorm: 0.01, updateRatio: 0.001)],
                             rectifiers: [RectifierHealth(layer: "features.2", zeroFraction: 0.4)])),
        .anomaly(Anomaly(epoch: 2, globalStep: 61, layer: "loss", message: "loss is NaN")),
        .decoding(DecodingProgress(done: 25_000, total: 50_000, seconds: 7.375)),
    ]

    @Test(arguments: everyEvent)
    func everyEventSurvivesTheTrip(_ event: TrainingEvent) throws {
        let line = try SessionEvents.encode(event, time: 1_718_000_000.25, pid: 4242)
        #expect(line.last == UInt8(ascii: "\n") && line.dropLast().firstIndex(of: UInt8(ascii: "\n")) == nil, "one line")
        let object = try #require(try JSONSerialization.jsonObject(with: line) as? [String: Any])
        #expect(object["v"] as? Int == 1 && object["time"] as? Double == 1_718_000_000.25 && object["type"] is String)
        let decoded = try SessionEvents.decode(line.dropLast(), file: "events.jsonl", lineNumber: 1)
        let pid: Int32? = if case .started = event { 4242 } else { nil }
        #expect(decoded == .event(SessionEvents.Line(time: 1_718_000_000.25, event: event, pid: pid)))
    }

    /// What Python (issue 18) reads and writes: snake_case keys, pixels and tensors as base64.
    @Test func theFieldsArePlainJSON() throws {
        let evaluation = try #require(Self.everyEvent.first { if case .evaluation = $0 { true } else { false } })
        let line = try SessionEvents.encode(evaluation, time: 1)
        let object = try #require(try JSONSerialization.jsonObject(with: line) as? [String: Any])
        #expect(object["type"] as? String == "evaluation" && object["test_accuracy"] as? Double != nil)
        #expect(object["per_class_accuracy"] as? [Double] != nil && object["confusion"] as? [[Int]] == [[9, 1, 0], [1, 8, 1], [0, 3, 7]])
        let image = try #require((object["preview"] as? [[String: Any]])?.first)
        #expect(image["pixels"] as? String == Data([0, 1, 127, 128, 254, 255]).base64EncodedString())
        #expect((image["top_k"] as? [[String: Any]])?.first?["class_index"] as? Int == 1)

        let view = try #require(Self.everyEvent.first { if case .layerView = $0 { true } else { false } })
        let viewObject = try #require(try JSONSerialization.jsonObject(with: SessionEvents.encode(view, time: 1)) as? [String: Any])
        #expect(viewObject["type"] as? String == "layer_view")
        let text = try #require(viewObject["values"] as? String)
        let values = try #require(Data(base64Encoded: text))
        #expect(values.count == 16 && Array(values[4..<8]) == [0x00, 0x00, 0xC0, 0xBF], "-1.5 as little-endian float32")
    }

    @Test func notFiniteNumbersAreStrings() throws {
        let record = TrainingEvent.record(StepRecord(epoch: 1, step: 1, globalStep: 1, loss: .nan, accuracy: 0,
                                                     imagesPerSecond: .infinity, learningRate: 0.1))
        let line = try SessionEvents.encode(record, time: 1)
        let text = String(decoding: line, as: UTF8.self)
        #expect(text.contains(#""loss":"nan""#) && text.contains(#""images_per_second":"inf""#))
        guard case .event(let back) = try SessionEvents.decode(line.dropLast(), file: "f", lineNumber: 1),
              case .record(let r) = back.event else { Issue.record("not a record"); return }
        #expect(r.loss.isNaN && r.imagesPerSecond == .infinity)
    }

    @Test func aNewerWritersKindsAreSkippedAndBadLinesNamed() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cnntui-events-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("events.jsonl")
        let finished = try SessionEvents.encode(.finished(testAccuracy: 0.5), time: 2)
        var file = try SessionEvents.encode(.stateChanged(.running), time: 1)
        file.append(Data(#"{"v":1,"time":1.5,"type":"gpu_temperature","celsius":71}"#.utf8 + [10]))
        file.append(Data("\n".utf8))
        file.append(finished)
        let complete = file
        file.append(Data(#"{"v":1,"time":3,"ty"#.utf8))  // being written
        try file.write(to: url)
        #expect(try SessionEvents.read(url).map(\.event) == [.stateChanged(.running), .finished(testAccuracy: 0.5)])
        #expect(try SessionEvents.decode(Data(#"{"v":1,"time":1,"type":"gpu"}"#.utf8), file: "f", lineNumber: 1)
            == .unknown(type: "gpu"))

        for bad in [#"{"v":1,"time":3,"type":"step","epoch":1}"#, "not json", #"{"v":2,"time":3,"type":"step"}"#,
                    #"{"time":3,"type":"finished","test_accuracy":1}"#] {
            var broken = complete
            broken.append(Data(bad.utf8 + [10]))
            try broken.write(to: url)
            #expect {
                _ = try SessionEvents.read(url)
            } throws: { error in
                "\(error)".contains(url.path) && "\(error)".contains("line 5 is not an event")
            }
        }
    }

    /// A viewer draws pixels and layer values by the shape their line gives: a line whose counts disagree (a
    /// foreign writer's, a damaged file) used to decode, then index past its array when drawn. Now it is refused.
    @Test func countsThatDisagreeWithTheirShapeAreRefused() throws {
        let twoFloats = "AAAAPwAAgL8="  // 0.5, -1 as little-endian float32
        let image = #"{"test_index":0,"channels":1,"height":2,"width":2,"pixels":"AAEC","true_class":0,"predicted_class":0,"top_k":[],"true_probability":1,"loss":0}"#
        let lines = [
            (#"{"v":1,"time":1,"type":"layer_view","layer":"c","test_index":0,"global_step":1,"shape":[4,4,4],"values":"\#(twoFloats)","minimum":0,"maximum":0,"mean":0,"zero_fraction":0}"#,
             "2 values for shape [4, 4, 4] (64 expected)"),
            (#"{"v":1,"time":1,"type":"layer_view","layer":"c","test_index":0,"global_step":1,"shape":[-1,-2,1],"values":"\#(twoFloats)","minimum":0,"maximum":0,"mean":0,"zero_fraction":0}"#,
             "shape [-1, -2, 1] is not a size"),
            (#"{"v":1,"time":1,"type":"layer_view","layer":"c","test_index":0,"global_step":1,"shape":[1,1,2],"values":"\#(twoFloats)","minimum":0,"maximum":0,"mean":0,"zero_fraction":0,"filters":{"layer":"c","shape":[2,1,3,3],"weights":"\#(twoFloats)"}}"#,
             "2 weights for shape [2, 1, 3, 3] (18 expected)"),
            (#"{"v":1,"time":1,"type":"evaluation","epoch":1,"global_step":1,"train_loss":0,"train_accuracy":0,"test_loss":0,"test_accuracy":0,"per_class_accuracy":[],"confusion":[],"preview":[\#(image)],"misclassified":[],"least_sure":[],"lr":0.1,"seconds":1,"images_per_second":1}"#,
             "3 pixels for shape [1, 2, 2] (4 expected)"),
        ]
        for (line, reason) in lines {
            #expect {
                _ = try SessionEvents.decode(Data(line.utf8), file: "events.jsonl", lineNumber: 7)
            } throws: { error in
                "\(error)".contains("events.jsonl: line 7 is not an event") && "\(error)".contains(reason)
            }
        }
        // The same counts with a shape that fits decode.
        let fitting = #"{"v":1,"time":1,"type":"layer_view","layer":"c","test_index":0,"global_step":1,"shape":[1,1,2],"values":"\#(twoFloats)","minimum":0,"maximum":0,"mean":0,"zero_fraction":0}"#
        #expect(throws: Never.self) { try SessionEvents.decode(Data(fitting.utf8), file: "events.jsonl", lineNumber: 1) }
    }

    /// The dashboard indexes class names, per-class bars and confusion cells by an evaluation's class numbers:
    /// numbers outside the class count its own `per_class_accuracy` gives are refused when the line is read.
    @Test func classesOutsideTheClassCountAreRefused() throws {
        func evaluation(confusion: String, image: (true: Int, predicted: Int, top: Int)) -> String {
            let picture = #"{"test_index":3,"channels":1,"height":1,"width":1,"pixels":"AA==","true_class":\#(image.true),"predicted_class":\#(image.predicted),"top_k":[{"class_index":\#(image.top),"probability":0.5}],"true_probability":0.5,"loss":0.7}"#
            return #"{"v":1,"time":1,"type":"evaluation","epoch":1,"global_step":1,"train_loss":0,"train_accuracy":0,"test_loss":0,"test_accuracy":0,"per_class_accuracy":[0.5,0.5],"confusion":\#(confusion),"preview":[\#(picture)],"misclassified":[],"least_sure":[],"lr":0.1,"seconds":1,"images_per_second":1}"#
        }
        let square = "[[1,0],[0,1]]"
        let lines = [
            (evaluation(confusion: square, image: (2, 0, 0)), "test image 3 names class 2 of 2"),
            (evaluation(confusion: square, image: (0, -1, 0)), "test image 3 names class -1 of 2"),
            (evaluation(confusion: square, image: (0, 0, 9)), "test image 3 names class 9 of 2"),
            (evaluation(confusion: "[[1,0,0],[0,1,0]]", image: (0, 0, 0)), "confusion is not 2x2"),
            (evaluation(confusion: "[[1]]", image: (0, 0, 0)), "confusion is not 2x2"),
            (evaluation(confusion: "[[1,-4],[0,1]]", image: (0, 0, 0)), "negative count in confusion"),
        ]
        for (line, reason) in lines {
            #expect {
                _ = try SessionEvents.decode(Data(line.utf8), file: "events.jsonl", lineNumber: 4)
            } throws: { error in
                "\(error)".contains("events.jsonl: line 4 is not an event") && "\(error)".contains(reason)
            }
        }
        let fitting = evaluation(confusion: square, image: (1, 0, 1))
        #expect(throws: Never.self) { try SessionEvents.decode(Data(fitting.utf8), file: "events.jsonl", lineNumber: 1) }
    }

    @Test func checkpointsFromBeforeEventsFilesStillLoad() throws {
        let state = TrainState(position: RunPosition(), learningRate: 0.1, schedule: [:],
                               networkRandom: RandomSource(seed: 1), metricsCount: 0, finished: false, eventsLength: 1234)
        var object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(state)) as? [String: Any])
        #expect(object["events_length"] as? Int == 1234)
        #expect(try JSONDecoder().decode(TrainState.self, from: JSONEncoder().encode(state)) == state)
        object["events_length"] = nil
        let old = try JSONDecoder().decode(TrainState.self, from: JSONSerialization.data(withJSONObject: object))
        #expect(old.eventsLength == nil && old.learningRate == 0.1)
    }
}
