import Data
import Engine
import Foundation
import Models

/// What to run: a new session from a resolved config, or the continuation of an existing one.
public struct RunRequest: Sendable {
    public enum Origin: Sendable {
        case new(TrainingConfig)
        /// Continue session `id` from its last checkpoint; `epochs` raises (or lowers) the total.
        case resume(id: String, epochs: Int?)
        /// Train the config of a session `SessionStore.create` made and nothing has trained yet: how
        /// `train --detach` knows the session's ID before the background process starts.
        case created(Session)
    }

    public var origin: Origin
    public var sessions: SessionStore
    public var sources: RunSources
    /// Act as if `.stop` arrived at the first batch boundary after this many optimizer steps
    /// (the deterministic "stop here" that the resume tests use).
    public var stopAtGlobalStep: Int?
    /// Pause at the first batch boundary, before any step (the UI can show the run, then start it).
    public var startPaused: Bool
    /// What a NaN or an infinity in the loss or a gradient does: the dashboard pauses (the user can lower the
    /// learning rate and resume), headless runs stop with `.failed`.
    public var onAnomaly: AnomalyAction
    /// Seconds between layer views while a layer is watched (tests use 0: every batch boundary).
    public var layerViewInterval: Double

    public init(_ origin: Origin, sessions: SessionStore, sources: RunSources = .standard,
                stopAtGlobalStep: Int? = nil, startPaused: Bool = false, onAnomaly: AnomalyAction = .stop,
                layerViewInterval: Double = 1) {
        self.onAnomaly = onAnomaly
        self.layerViewInterval = layerViewInterval
        self.origin = origin
        self.sessions = sessions
        self.sources = sources
        self.stopAtGlobalStep = stopAtGlobalStep
        self.startPaused = startPaused
    }
}

public enum AnomalyAction: String, Sendable {
    /// Post `.anomaly`, then `.stateChanged(.paused)`; the bad step is skipped.
    case pause
    /// Post `.anomaly`, keep the last good checkpoint, write `stopped.json`, end with `.failed`.
    case stop
}

/// Where the engine thread gets its dataset and model. `.standard` uses the catalog and the zoo;
/// tests pass an in-memory dataset and a tiny network. Both run on the engine thread.
public struct RunSources: Sendable {
    /// The dataset a config names; an image folder's first decoding reports to the progress function, if given.
    public var loadDataset: @Sendable (TrainingConfig, DecodeProgress?) throws -> Dataset
    public var buildModel: @Sendable (_ config: TrainingConfig, _ inputShape: [Int], _ classes: Int) throws -> Network

    public init(loadDataset: @escaping @Sendable (TrainingConfig, DecodeProgress?) throws -> Dataset,
                buildModel: @escaping @Sendable (TrainingConfig, [Int], Int) throws -> Network) {
        self.loadDataset = loadDataset
        self.buildModel = buildModel
    }

    public static let standard = RunSources(
        loadDataset: { config, progress in try loadFromCatalog(config, progress: progress) },
        buildModel: { config, inputShape, classes in
            do { return try ModelZoo.build(config.model, inputShape: inputShape, classes: classes, seed: config.seed) } catch {
                throw TrainingError.invalidFlag(flag: "--model", message: "'\(config.model)': \(error)")
            }
        })
}

extension RunSources {
    /// The dataset a config names, an image folder read with the config's options; errors name the flag at fault.
    static func loadFromCatalog(_ config: TrainingConfig, progress: DecodeProgress?) throws -> Dataset {
        do {
            return try DatasetCatalog.load(config.dataset, dataDir: config.dataDirectory, folderOptions: config.folderOptions,
                                           progress: progress)
        } catch let error as DataError where error.path.hasPrefix("--") {
            throw TrainingError.invalidFlag(flag: error.path, message: error.problem)
        } catch {
            throw TrainingError.invalidFlag(flag: "--dataset", message: "'\(config.dataset)': \(error)")
        }
    }
}

/// A running training: send it commands, drain its events, wait for it to end.
public final class TrainingHandle: RunControl {
    /// Events from the engine; poll `events.wakeFileDescriptor` and call `events.drain()`.
    public let events: EventChannel
    let commands: CommandQueue
    private let done: DispatchGroup

    init(events: EventChannel, commands: CommandQueue, done: DispatchGroup) {
        self.events = events
        self.commands = commands
        self.done = done
    }

    /// Takes effect at the next batch boundary (or at once while paused); always accepted.
    @discardableResult
    public func send(_ command: TrainingCommand) -> String? {
        commands.send(command)
        return nil
    }

    /// Blocks until the engine thread has ended (finished, stopped or failed).
    public func wait() { done.wait() }

    /// Like `wait()`, giving up after `seconds`; true when the engine has ended.
    public func wait(seconds: Double) -> Bool { done.wait(timeout: .now() + seconds) == .success }
}

/// Starts training on a dedicated Foundation thread (it computes for seconds at a time, which the
/// cooperative pool must not be asked to do). Only the Sendable request crosses over: the thread
/// builds the dataset, model, loader and optimizer itself.
public enum Trainer {
    public static func start(_ request: RunRequest) -> TrainingHandle {
        let events = EventChannel()
        let commands = CommandQueue()
        let done = DispatchGroup()
        if request.startPaused { commands.send(.pause) }
        done.enter()
        let thread = Thread {
            TrainingLoop.run(request, events: events, commands: commands)
            done.leave()
        }
        thread.name = "cnntui-engine"
        thread.stackSize = 16 << 20
        thread.start()
        return TrainingHandle(events: events, commands: commands, done: done)
    }
}
