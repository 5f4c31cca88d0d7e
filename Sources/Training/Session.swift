import Foundation
import Data
import Models

/// Where sessions live: `--sessions-dir`, else `$CNNTUI_SESSIONS`, else `Sessions/` in the current directory.
public struct SessionStore: Sendable {
    public let root: URL

    public init(root: URL) { self.root = root }

    public init(override: String?) {
        if let override, !override.isEmpty {
            root = URL(fileURLWithPath: override)
        } else if let env = ProcessInfo.processInfo.environment["CNNTUI_SESSIONS"], !env.isEmpty {
            root = URL(fileURLWithPath: env)
        } else {
            root = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("Sessions")
        }
    }

    /// Makes `Sessions/<yyyyMMdd-HHmmss>-<model>-<dataset>/` (with `-2`, `-3`, ... on a clash) and writes its config.
    public func create(config: TrainingConfig, now: Date = Date()) throws -> Session {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let base = [formatter.string(from: now), Self.slug(config.model), Self.slug(config.dataset)].joined(separator: "-")
        do {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        } catch {
            throw TrainingError.session(path: root.path, message: "cannot create the sessions directory: \(error.localizedDescription)")
        }
        var id = base
        var suffix = 2
        while true {
            let url = root.appendingPathComponent(id)
            // mkdir is atomic: whoever creates the directory owns the ID.
            if mkdir(url.path, 0o755) == 0 {
                let session = Session(id: id, url: url)
                try FileManager.default.createDirectory(at: session.checkpointsURL, withIntermediateDirectories: true)
                try session.writeConfig(config)
                try session.keepSpec(of: config)
                return session
            }
            guard errno == EEXIST else {
                throw TrainingError.session(path: url.path, message: "cannot create: \(String(cString: strerror(errno)))")
            }
            id = "\(base)-\(suffix)"
            suffix += 1
        }
    }

    /// A session by ID, unique ID prefix, or path to its directory.
    public func open(_ idOrPath: String) throws -> Session {
        var isDirectory: ObjCBool = false
        let direct = URL(fileURLWithPath: idOrPath)
        if idOrPath.contains("/"), FileManager.default.fileExists(atPath: direct.path, isDirectory: &isDirectory),
           isDirectory.boolValue {
            return Session(id: direct.lastPathComponent, url: direct)
        }
        let ids = sessionIDs()
        if ids.contains(idOrPath) { return Session(id: idOrPath, url: root.appendingPathComponent(idOrPath)) }
        let matches = ids.filter { $0.hasPrefix(idOrPath) || $0.contains(idOrPath) }
        guard !matches.isEmpty else {
            let near = Self.nearMatches(idOrPath, in: ids)
            let hint = near.isEmpty ? "" : "; near matches: " + near.joined(separator: ", ")
            throw TrainingError.session(path: idOrPath, message: "no such session in \(root.path)\(hint) (see `cnntui runs`)")
        }
        guard matches.count == 1 else {
            throw TrainingError.session(path: idOrPath, message: "ambiguous, matches \(matches.joined(separator: ", "))")
        }
        return Session(id: matches[0], url: root.appendingPathComponent(matches[0]))
    }

    /// The IDs that hold `query` with the fewest typing errors (at most a third of its length, at least 1),
    /// closest first, at most 5: the edit distance of `query` to the best-matching part of each ID.
    static func nearMatches(_ query: String, in ids: [String]) -> [String] {
        let q = Array(query.lowercased())
        guard !q.isEmpty else { return [] }
        let allowed = max(1, q.count / 3)
        func distance(_ id: String) -> Int {
            // Sellers' approximate substring match: a match may start anywhere in the ID (row 0 is all 0).
            let t = Array(id.lowercased())
            var previous = [Int](repeating: 0, count: t.count + 1)
            for i in 1...q.count {
                var current = [i] + [Int](repeating: 0, count: t.count)
                for j in stride(from: 1, through: t.count, by: 1) {
                    current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (q[i - 1] == t[j - 1] ? 0 : 1))
                }
                previous = current
            }
            return previous.min() ?? q.count
        }
        let scored: [(id: String, distance: Int)] = ids.map { ($0, distance($0)) }
        let near = scored.filter { $0.distance <= allowed }.sorted { a, b in
            a.distance != b.distance ? a.distance < b.distance : a.id < b.id
        }
        return near.prefix(5).map(\.id)
    }

    /// Session directories (those with a config.json), oldest first.
    public func sessionIDs() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.filter {
            FileManager.default.fileExists(atPath: root.appendingPathComponent($0).appendingPathComponent("config.json").path)
        }.sorted()
    }

    static func slug(_ s: String) -> String {
        let name = URL(fileURLWithPath: s).lastPathComponent
        let kept = name.lowercased().map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-" ? $0 : "_" }
        return String(kept.prefix(40))
    }
}

/// One run's directory:
///
///     config.json             the resolved TrainingConfig (seed and versions included)
///     model.cnn               for a network written as a spec file: the copy it was trained with
///     dataset.json            class names, image shape, normalisation (what `predict` needs)
///     metrics.jsonl           one JSON object per line: step records (means over `metrics_every` steps),
///                             epochs, learning-rate changes
///     metrics.csv             the same records as a table
///     events.jsonl            every event of the run, one JSON object a line, appended as it happens
///                             (`SessionEvents`; what `cnntui attach` follows)
///     checkpoints/last -> ckpt-000007     symlinks, replaced atomically
///     checkpoints/best -> ckpt-000005
///     checkpoints/ckpt-000007/model.safetensors       the model's state dict exactly (PyTorch names)
///     checkpoints/ckpt-000007/optimizer.safetensors   optimizer moments and counters
///     checkpoints/ckpt-000007/train_state.json        position, schedule, RNG, running epoch and record sums
///
/// A checkpoint directory is written under a temporary name, fsynced, renamed into place, and only then
/// do `last`/`best` move to it; `kill -9` at any moment leaves the previous checkpoint whole.
public struct Session: Sendable, Equatable {
    public let id: String
    public let url: URL

    public init(id: String, url: URL) {
        self.id = id
        self.url = url
    }

    public var configURL: URL { url.appendingPathComponent("config.json") }
    public var datasetURL: URL { url.appendingPathComponent("dataset.json") }
    public var metricsJSONLURL: URL { url.appendingPathComponent("metrics.jsonl") }
    public var metricsCSVURL: URL { url.appendingPathComponent("metrics.csv") }
    /// Per-layer health records (`HealthLog`).
    public var healthJSONLURL: URL { url.appendingPathComponent("health.jsonl") }
    /// Why a run stopped before its end (a NaN or an infinity), when it did; a resume removes it.
    public var stoppedURL: URL { url.appendingPathComponent("stopped.json") }
    public var checkpointsURL: URL { url.appendingPathComponent("checkpoints") }
    /// Every event of the run, one line each (`SessionEvents`, `EventFile`).
    public var eventsURL: URL { url.appendingPathComponent("events.jsonl") }

    /// The copy of the spec file a session's network was built from, if it was built from one.
    public var specURL: URL { url.appendingPathComponent("model." + NetworkSpec.fileExtension) }

    /// The config as written; a network from a spec file is read from the session's own copy of it
    /// (resume, eval, export, predict), so editing or moving the original changes no past run.
    public func readConfig() throws -> TrainingConfig {
        var config = try JSONFile.read(TrainingConfig.self, from: configURL, invalid: "not a valid config") {
            TrainingError.session(path: configURL.path, message: $0)
        }
        if NetworkSpec.isPath(config.model), FileManager.default.fileExists(atPath: specURL.path) { config.model = specURL.path }
        return config
    }

    /// Copies the spec file of a network written as one into the session.
    func keepSpec(of config: TrainingConfig) throws {
        guard NetworkSpec.isPath(config.model) else { return }
        do {
            try FileManager.default.copyItem(atPath: config.model, toPath: specURL.path)
        } catch {
            throw TrainingError.session(path: specURL.path, message: "cannot keep a copy of \(config.model): \(error.localizedDescription)")
        }
    }

    func writeConfig(_ config: TrainingConfig) throws { try JSONFile.write(config, to: configURL) }

    public func readDataset() throws -> SessionDataset {
        try JSONFile.read(SessionDataset.self, from: datasetURL, invalid: "not valid dataset info") {
            TrainingError.session(path: datasetURL.path, message: $0)
        }
    }

    func writeDataset(_ info: SessionDataset) throws { try JSONFile.write(info, to: datasetURL) }

    /// The checkpoint directory `last` or `best` points to, if it exists.
    public func checkpoint(_ slot: CheckpointSlot) -> URL? {
        let link = checkpointsURL.appendingPathComponent(slot.rawValue)
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: link.path) else { return nil }
        let resolved = checkpointsURL.appendingPathComponent(target)
        return FileManager.default.fileExists(atPath: resolved.path) ? resolved : nil
    }

    /// What `cnntui runs` shows of the last checkpoint; unreadable parts stay nil.
    public func summary() -> SessionSummary {
        let config = try? readConfig()
        let state = checkpoint(.last).flatMap { try? CheckpointStore.readTrainState(in: $0) }
        let best = checkpoint(.best).flatMap { try? CheckpointStore.readTrainState(in: $0) }
        return SessionSummary(id: id, path: url.path, model: config?.model, dataset: config?.dataset,
                              epochs: config?.epochs, epochsDone: state.map { $0.position.epoch - 1 },
                              globalStep: state?.position.globalStep, lastTestAccuracy: state?.position.lastTestAccuracy,
                              bestTestAccuracy: best?.position.bestTestAccuracy ?? state?.position.bestTestAccuracy,
                              finished: state?.finished ?? false)
    }
}

public enum CheckpointSlot: String, Sendable, CaseIterable {
    case last, best
}

public struct SessionSummary: Sendable, Equatable {
    public var id: String
    public var path: String
    public var model: String?
    public var dataset: String?
    public var epochs: Int?
    /// Whole epochs trained, per the last checkpoint.
    public var epochsDone: Int?
    public var globalStep: Int?
    public var lastTestAccuracy: Float?
    public var bestTestAccuracy: Float?
    public var finished: Bool

    public init(id: String, path: String, model: String?, dataset: String?, epochs: Int?, epochsDone: Int?,
                globalStep: Int?, lastTestAccuracy: Float?, bestTestAccuracy: Float?, finished: Bool) {
        self.id = id; self.path = path; self.model = model; self.dataset = dataset; self.epochs = epochs
        self.epochsDone = epochsDone; self.globalStep = globalStep; self.lastTestAccuracy = lastTestAccuracy
        self.bestTestAccuracy = bestTestAccuracy; self.finished = finished
    }
}

/// What a session records about its dataset, so `predict` can prepare an image without loading it.
public struct SessionDataset: Codable, Sendable, Equatable {
    public var name: String
    public var classNames: [String]
    /// [C, H, W]
    public var shape: [Int]
    public var mean: [Float]
    public var std: [Float]
    public var trainCount: Int
    public var testCount: Int
    /// For an image folder: the side and resize rule, pictures per class, the skipped pictures, the measured
    /// mean and std, and (for a folder with only train/) the fraction and seed its test split was made with.
    public var imageFolder: ImageFolderReport?

    public init(name: String, classNames: [String], shape: [Int], mean: [Float], std: [Float], trainCount: Int,
                testCount: Int, imageFolder: ImageFolderReport? = nil) {
        self.name = name; self.classNames = classNames; self.shape = shape; self.mean = mean; self.std = std
        self.trainCount = trainCount; self.testCount = testCount; self.imageFolder = imageFolder
    }

    enum CodingKeys: String, CodingKey {
        case name, shape, mean, std
        case classNames = "class_names", trainCount = "train_count", testCount = "test_count"
        case imageFolder = "image_folder"
    }
}
