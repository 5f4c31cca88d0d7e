import Foundation
import Testing
@testable import TUI

/// Whole-screen text snapshots: a rendered grid is compared line by line with a committed file under
/// `Snapshots/`, so a layout change shows up in review as a readable diff of the screen itself.
///
/// `CNNTUI_RECORD_SNAPSHOTS=1 swift test -c release -Xswiftc -enable-testing --filter TUITests` rewrites
/// the files from what the screens draw now; a missing file fails, saying how to record it.
enum Snapshot {
    /// The window sizes every screen is checked at: the classic terminal, a common one, a large one.
    static let sizes = [(80, 24), (100, 30), (160, 48)]

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots")

    static var recording: Bool { ProcessInfo.processInfo.environment["CNNTUI_RECORD_SNAPSHOTS"] == "1" }

    /// Text of a grid as a snapshot file holds it: one line per row, trailing blanks kept visible by a `|`
    /// (so an editor that trims whitespace cannot change a snapshot), and the size in a first line.
    static func text(of grid: CellGrid) -> String {
        (["\(grid.width)x\(grid.height)"] + grid.lines.map { $0 + "|" }).joined(separator: "\n") + "\n"
    }

    static func check(_ grid: CellGrid, named name: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let url = directory.appendingPathComponent("\(name)-\(grid.width)x\(grid.height).txt")
        let now = text(of: grid)
        if recording {
            try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try? Data(now.utf8).write(to: url, options: .atomic)
            return
        }
        guard let data = try? Data(contentsOf: url) else {
            Issue.record("no snapshot \(url.lastPathComponent): record it with CNNTUI_RECORD_SNAPSHOTS=1",
                         sourceLocation: sourceLocation)
            return
        }
        let saved = String(decoding: data, as: UTF8.self)
        guard saved != now else { return }
        let old = saved.split(separator: "\n", omittingEmptySubsequences: false)
        let new = now.split(separator: "\n", omittingEmptySubsequences: false)
        var diff: [String] = []
        for i in 0..<max(old.count, new.count) where (i < old.count ? old[i] : "") != (i < new.count ? new[i] : "") {
            diff.append("line \(i): was \(i < old.count ? String(old[i]) : "(none)")")
            diff.append("line \(i): now \(i < new.count ? String(new[i]) : "(none)")")
            if diff.count >= 12 { break }
        }
        let report = "\(url.lastPathComponent) differs (CNNTUI_RECORD_SNAPSHOTS=1 to accept):\n" + diff.joined(separator: "\n")
        Issue.record(Comment(rawValue: report), sourceLocation: sourceLocation)
    }
}
