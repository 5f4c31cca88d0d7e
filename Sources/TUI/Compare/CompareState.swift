import Foundation
import Training

/// What the comparison's charts put on x: fractional epochs (the default), the global step, or wall time.
public enum CompareAxis: String, CaseIterable, Sendable {
    case epoch, step, time
}

/// The comparison's view state: the x axis, the runs hidden from the charts, help and the last message.
public struct CompareUIState: Equatable, Sendable {
    public var axis = CompareAxis.epoch
    /// Indexes of runs whose curves are hidden (their table columns stay, dimmed).
    public var hidden: Set<Int> = []
    public var showingHelp = false
    public var message: String?
    public init() {}
}

/// What a key asks of the comparison beyond a new state.
public enum CompareAction: Equatable, Sendable {
    /// Leave: back to the runs screen when it opened the comparison, else quit.
    case close
    case quit
}

/// Every key of the comparison, for the help overlay; `handleCompareKey` implements exactly these.
public let compareKeyBindings: [(key: String, action: String)] = [
    ("s", "x axis: global step (again: back to epochs)"),
    ("t", "x axis: wall time (again: back to epochs)"),
    ("1-8", "show or hide that run's curves"),
    ("Esc", "back to the runs (or quit, from `cnntui compare`)"),
    ("?", "this help"),
    ("q, Ctrl-C", "quit"),
]

/// The most runs one comparison holds: one colour and one mark each.
public let compareMaxRuns = 8

public func handleCompareKey(_ key: Key, state: CompareUIState, runCount: Int) -> (CompareUIState, [CompareAction]) {
    var s = state
    s.message = nil
    if key == .resize { return (s, []) }
    if key == .interrupt { return (s, [.quit]) }
    if s.showingHelp {
        s.showingHelp = false
        return (s, [])
    }
    switch key {
    case .character("q"), .character("Q"): return (s, [.quit])
    case .escape, .backspace: return (s, [.close])
    case .character("?"): s.showingHelp = true
    case .character("s"): s.axis = s.axis == .step ? .epoch : .step
    case .character("t"): s.axis = s.axis == .time ? .epoch : .time
    case .character(let c) where c.isNumber:
        guard let n = c.wholeNumberValue, n >= 1, n <= runCount else {
            s.message = "no run \(c): the runs are 1-\(runCount)"
            return (s, [])
        }
        if s.hidden.contains(n - 1) { s.hidden.remove(n - 1) } else { s.hidden.insert(n - 1) }
    default: break
    }
    return (s, [])
}

/// The curves of one run against the chosen axis.
struct RunCurves {
    var trainLoss: [ChartPoint] = [], testLoss: [ChartPoint] = []
    var trainAccuracy: [ChartPoint] = [], testAccuracy: [ChartPoint] = []
    var learningRate: [ChartPoint] = []

    /// x of each record: global step over steps per epoch (epoch), the global step (step), or seconds since
    /// the start (time). Wall time comes from the metrics: a finished epoch's `seconds` (evaluation
    /// included) spread evenly over its steps; in the epoch still running, the steps so far times the
    /// batch size over the record's images per second.
    init(_ run: ComparedRun, axis: CompareAxis) {
        let perEpoch = run.stepsPerEpoch
        var epochSeconds: [Int: Double] = [:]
        for r in run.records where r.kind == .epoch { if let s = r.seconds { epochSeconds[r.epoch] = s } }
        var endOf: [Int: Double] = [0: 0]   // seconds at the end of epoch e
        let lastEpoch = run.records.map(\.epoch).max() ?? 0
        if lastEpoch > 0 {
            for e in 1...lastEpoch { endOf[e] = (endOf[e - 1] ?? 0) + (epochSeconds[e] ?? 0) }
        }
        let batch = Double(run.config.batchSize)
        func x(_ r: MetricRecord) -> Double? {
            switch axis {
            case .epoch: return Double(r.globalStep) / Double(perEpoch)
            case .step: return Double(r.globalStep)
            case .time:
                let into = Double(r.globalStep - (r.epoch - 1) * perEpoch)
                let start = endOf[r.epoch - 1] ?? 0
                if let seconds = epochSeconds[r.epoch] { return start + seconds * min(1, max(0, into / Double(perEpoch))) }
                guard let ips = r.imagesPerSecond, ips > 0 else { return nil }
                return start + into * batch / ips
            }
        }
        for r in run.records {
            guard let x = x(r) else { continue }
            switch r.kind {
            case .step:
                if let v = r.loss { trainLoss.append(ChartPoint(x: x, y: Double(v))) }
                if let v = r.accuracy { trainAccuracy.append(ChartPoint(x: x, y: Double(v))) }
                learningRate.append(ChartPoint(x: x, y: Double(r.lr)))
            case .epoch:
                if let v = r.testLoss { testLoss.append(ChartPoint(x: x, y: Double(v))) }
                if let v = r.testAccuracy { testAccuracy.append(ChartPoint(x: x, y: Double(v))) }
            case .lr:
                learningRate.append(ChartPoint(x: x, y: Double(r.lr)))
            case .set, .command:
                // Momentum, weight decay, batch size and pause/resume/save/stop: no curve of their own here.
                continue
            }
        }
    }
}
