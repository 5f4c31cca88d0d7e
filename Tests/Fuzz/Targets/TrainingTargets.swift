import Foundation
@testable import Training

/// A session's JSON files: the same bytes as config.json (then checked, as `resume` does), train_state.json
/// and dataset.json.
func fuzzSessionJSON(_ data: Data) {
    let decoder = JSONDecoder()
    if let config = try? decoder.decode(TrainingConfig.self, from: data) { try? config.validate() }
    _ = try? decoder.decode(TrainState.self, from: data)
    _ = try? decoder.decode(SessionDataset.self, from: data)
}

/// A metrics.jsonl.
func fuzzMetricsLines(_ data: Data) {
    _ = try? MetricsLog.records(in: data, file: "fuzz-metrics.jsonl")
}

/// An events.jsonl as the live follower sees it: the first byte says where the writer paused, the rest is the
/// file, written in two parts with a poll after each; every complete line is decoded.
func fuzzEvents(_ data: Data) {
    guard let first = data.first else { return }
    let text = data.dropFirst()
    let cut = text.isEmpty ? 0 : Int(first) % (text.count + 1)
    let url = URL(fileURLWithPath: scratchFile("fuzz-events.jsonl", holding: Data(text.prefix(cut))))
    let follower = EventFollower(url: url)
    var lines = follower.poll().lines
    if let handle = try? FileHandle(forWritingTo: url) {
        handle.seekToEndOfFile()
        handle.write(Data(text.dropFirst(cut)))
        try? handle.close()
    }
    lines += follower.poll().lines
    for line in lines {
        if case .event(let decoded)? = try? SessionEvents.decode(line.bytes, file: url.path, lineNumber: line.number) {
            checkWhatAViewerIndexes(decoded.event)
        }
    }
    _ = try? SessionEvents.read(url)
}

/// A viewer indexes pixels and values by the shapes an event gives: an event that decodes with counts that
/// disagree would crash it later, so here it is a finding.
func checkWhatAViewerIndexes(_ event: TrainingEvent) {
    switch event {
    case .evaluation(let evaluation):
        precondition(evaluation.inconsistency == nil, "evaluation's classes disagree with its class count")
        for image in evaluation.preview + evaluation.misclassified + evaluation.leastSure {
            precondition(image.pixels.count == image.channels * image.height * image.width, "image pixels disagree with its shape")
        }
    case .layerView(let view):
        precondition(view.shape.count == 3 && view.values.count == view.shape.reduce(1, *), "layer view values disagree with its shape")
        if let filters = view.filters {
            precondition(filters.weights.count == filters.shape.reduce(1, *), "filter weights disagree with their shape")
        }
    default: break
    }
}

/// Control endpoint requests (and replies, which `cnntui control` reads), one per line.
func fuzzControlRequest(_ data: Data) {
    for line in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
        _ = try? ControlRequest.parse(line)
        _ = ControlReply.parse(line)
    }
}
