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
    for line in lines { _ = try? SessionEvents.decode(line.bytes, file: url.path, lineNumber: line.number) }
    _ = try? SessionEvents.read(url)
}

/// Control endpoint requests (and replies, which `cnntui control` reads), one per line.
func fuzzControlRequest(_ data: Data) {
    for line in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
        _ = try? ControlRequest.parse(line)
        _ = ControlReply.parse(line)
    }
}
