import Data
import Engine
import Foundation

/// `cnntui export --pytorch DIR`: a small PyTorch project that trains a run's recipe with torch (one process or
/// torchrun), writes its run as a cnntui session, and continues the run's last checkpoint.
///
///     DIR/train.py data.py schedules.py cnntui_session.py README.md requirements.txt ...   every file of Assets/pytorch
///     DIR/model.py                 the network as an nn.Module (`PyTorchModelSource`), state-dict names as cnntui's
///     DIR/recipe.json              the resolved recipe (`PyTorchRecipe`) that train.py reads
///     DIR/checkpoint/              the session's last checkpoint, and in checkpoint/history/ its metrics, events and
///                                  health files, so `train.py --resume checkpoint` continues the run with its history
///
/// Every file of `Assets/pytorch` is copied as it is, so templates added there later ship without a change here.
public enum PyTorchExport {
    /// What an export was made from.
    public struct Source {
        public var config: TrainingConfig
        /// The session, when exporting one (its checkpoint and hand-made LR changes come along).
        public var session: Session?
        public init(config: TrainingConfig, session: Session? = nil) {
            self.config = config
            self.session = session
        }
    }

    /// What was written.
    public struct Report: Sendable, Equatable {
        public var directory: URL
        /// File names written at the top of the directory, sorted.
        public var files: [String]
        /// The copy of the session's last checkpoint (nil: the recipe alone).
        public var checkpoint: URL?
        /// Things the user should know (a session without a checkpoint, ...), one sentence each.
        public var notes: [String]
    }

    /// The project's folder inside the assets folder.
    public static let templatesFolder = "pytorch"

    /// Writes the project for `source` into `directory`. Refuses a directory that exists and is not empty unless
    /// `force` (then files of the same name are replaced, others left alone), and a dataset data.py cannot read.
    /// `assets`: the folder holding `pytorch/` (`ExportAssets.locate()`).
    public static func write(_ source: Source, to directory: URL, force: Bool, assets: URL,
                             sources: RunSources = .standard) throws -> Report {
        let fm = FileManager.default
        try ExportDirectory.check(directory, flag: "--pytorch", force: force)
        let templates = try templateFiles(in: assets)

        var config = source.config
        let dataset = try sources.loadDataset(config, nil)
        guard let format = DatasetCatalog.format(of: dataset.source) else {
            throw TrainingError.invalidFlag(
                flag: "--dataset", message: "'\(config.dataset)' (from \(dataset.source)) cannot be expressed in the "
                    + "PyTorch export: its data.py reads IDX files, CIFAR-10 binary batches or their tarball, and "
                    + "train/CLASS/ + test/CLASS/ image folders")
        }
        if config.augmentation == nil { config.augmentation = dataset.defaultAugmentation.description }
        let network = try sources.buildModel(config, dataset.shape, dataset.classNames.count)

        var notes: [String] = []
        var checkpoint: URL?
        var manual: [PyTorchRecipe.ManualChange] = []
        if let session = source.session {
            checkpoint = session.checkpoint(.last)
            let state = try checkpoint.map { try CheckpointStore.readTrainState(in: $0) }
            let records = try MetricsLog.read(session.metricsJSONLURL, limit: state?.metricsCount ?? .max)
            manual = records.filter { $0.kind == .lr && $0.lrChange == "manual" }.map {
                PyTorchRecipe.ManualChange(epoch: $0.epoch, globalStep: $0.globalStep, lr: $0.lr, time: $0.time)
            }
            if checkpoint == nil {
                notes.append("session \(session.id) has no checkpoint yet: exported the recipe alone "
                             + "(train.py starts from scratch)")
            }
        }
        let recipe = try PyTorchRecipe(config: config, dataset: dataset, format: format, network: network,
                                   session: source.session?.id, checkpoint: checkpoint == nil ? nil : checkpointFolder,
                                   manualChanges: manual)

        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        var written: [String] = []
        for template in templates {
            let target = directory.appendingPathComponent(template.lastPathComponent)
            try AtomicFile.write(try Data(contentsOf: template), to: target)
            written.append(template.lastPathComponent)
        }
        try AtomicFile.write(Data(try PyTorchModelSource.generate(network, model: config.model).utf8),
                             to: directory.appendingPathComponent("model.py"))
        try AtomicFile.write(try recipe.json(), to: directory.appendingPathComponent(recipeFile))
        written += ["model.py", recipeFile]
        var copied: URL?
        if let checkpoint, let session = source.session {
            copied = try copyCheckpoint(checkpoint, session: session, into: directory.appendingPathComponent(checkpointFolder))
        }
        return Report(directory: directory, files: written.sorted(), checkpoint: copied, notes: notes)
    }

    static let recipeFile = "recipe.json"
    static let checkpointFolder = "checkpoint"

    /// The regular files of `assets/pytorch`, by name (hidden files and Python caches left out).
    static func templateFiles(in assets: URL) throws -> [URL] {
        let folder = assets.appendingPathComponent(templatesFolder)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let files = names.sorted().filter { name in
            var isDirectory: ObjCBool = false
            return !name.hasPrefix(".") && !name.hasSuffix(".pyc")
                && FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path, isDirectory: &isDirectory)
                && !isDirectory.boolValue
        }.map { folder.appendingPathComponent($0) }
        guard files.contains(where: { $0.lastPathComponent == "train.py" }) else {
            throw TrainingError.setup(message: "\(folder.path): no train.py there (the PyTorch templates are missing)")
        }
        return files
    }

    /// Copies the checkpoint's three files, and the session's metrics, events and health files beside them in
    /// `history/` (train.py keeps of them what the checkpoint covers).
    private static func copyCheckpoint(_ checkpoint: URL, session: Session, into target: URL) throws -> URL {
        let fm = FileManager.default
        let history = target.appendingPathComponent("history")
        try fm.createDirectory(at: history, withIntermediateDirectories: true)
        for name in [CheckpointStore.modelFile, CheckpointStore.optimizerFile, CheckpointStore.stateFile] {
            try AtomicFile.write(try Data(contentsOf: checkpoint.appendingPathComponent(name)),
                                 to: target.appendingPathComponent(name))
        }
        for file in [session.metricsJSONLURL, session.eventsURL, session.healthJSONLURL, session.configURL]
        where fm.fileExists(atPath: file.path) {
            try AtomicFile.write(try Data(contentsOf: file), to: history.appendingPathComponent(file.lastPathComponent))
        }
        return target
    }
}

/// recipe.json: everything train.py needs to train the run as cnntui would, in plain JSON that reads well.
/// `config` is the session's config.json exactly (train.py writes it back into the session it makes); the other
/// sections are what cnntui resolved from it: the schedule's parameters, where the dataset's files are and how they
/// are normalised and augmented, the network's shape and layers, and the learning-rate changes made by hand.
struct PyTorchRecipe: Encodable {
    struct ManualChange: Encodable, Equatable {
        var epoch: Int
        var globalStep: Int
        var lr: Float
        var time: Double?
        enum CodingKeys: String, CodingKey { case epoch, lr, time, globalStep = "global_step" }
    }

    struct Schedule: Encodable {
        var kind: String
        var spec: String
        var epochs: Int?
        var gamma: Double?
        var milestones: [Int]?
        var warmupEpochs: Int?
        var min: Double?
        var start: Double?
        var mode: String?
        var factor: Double?
        var patience: Int?
        var threshold: Double?
        var thresholdMode: String?
        var cooldown: Int?
        var eps: Double?
        enum CodingKeys: String, CodingKey {
            case kind, spec, epochs, gamma, milestones, min, start, mode, factor, patience, threshold, cooldown, eps
            case warmupEpochs = "warmup_epochs", thresholdMode = "threshold_mode"
        }

        init(_ text: String) throws {
            let parsed: ScheduleSpec
            do { parsed = try ScheduleSpec.parse(text) } catch {
                throw TrainingError.invalidFlag(flag: "--schedule", message: "\(error)")
            }
            spec = parsed.description
            switch parsed {
            case .constant:
                kind = "constant"
            case let .step(epochs, gamma):
                kind = "step"; self.epochs = epochs; self.gamma = gamma
            case let .multiStep(milestones, gamma):
                kind = "multistep"; self.milestones = milestones; self.gamma = gamma
            case let .warmupCosine(warmup, minimum, start):
                kind = "cosine"; warmupEpochs = warmup; min = minimum; self.start = start
            case let .plateau(o):
                kind = "plateau"; mode = o.mode.rawValue; factor = o.factor; patience = o.patience
                threshold = o.threshold; thresholdMode = o.thresholdMode.rawValue; cooldown = o.cooldown
                min = o.minLearningRate; eps = o.eps
            }
        }
    }

    struct DatasetSection: Encodable {
        var name: String
        var kind: String
        /// The folder (or CIFAR-10 tarball) cnntui read; data.py's --data-dir replaces it.
        var path: String
        var shape: [Int]
        var classNames: [String]
        var mean: [Float]
        var std: [Float]
        /// Image folders: the side pictures are resized to, the rule (`stretch`, `crop`), the pictures cnntui
        /// could not read (relative to `path`; data.py leaves them out too) and, for a folder with only train/,
        /// how its test split was drawn.
        var imageSize: Int?
        var resize: String?
        var skipped: [String]?
        var heldOutTest: HeldOutTest?
        var augmentation: AugmentationSection
        enum CodingKeys: String, CodingKey {
            case name, kind, path, shape, mean, std, augmentation, resize, skipped
            case classNames = "class_names", imageSize = "image_size", heldOutTest = "held_out_test"
        }
    }

    struct AugmentationSection: Encodable {
        var spec: String
        var padCrop: Int
        var flip: Bool
        enum CodingKeys: String, CodingKey { case spec, flip, padCrop = "pad_crop" }
    }

    struct ModelSection: Encodable {
        var name: String
        var inputShape: [Int]
        var numClasses: Int
        var parameterCount: Int
        /// The trainable parameters in cnntui's optimizer order: `exp_avg.<i>` of optimizer.safetensors belongs to
        /// the i-th name.
        var trainableParameters: [String]
        /// The layer tree as cnntui's dashboard shows it (the `started` event's `layers`).
        var layers: [LayerInfo]
        enum CodingKeys: String, CodingKey {
            case name, layers
            case inputShape = "input_shape", numClasses = "num_classes", parameterCount = "parameter_count"
            case trainableParameters = "trainable_parameters"
        }
    }

    struct Origin: Encodable {
        var cnntui: String
        var session: String?
        /// The copy of the session's last checkpoint in the project (relative), for `train.py --resume`.
        var checkpoint: String?
    }

    var format = "cnntui-pytorch-recipe"
    var version = 1
    var exportedFrom: Origin
    var config: TrainingConfig
    var schedule: Schedule
    var dataset: DatasetSection
    var model: ModelSection
    var manualLRChanges: [ManualChange]

    enum CodingKeys: String, CodingKey {
        case format, version, config, schedule, dataset, model
        case exportedFrom = "exported_from", manualLRChanges = "manual_lr_changes"
    }

    init(config: TrainingConfig, dataset: Dataset, format: DatasetFormat, network: Network, session: String?,
         checkpoint: String?, manualChanges: [ManualChange]) throws {
        exportedFrom = Origin(cnntui: TrainingConfig.version, session: session, checkpoint: checkpoint)
        self.config = config
        schedule = try Schedule(config.schedule)
        let augmentation: Augmentation
        let spec = config.augmentation ?? dataset.defaultAugmentation.description
        do { augmentation = try Augmentation.parse(spec) } catch {
            throw TrainingError.invalidFlag(flag: "--augment", message: "'\(spec)': \(error)")
        }
        self.dataset = DatasetSection(
            name: dataset.name, kind: format.rawValue, path: dataset.source, shape: dataset.shape,
            classNames: dataset.classNames, mean: dataset.mean, std: dataset.std,
            imageSize: format == .imageFolder ? dataset.shape[1] : nil,
            resize: dataset.folder?.resize.rawValue, skipped: dataset.folder?.skipped.map(\.path),
            heldOutTest: dataset.folder?.heldOutTest,
            augmentation: AugmentationSection(spec: augmentation.description, padCrop: augmentation.padCrop,
                                              flip: augmentation.horizontalFlip))
        model = ModelSection(name: config.model, inputShape: network.inputShape, numClasses: network.classes,
                             parameterCount: network.parameterCount,
                             trainableParameters: network.stateDict.filter { $0.1.isTrainable }.map(\.0),
                             layers: TrainingLoop.layers(of: network))
        manualLRChanges = manualChanges
    }

    /// Pretty-printed with sorted keys, as cnntui's own JSON files.
    func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(self)
        data.append(UInt8(ascii: "\n"))
        return data
    }
}

/// Where the files cnntui ships besides its code (`Assets/`, holding `pytorch/`) are at run time.
public enum ExportAssets {
    /// `$CNNTUI_ASSETS` if set; else the first folder holding `Assets/pytorch` upward from the executable's real path
    /// (a build in a clone: `.build/release` is a symlink into `.build/<triple>/release`); else
    /// `<prefix>/share/cnntui/Assets` beside an installed `<prefix>/bin/cnntui`. Throws saying where it looked.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment,
                              executable: URL? = Bundle.main.executableURL) throws -> URL {
        func holdsTemplates(_ url: URL) -> Bool {
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: url.appendingPathComponent(PyTorchExport.templatesFolder).path,
                                                  isDirectory: &isDirectory) && isDirectory.boolValue
        }
        if let variable = environment["CNNTUI_ASSETS"], !variable.isEmpty {
            let url = URL(fileURLWithPath: variable)
            guard holdsTemplates(url) else {
                throw TrainingError.setup(message: "CNNTUI_ASSETS=\(variable): no \(PyTorchExport.templatesFolder)/ folder there")
            }
            return url
        }
        var looked: [String] = []
        if let executable {
            let real = executable.resolvingSymlinksInPath()
            var folder = real.deletingLastPathComponent()
            while true {
                let candidate = folder.appendingPathComponent("Assets")
                if holdsTemplates(candidate) { return candidate }
                let parent = folder.deletingLastPathComponent()
                if parent.path == folder.path { break }
                folder = parent
            }
            looked.append("Assets/ in the folders above \(real.path)")
            let installed = real.deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("share/cnntui/Assets")
            if holdsTemplates(installed) { return installed }
            looked.append(installed.path)
        }
        throw TrainingError.setup(message: "the export's templates (Assets/\(PyTorchExport.templatesFolder)) were not found; "
            + "looked in \(looked.joined(separator: " and ")); set CNNTUI_ASSETS to the Assets folder of a cnntui clone, "
            + "or install with scripts/install")
    }
}
