import ArgumentParser
import Foundation
import Training

/// `cnntui sessions`: the runs in the sessions directory.
struct SessionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sessions", abstract: "List training sessions.")

    @Option(name: .customLong("sessions-dir")) var sessionsDir: String?
    @Flag(help: "One JSON object per session.") var json = false

    func run() throws {
        let store = SessionStore(override: sessionsDir)
        let sessions = store.list()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            for s in sessions { print(String(decoding: try encoder.encode(s), as: UTF8.self)) }
            return
        }
        guard !sessions.isEmpty else {
            print("no sessions in \(store.root.path)")
            return
        }
        func percent(_ a: Float?) -> String { a.map { String(format: "%.2f%%", $0 * 100) } ?? "-" }
        let rows = sessions.map { s -> [String] in
            let progress = "\(s.epochsDone.map(String.init) ?? "0")/\(s.epochs.map(String.init) ?? "?")"
            return [s.id, s.model ?? "?", s.dataset ?? "?", progress, percent(s.lastTestAccuracy),
                    percent(s.bestTestAccuracy), s.finished ? "finished" : (s.globalStep == nil ? "no checkpoint" : "resumable")]
        }
        let header = ["ID", "MODEL", "DATASET", "EPOCHS", "LAST ACC", "BEST ACC", "STATE"]
        let widths = header.indices.map { c in ([header] + rows).map { $0[c].count }.max() ?? 0 }
        for row in [header] + rows {
            print(zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  "))
        }
    }
}
