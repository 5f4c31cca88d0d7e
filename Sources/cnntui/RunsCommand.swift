import ArgumentParser
import Foundation
import TUI
import Training

/// `cnntui runs`: every session of the sessions directory with where it stands; `--json` for scripts.
/// The same table, with actions, is the runs screen (`r` on the pickers' dataset step).
struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List the runs (sessions): model, dataset, epochs, accuracy, status, start, size.",
        discussion: """
            Status: running (pid N) or paused while a process trains it; finished; interrupted (a checkpoint to
            resume from, nothing running it); new (no checkpoint yet, nothing running it).
            """)

    @Option(name: .customLong("sessions-dir"), help: "Sessions directory (default $CNNTUI_SESSIONS or ./Sessions).")
    var sessionsDir: String?
    @Option(help: ArgumentHelp("Sort by one of: \(RunSortField.allCases.map(\.rawValue).joined(separator: ", ")).",
                               discussion: "accuracy (the best test accuracy), last, epochs and size sort largest first."))
    var sort = "start"
    @Flag(help: "Reverse the sort order.") var reverse = false
    @Option(help: "Only runs whose ID, model, dataset or status contain every word of this text (any case).")
    var filter: String?
    @Flag(help: "One JSON object per run.") var json = false

    func validate() throws {
        if RunSortField(rawValue: sort) == nil {
            throw ValidationError("--sort: '\(sort)' is not one of \(RunSortField.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        let store = SessionStore(override: sessionsDir)
        let field = RunSortField(rawValue: sort) ?? .start
        let runs = field.sorted(RunInfo.list(store).filter { $0.matches(filter ?? "") }, reversed: reverse)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            for run in runs { print(String(decoding: try encoder.encode(RunJSON(run)), as: UTF8.self)) }
            return
        }
        guard !runs.isEmpty else {
            print(filter == nil ? "no runs in \(store.root.path)" : "no run in \(store.root.path) matches \"\(filter ?? "")\"")
            return
        }
        func percent(_ a: Float?) -> String { a.map { String(format: "%.2f%%", $0 * 100) } ?? "-" }
        let dates = DateFormatter()
        dates.locale = Locale(identifier: "en_US_POSIX")
        dates.dateFormat = "yyyy-MM-dd HH:mm"
        let rows = runs.map { r -> [String] in
            let s = r.summary
            return [r.id, s.model ?? "?", s.dataset ?? "?", "\(s.epochsDone ?? 0)/\(s.epochs.map(String.init) ?? "?")",
                    percent(s.bestTestAccuracy), percent(s.lastTestAccuracy), r.status.text,
                    r.started.map { dates.string(from: $0) } ?? "-", Format.bytes(r.sizeBytes)]
        }
        let header = ["ID", "MODEL", "DATASET", "EPOCHS", "BEST ACC", "LAST ACC", "STATUS", "STARTED", "SIZE"]
        let right: Set<Int> = [3, 4, 5, 8]
        let widths = header.indices.map { c in ([header] + rows).map { $0[c].count }.max() ?? 0 }
        for row in [header] + rows {
            let cells = row.enumerated().map { c, text in
                let pad = String(repeating: " ", count: widths[c] - text.count)
                return right.contains(c) ? pad + text : text + pad
            }
            print(cells.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
    }
}

/// One line of `cnntui runs --json`, snake_case like the other JSON the program writes; absent values are null.
struct RunJSON: Encodable {
    var id: String
    var path: String
    var model: String?
    var dataset: String?
    var epochs: Int?
    var epochsDone: Int
    var globalStep: Int?
    var bestTestAccuracy: Float?
    var lastTestAccuracy: Float?
    var status: String
    var pid: Int32?
    var finished: Bool
    /// ISO 8601 with the offset, e.g. 2026-11-23T20:05:55+01:00.
    var started: String?
    var sizeBytes: Int64

    init(_ run: RunInfo) {
        let s = run.summary
        id = run.id; path = run.session.url.path; model = s.model; dataset = s.dataset; epochs = s.epochs
        epochsDone = s.epochsDone ?? 0; globalStep = s.globalStep; bestTestAccuracy = s.bestTestAccuracy
        lastTestAccuracy = s.lastTestAccuracy; status = run.status.name; pid = run.status.pid; finished = s.finished
        let iso = ISO8601DateFormatter()
        iso.timeZone = TimeZone.current
        started = run.started.map { iso.string(from: $0) }
        sizeBytes = run.sizeBytes
    }

    enum CodingKeys: String, CodingKey {
        case id, path, model, dataset, epochs, status, pid, finished, started
        case epochsDone = "epochs_done", globalStep = "global_step", bestTestAccuracy = "best_test_accuracy"
        case lastTestAccuracy = "last_test_accuracy", sizeBytes = "size_bytes"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id); try c.encode(path, forKey: .path); try c.encode(model, forKey: .model)
        try c.encode(dataset, forKey: .dataset); try c.encode(epochs, forKey: .epochs)
        try c.encode(epochsDone, forKey: .epochsDone); try c.encode(globalStep, forKey: .globalStep)
        try c.encode(bestTestAccuracy, forKey: .bestTestAccuracy); try c.encode(lastTestAccuracy, forKey: .lastTestAccuracy)
        try c.encode(status, forKey: .status); try c.encode(pid, forKey: .pid); try c.encode(finished, forKey: .finished)
        try c.encode(started, forKey: .started); try c.encode(sizeBytes, forKey: .sizeBytes)
    }
}
