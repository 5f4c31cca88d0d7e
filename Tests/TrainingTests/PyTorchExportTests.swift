import Data
import Engine
import Foundation
import Models
import Testing
@testable import Training

/// The repository's `Assets/` (the templates the export copies), found from this file's path.
private let repositoryAssets = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Assets")

/// A folder that the catalogue takes for an IDX dataset (the file names are what it looks at).
private func idxFolder() throws -> URL {
    let folder = try temporaryDirectory("idx")
    for name in ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz"] {
        try Data().write(to: folder.appendingPathComponent(name))
    }
    return folder
}

/// MyCNN on a 28x28 grey dataset whose files are `source` (the images themselves are a few synthetic ones).
private func mycnnSources(source: String) -> RunSources {
    RunSources(
        loadDataset: { _, _ in
            let blank = ImageSet(channels: 1, height: 28, width: 28, pixels: [UInt8](repeating: 7, count: 4 * 784),
                                 labels: [0, 1, 2, 3])
            return Dataset(name: "fashion-mnist", classNames: (0..<10).map { "class \($0)" }, train: blank, test: blank,
                           mean: [0.286], std: [0.353], source: source)
        },
        buildModel: { config, shape, classes in
            try ModelZoo.build(config.model, inputShape: shape, classes: classes, seed: config.seed)
        })
}

private func mycnnConfig() -> TrainingConfig {
    TrainingConfig(model: "mycnn", dataset: "fashion-mnist", epochs: 3, batchSize: 64, optimizer: .sgd,
                   learningRate: 0.01, momentum: 0.9, weightDecay: 5e-4, schedule: "cosine:warmup=1:min=0.0001",
                   labelSmoothing: 0.1, augmentation: "crop", validationFraction: 0.1, seed: 3, threads: 2,
                   limitTrain: 6000, limitTest: 1000, metricsEvery: 10, versions: ["cnntui": "0.1.0", "session_format": "1"])
}

private func recipe(in directory: URL) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("recipe.json"))) as? [String: Any] ?? [:]
}

@Suite struct PyTorchExportTests {
    @Test func writesTheProjectAndEveryPythonFileCompiles() throws {
        let data = try idxFolder()
        let target = try temporaryDirectory("project").appendingPathComponent("project")
        let report = try PyTorchExport.write(PyTorchExport.Source(config: mycnnConfig()), to: target, force: false,
                                             assets: repositoryAssets, sources: mycnnSources(source: data.path))
        for name in ["train.py", "data.py", "schedules.py", "cnntui_session.py", "model.py", "recipe.json", "README.md",
                     "requirements.txt"] {
            #expect(report.files.contains(name), "\(name) missing from \(report.files)")
        }
        #expect(report.checkpoint == nil && report.notes.isEmpty)
        // Every template file ships, whatever it is called (files added to Assets/pytorch later come along).
        let templates = try FileManager.default.contentsOfDirectory(atPath: repositoryAssets.appendingPathComponent("pytorch").path)
            .filter { !$0.hasPrefix(".") && $0 != "__pycache__" }
        #expect(Set(templates).isSubset(of: Set(report.files)))

        let python = report.files.filter { $0.hasSuffix(".py") }.map { target.appendingPathComponent($0).path }
        let compile = Process()
        compile.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        compile.arguments = ["python3", "-m", "py_compile"] + python
        compile.environment = ProcessInfo.processInfo.environment.merging(["PYTHONPYCACHEPREFIX": target.appendingPathComponent(".pycache").path]) { $1 }
        try compile.run()
        compile.waitUntilExit()
        #expect(compile.terminationStatus == 0, "python3 -m py_compile failed on \(python)")

        let written = try recipe(in: target)
        let dataset = written["dataset"] as? [String: Any]
        #expect(dataset?["kind"] as? String == "idx")
        #expect(dataset?["path"] as? String == data.path)
        let schedule = written["schedule"] as? [String: Any]
        #expect(schedule?["kind"] as? String == "cosine" && schedule?["warmup_epochs"] as? Int == 1)
    }

    /// The whole recipe of one export, against a reviewed copy: every field train.py reads, in the form it reads it.
    @Test func recipeMatchesTheGoldenFile() throws {
        let sources = mycnnSources(source: "/data/fashion-mnist")
        let config = mycnnConfig()
        let dataset = try sources.loadDataset(config, nil)
        let network = try sources.buildModel(config, dataset.shape, 10)
        let recipe = try PyTorchRecipe(
            config: config, dataset: dataset, format: .idx, network: network, session: "20261130-120000-mycnn-fashion-mnist",
            checkpoint: "checkpoint",
            manualChanges: [.init(epoch: 1, globalStep: 120, lr: 0.005, time: 1_796_000_000.5)])
        let text = String(decoding: try recipe.json(), as: UTF8.self)
        let golden = try #require(Bundle.module.url(forResource: "pytorch_recipe_mycnn", withExtension: "json",
                                                    subdirectory: "Fixtures"))
        let expected = try String(contentsOf: golden, encoding: .utf8)
        if text != expected {
            let actual = FileManager.default.temporaryDirectory.appendingPathComponent("pytorch_recipe_mycnn.actual.json")
            try text.write(to: actual, atomically: true, encoding: .utf8)
            Issue.record("recipe.json differs from Fixtures/pytorch_recipe_mycnn.json; this export's is in \(actual.path)")
        }
    }

    @Test func refusesANonEmptyDirectoryUnlessForced() throws {
        let data = try idxFolder()
        let target = try temporaryDirectory("busy")
        try Data("mine".utf8).write(to: target.appendingPathComponent("notes.txt"))
        let source = PyTorchExport.Source(config: mycnnConfig())
        #expect {
            try PyTorchExport.write(source, to: target, force: false, assets: repositoryAssets,
                                    sources: mycnnSources(source: data.path))
        } throws: { error in
            guard case let .invalidFlag(flag, message) = error as? TrainingError else { return false }
            return flag == "--pytorch" && message.contains(target.path) && message.contains("--force")
        }
        #expect(!FileManager.default.fileExists(atPath: target.appendingPathComponent("train.py").path))
        _ = try PyTorchExport.write(source, to: target, force: true, assets: repositoryAssets,
                                    sources: mycnnSources(source: data.path))
        #expect(FileManager.default.fileExists(atPath: target.appendingPathComponent("train.py").path))
        #expect(try String(contentsOf: target.appendingPathComponent("notes.txt"), encoding: .utf8) == "mine")
    }

    @Test func refusesADatasetItCannotExpressNamingIt() throws {
        let target = try temporaryDirectory("unexpressed").appendingPathComponent("out")
        #expect {
            try PyTorchExport.write(PyTorchExport.Source(config: TinyRun.config()), to: target, force: false,
                                    assets: repositoryAssets, sources: TinyRun.sources)
        } throws: { error in
            guard case let .invalidFlag(flag, message) = error as? TrainingError else { return false }
            return flag == "--dataset" && message.contains("'synthetic'") && message.contains("memory")
        }
        #expect(!FileManager.default.fileExists(atPath: target.path))
    }

    @Test func aSessionWithoutACheckpointExportsTheRecipeAloneAndSaysSo() throws {
        let data = try idxFolder()
        let store = SessionStore(root: try temporaryDirectory("sessions"))
        let session = try store.create(config: mycnnConfig())
        let target = try temporaryDirectory("recipe-alone").appendingPathComponent("out")
        let report = try PyTorchExport.write(PyTorchExport.Source(config: mycnnConfig(), session: session), to: target,
                                             force: false, assets: repositoryAssets, sources: mycnnSources(source: data.path))
        #expect(report.checkpoint == nil)
        #expect(report.notes.count == 1 && report.notes[0].contains("no checkpoint") && report.notes[0].contains(session.id))
        let origin = try recipe(in: target)["exported_from"] as? [String: Any]
        #expect(origin?["session"] as? String == session.id && origin?["checkpoint"] == nil)
        #expect(!FileManager.default.fileExists(atPath: target.appendingPathComponent("checkpoint").path))
    }

    /// A trained session: its last checkpoint and its history travel along, and a rate set by hand is in the table.
    @Test func aTrainedSessionExportsItsCheckpointHistoryAndManualRates() throws {
        let data = try idxFolder()
        let store = SessionStore(root: try temporaryDirectory("trained"))
        let tiny = TinyRun.dataset()
        let sources = RunSources(
            loadDataset: { _, _ in Dataset(name: tiny.name, classNames: tiny.classNames, train: tiny.train, test: tiny.test,
                                        mean: tiny.mean, std: tiny.std, source: data.path) },
            buildModel: TinyRun.sources.buildModel)
        var sent = false
        let events = TinyRun.run(RunRequest(.new(TinyRun.config(epochs: 1, schedule: "constant")), sessions: store,
                                            sources: sources, startPaused: true)) { handle, event in
            // Started paused, so that the rate is set before the first step however fast the tiny run goes
            // (sent to a running one, it could finish first on a loaded machine).
            if case .started = event, !sent {
                sent = true
                _ = handle.send(.setLearningRate(0.004))
                _ = handle.send(.resume)
            }
        }
        let path = try #require(TinyRun.session(of: events))
        let session = try store.open(path)
        let target = try temporaryDirectory("with-checkpoint").appendingPathComponent("out")
        let report = try PyTorchExport.write(PyTorchExport.Source(config: try session.readConfig(), session: session),
                                             to: target, force: false, assets: repositoryAssets, sources: sources)
        let checkpoint = try #require(report.checkpoint)
        for name in ["model.safetensors", "optimizer.safetensors", "train_state.json", "history/metrics.jsonl",
                     "history/events.jsonl"] {
            #expect(FileManager.default.fileExists(atPath: checkpoint.appendingPathComponent(name).path), "\(name)")
        }
        let written = try recipe(in: target)
        let changes = written["manual_lr_changes"] as? [[String: Any]] ?? []
        #expect(changes.count == 1 && (changes.first?["lr"] as? Double).map { abs($0 - 0.004) < 1e-7 } == true)
        #expect((written["exported_from"] as? [String: Any])?["checkpoint"] as? String == "checkpoint")
    }

    /// The optimizer's state index `i` (`exp_avg.<i>`, `momentum_buffer.<i>`) is the i-th name of the recipe's
    /// `trainable_parameters`, with that parameter's shape: what train.py maps to torch's per-parameter state.
    @Test(arguments: [TrainingConfig.OptimizerKind.sgd, .adam, .adamw])
    func optimizerStateIndicesFollowTheRecipesParameterNames(_ kind: TrainingConfig.OptimizerKind) throws {
        var config = mycnnConfig()
        config.optimizer = kind
        let sources = mycnnSources(source: "/data/fashion-mnist")
        let dataset = try sources.loadDataset(config, nil)
        let network = try sources.buildModel(config, dataset.shape, 10)
        let recipe = try PyTorchRecipe(config: config, dataset: dataset, format: .idx, network: network, session: nil,
                                       checkpoint: nil, manualChanges: [])
        let shapes = Dictionary(uniqueKeysWithValues: network.stateDict.map { ($0.0, $0.1.shape) })
        let optimizer = try OptimizerFactory.make(config, parameters: network.trainableParameters)
        let state = Dictionary(uniqueKeysWithValues: optimizer.stateEntries())
        let names = recipe.model.trainableParameters
        #expect(names.count == network.trainableParameters.count)
        #expect(state["step"]?.isInt64 == true)
        for (i, name) in names.enumerated() {
            for key in kind == .sgd ? ["momentum_buffer"] : ["exp_avg", "exp_avg_sq"] {
                #expect(state["\(key).\(i)"]?.shape == shapes[name], "\(key).\(i) is not \(name)")
            }
        }
    }

    /// A checkpoint as train.py writes it (its digests are the MD5 of each file, `md5:` first) loads; a flipped byte
    /// is refused as cnntui's own are.
    @Test func aCheckpointWithFileDigestsLoadsAndADamagedOneIsRefused() throws {
        let directory = try temporaryDirectory("torch-checkpoint")
        let entries: [(String, Safetensors.Entry)] = [
            ("fc.weight", Safetensors.Entry(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])),
            ("bn.num_batches_tracked", Safetensors.Entry(shape: [], values: [9], isInt64: true))]
        let bytes = try Safetensors.encode(entries, metadata: ["format": "pt", "writer": "pytorch"])
        try bytes.write(to: directory.appendingPathComponent("model.safetensors"))
        var md5 = MD5()
        bytes.withUnsafeBytes { md5.update($0) }
        let state = TrainState(position: RunPosition(epoch: 2, globalStep: 10), learningRate: 0.01, schedule: ["lr": 0.01],
                               networkRandom: RandomSource(seed: 1), metricsCount: 0, finished: false,
                               modelDigest: "md5:" + md5.finalize(), optimizerDigest: "md5:0")
        try JSONFile.write(state, to: directory.appendingPathComponent("train_state.json"))
        let loaded = try CheckpointStore.readModel(in: directory)
        #expect(loaded["fc.weight"]?.values == [1, 2, 3, 4, 5, 6] && loaded["bn.num_batches_tracked"]?.isInt64 == true)

        var damaged = bytes
        damaged[damaged.count - 1] ^= 0x40
        try damaged.write(to: directory.appendingPathComponent("model.safetensors"))
        #expect {
            try CheckpointStore.readModel(in: directory)
        } throws: { error in
            "\(error)".contains("model.safetensors") && "\(error)".contains("digest")
        }
    }

    @Test func assetsAreFoundByVariableAboveTheExecutableOrBesideAnInstall() throws {
        let root = try temporaryDirectory("assets")
        let clone = root.appendingPathComponent("clone")
        try FileManager.default.createDirectory(at: clone.appendingPathComponent("Assets/pytorch"), withIntermediateDirectories: true)
        let build = clone.appendingPathComponent(".build/x86_64-unknown-linux-gnu/release")
        try FileManager.default.createDirectory(at: build, withIntermediateDirectories: true)
        try Data().write(to: build.appendingPathComponent("cnntui"))
        // `.build/release` is a symlink: the search starts from the real path.
        try FileManager.default.createSymbolicLink(at: clone.appendingPathComponent(".build/release"),
                                                   withDestinationURL: build)
        let viaLink = clone.appendingPathComponent(".build/release/cnntui")
        #expect(try ExportAssets.locate(environment: [:], executable: viaLink).standardizedFileURL.path
                == clone.appendingPathComponent("Assets").resolvingSymlinksInPath().standardizedFileURL.path)

        let prefix = root.appendingPathComponent("prefix")
        try FileManager.default.createDirectory(at: prefix.appendingPathComponent("share/cnntui/Assets/pytorch"),
                                                withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: prefix.appendingPathComponent("bin"), withIntermediateDirectories: true)
        try Data().write(to: prefix.appendingPathComponent("bin/cnntui"))
        #expect(try ExportAssets.locate(environment: [:], executable: prefix.appendingPathComponent("bin/cnntui")).path
                .hasSuffix("share/cnntui/Assets"))

        #expect(try ExportAssets.locate(environment: ["CNNTUI_ASSETS": clone.appendingPathComponent("Assets").path],
                                        executable: nil).lastPathComponent == "Assets")
        #expect { try ExportAssets.locate(environment: ["CNNTUI_ASSETS": root.path], executable: nil) } throws: {
            "\($0)".contains("CNNTUI_ASSETS")
        }
        let elsewhere = root.appendingPathComponent("elsewhere/bin/cnntui")
        #expect { try ExportAssets.locate(environment: [:], executable: elsewhere) } throws: {
            "\($0)".contains("CNNTUI_ASSETS") && "\($0)".contains("scripts/install")
        }
    }
}
