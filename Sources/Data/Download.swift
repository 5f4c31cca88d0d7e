import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization

/// One file of a dataset download, with its published MD5.
public struct DownloadFile: Sendable, Equatable {
    public let name: String
    public let md5: String

    public init(name: String, md5: String) {
        self.name = name
        self.md5 = md5
    }
}

/// Where a dataset's official files live and what they must hash to.
public struct DownloadPlan: Sendable, Equatable {
    public let dataset: String
    /// Ends with "/"; each file is fetched from baseURL + name.
    public var baseURL: String
    public let files: [DownloadFile]

    public init(dataset: String, baseURL: String, files: [DownloadFile]) {
        self.dataset = dataset
        self.baseURL = baseURL.hasSuffix("/") ? baseURL : baseURL + "/"
        self.files = files
    }
}

/// Progress of one file: bytes on disk so far and the total when the server said it.
public struct DownloadProgress: Sendable {
    public let file: String
    public let received: Int
    public let total: Int?
    /// True once for each file that was already complete and verified (nothing fetched).
    public let alreadyPresent: Bool
}

/// `cnntui download`: fetches official archives into ~/.cache/cnntui/NAME/, resuming partial
/// files with HTTP Range, writing to NAME.part and renaming only after the MD5 matches.
public enum Downloader {
    public static let downloadableNames = ["mnist", "fashion-mnist", "cifar10"]

    /// The official plan for a dataset; `$CNNTUI_DOWNLOAD_BASE` (or `baseURL`) replaces the host.
    public static func plan(for name: String, baseURL: String? = nil) -> DownloadPlan? {
        let override = baseURL ?? ProcessInfo.processInfo.environment["CNNTUI_DOWNLOAD_BASE"].flatMap { $0.isEmpty ? nil : $0 }
        func make(_ base: String, _ files: [(String, String)]) -> DownloadPlan {
            DownloadPlan(dataset: name, baseURL: override ?? base, files: files.map { DownloadFile(name: $0.0, md5: $0.1) })
        }
        switch name {
        case "mnist":
            return make("https://ossci-datasets.s3.amazonaws.com/mnist/", [
                ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
                ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
                ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
                ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
            ])
        case "fashion-mnist":
            return make("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/", [
                ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
                ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
                ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
                ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
            ])
        case "cifar10":
            return make("https://www.cs.toronto.edu/~kriz/", [("cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530")])
        default:
            return nil
        }
    }

    /// Downloads every file of `plan` into `directory` (default ~/.cache/cnntui/DATASET/) and
    /// returns the directory. Files already there with the right checksum are kept.
    @discardableResult
    public static func download(_ plan: DownloadPlan, into directory: String? = nil, timeout: Double = 30,
                                progress: @escaping @Sendable (DownloadProgress) -> Void = { _ in }) throws -> String {
        let target = directory ?? joinPath(DatasetCatalog.cacheDirectory(), plan.dataset)
        do {
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        } catch {
            throw DataError(target, "cannot create directory: \(error.localizedDescription)")
        }
        for file in plan.files {
            let destination = joinPath(target, file.name)
            if fileExists(destination), try MD5.file(destination) == file.md5 {
                progress(DownloadProgress(file: file.name, received: fileSize(destination), total: fileSize(destination), alreadyPresent: true))
                continue
            }
            let partial = destination + ".part"
            let url = plan.baseURL + file.name
            do {
                try fetch(url, to: partial, timeout: timeout) { received, total in
                    progress(DownloadProgress(file: file.name, received: received, total: total, alreadyPresent: false))
                }
            } catch let error as TransferFailure {
                if fileExists(partial), fileSize(partial) == 0 { try? FileManager.default.removeItem(atPath: partial) }
                throw error.dataError(url: url, plan: plan, directory: target)
            }
            var digest = try MD5.file(partial)
            if digest != file.md5, fileSize(partial) > 0 {
                // A stale partial file from another version can poison a resume: try once from scratch.
                try? FileManager.default.removeItem(atPath: partial)
                do {
                    try fetch(url, to: partial, timeout: timeout) { received, total in
                        progress(DownloadProgress(file: file.name, received: received, total: total, alreadyPresent: false))
                    }
                } catch let error as TransferFailure {
                    throw error.dataError(url: url, plan: plan, directory: target)
                }
                digest = try MD5.file(partial)
            }
            guard digest == file.md5 else {
                try? FileManager.default.removeItem(atPath: partial)
                throw DataError(url, "checksum mismatch: MD5 \(digest), expected \(file.md5); the partial file was deleted")
            }
            if fileExists(destination) { try? FileManager.default.removeItem(atPath: destination) }
            guard rename(partial, destination) == 0 else {
                throw DataError(destination, "cannot rename \(partial) into place: \(posixErrorText())")
            }
        }
        return target
    }

    /// GETs `url` into `partial`, resuming from its current size with a Range request.
    static func fetch(_ url: String, to partial: String, timeout: Double,
                      progress: @escaping @Sendable (Int, Int?) -> Void) throws {
        guard let address = URL(string: url), address.scheme == "http" || address.scheme == "https" else {
            throw TransferFailure.badURL
        }
        if !fileExists(partial) { _ = FileManager.default.createFile(atPath: partial, contents: nil) }
        guard let handle = FileHandle(forUpdatingAtPath: partial) else { throw TransferFailure.disk(partial, posixErrorText()) }
        defer { try? handle.close() }
        let offset = Int((try? handle.seekToEnd()) ?? 0)
        var request = URLRequest(url: address, timeoutInterval: timeout)
        if offset > 0 { request.setValue("bytes=\(offset)-", forHTTPHeaderField: "Range") }
        let transfer = Transfer(handle: handle, offset: offset, progress: progress)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        let session = URLSession(configuration: configuration, delegate: transfer, delegateQueue: nil)
        session.dataTask(with: request).resume()
        transfer.finished.wait()
        session.finishTasksAndInvalidate()
        if let failure = transfer.state.withLock({ $0.failure }) { throw failure }
    }
}

/// Why a transfer stopped; turned into a `DataError` that names the URL, host and what to do.
enum TransferFailure: Error, Sendable {
    case badURL
    case unreachable(String)
    case http(Int)
    case interrupted(String, received: Int)
    case disk(String, String)

    func dataError(url: String, plan: DownloadPlan, directory: String) -> DataError {
        let host = URL(string: url)?.host ?? url
        let files = plan.files.map(\.name).joined(separator: ", ")
        switch self {
        case .badURL:
            return DataError(url, "not an http(s) URL (check CNNTUI_DOWNLOAD_BASE)")
        case .unreachable(let reason):
            return DataError(url, "cannot reach \(host) (\(reason)). Offline? Fetch \(files) from \(plan.baseURL) "
                + "elsewhere and place them in \(directory)/")
        case .http(let status):
            return DataError(url, "server answered HTTP \(status)")
        case .interrupted(let reason, let received):
            return DataError(url, "download interrupted after \(received) bytes (\(reason)); run the command again to resume")
        case .disk(let path, let reason):
            return DataError(path, "cannot write: \(reason)")
        }
    }
}

/// URLSession delegate that streams the body into the partial file. Its mutable state sits in a Mutex.
private final class Transfer: NSObject, URLSessionDataDelegate, Sendable {
    struct State: Sendable {
        let handle: FileHandle
        var received: Int
        var total: Int?
        var failure: TransferFailure?
    }

    let state: Mutex<State>
    let finished = DispatchSemaphore(value: 0)
    private let startOffset: Int
    private let progress: @Sendable (Int, Int?) -> Void

    init(handle: FileHandle, offset: Int, progress: @escaping @Sendable (Int, Int?) -> Void) {
        state = Mutex(State(handle: handle, received: offset, total: nil, failure: nil))
        startOffset = offset
        self.progress = progress
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void) {
        let status = (response as? HTTPURLResponse)?.statusCode ?? 200
        let length = response.expectedContentLength >= 0 ? Int(response.expectedContentLength) : nil
        let proceed: Bool = state.withLock { state in
            switch status {
            case 206:
                state.total = length.map { $0 + startOffset }
                return true
            case 200:
                // The server ignored the Range header (or there was none): start the file over.
                do {
                    try state.handle.truncate(atOffset: 0)
                } catch {
                    state.failure = .disk("partial file", error.localizedDescription)
                    return false
                }
                state.received = 0
                state.total = length
                return true
            case 416 where startOffset > 0:
                // Nothing left to fetch: the partial file is already whole (the checksum decides).
                return false
            default:
                state.failure = .http(status)
                return false
            }
        }
        completionHandler(proceed ? .allow : .cancel)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let report: (Int, Int?)? = state.withLock { state in
            guard state.failure == nil else { return nil }
            do {
                try state.handle.write(contentsOf: data)
            } catch {
                state.failure = .disk("partial file", error.localizedDescription)
                dataTask.cancel()
                return nil
            }
            state.received += data.count
            return (state.received, state.total)
        }
        if let report { progress(report.0, report.1) }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        state.withLock { state in
            if state.failure == nil, let error, (error as? URLError)?.code != .cancelled {
                let code = (error as? URLError)?.code
                let unreachable: Set<URLError.Code> = [.cannotConnectToHost, .cannotFindHost, .dnsLookupFailed,
                                                       .notConnectedToInternet, .secureConnectionFailed]
                if let code, unreachable.contains(code), state.received == startOffset {
                    state.failure = .unreachable(error.localizedDescription)
                } else if code == .timedOut, state.received == startOffset {
                    state.failure = .unreachable("timed out")
                } else {
                    state.failure = .interrupted(error.localizedDescription, received: state.received)
                }
            } else if state.failure == nil, let total = state.total, state.received < total {
                state.failure = .interrupted("connection closed early", received: state.received)
            }
        }
        finished.signal()
    }
}
