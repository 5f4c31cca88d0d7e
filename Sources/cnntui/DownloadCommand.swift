import ArgumentParser
import Data
import Foundation
import Synchronization

/// `cnntui download mnist|fashion-mnist|cifar10`: fetch the official files into ~/.cache/cnntui/NAME/.
struct DownloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download a dataset's official files into ~/.cache/cnntui/ (checksummed, resumable).")

    @Argument(help: "One of: \(Downloader.downloadableNames.joined(separator: ", ")).")
    var name: String

    @Option(name: .customLong("dir"), help: "Download into this folder instead of ~/.cache/cnntui/NAME.")
    var directory: String?

    @Option(name: .customLong("base-url"), help: "Fetch from this base URL instead of the official host ($CNNTUI_DOWNLOAD_BASE).")
    var baseURL: String?

    func validate() throws {
        guard Downloader.downloadableNames.contains(name) else {
            throw ValidationError("unknown dataset '\(name)': choose one of \(Downloader.downloadableNames.joined(separator: ", "))")
        }
    }

    func run() throws {
        guard let plan = Downloader.plan(for: name, baseURL: baseURL) else { return }
        let bar = ProgressBar()
        let target = try Downloader.download(plan, into: directory, progress: bar.update)
        bar.finish()
        print("\(name): all files verified in \(target)")
    }
}

/// A one-line progress bar on stderr, redrawn at most ten times a second.
private final class ProgressBar: Sendable {
    private struct State {
        var file = ""
        var lastDraw = ContinuousClock.now - .seconds(1)
        var lastLine = ""
    }

    private let state = Mutex(State())

    func update(_ progress: DownloadProgress) {
        let line: String? = state.withLock { state in
            let now = ContinuousClock.now
            let newFile = progress.file != state.file
            let done = progress.total.map { progress.received >= $0 } ?? false
            guard newFile || done || now - state.lastDraw >= .milliseconds(100) else { return nil }
            var prefix = ""
            if newFile && !state.file.isEmpty { prefix = "\n" }
            state.file = progress.file
            state.lastDraw = now
            if progress.alreadyPresent { return prefix + "\(progress.file): already downloaded and verified" }
            let megabytes = { (bytes: Int) in String(format: "%.1f", Double(bytes) / 1_048_576) }
            guard let total = progress.total, total > 0 else {
                return prefix + "\(progress.file) \(megabytes(progress.received)) MB"
            }
            let fraction = min(1, Double(progress.received) / Double(total))
            let filled = Int(fraction * 30)
            return prefix + "\(progress.file) [" + String(repeating: "#", count: filled) + String(repeating: ".", count: 30 - filled)
                + "] \(Int(fraction * 100))% \(megabytes(progress.received))/\(megabytes(total)) MB"
        }
        if let line { FileHandle.standardError.write(Data(("\r" + line + "\u{1B}[K").utf8)) }
    }

    func finish() {
        FileHandle.standardError.write(Data("\n".utf8))
    }
}
