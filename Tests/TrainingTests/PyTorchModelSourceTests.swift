import Engine
import Foundation
import Models
import Testing
@testable import Training

/// The exported `model.py`: golden files for two networks (a change in what the export writes shows up in review
/// as a diff of the Python itself), and every zoo model's file compiled by the machine's python3. That it loads
/// cnntui's weights strictly and gives cnntui's logits needs PyTorch: `scripts/check_export_in_torch.py --checks 1`.
@Suite struct PyTorchModelSourceTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
    static let assets = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Assets/pytorch")
    static var recording: Bool { ProcessInfo.processInfo.environment["CNNTUI_RECORD_SNAPSHOTS"] == "1" }

    static func source(_ model: String, _ shape: [Int]) throws -> String {
        let network = try ModelZoo.build(model, inputShape: shape, classes: 10, seed: 0)
        return try PyTorchModelSource.generate(network, model: model)
    }

    /// se-resnet covers Block, Residual with a projection shortcut and SqueezeExcite; shufflenet-v1 covers
    /// Concat with an activation, GroupConv, the channels-first shuffle and average pooling.
    @Test(arguments: [("se-resnet-2-2-2", [1, 28, 28]), ("shufflenet-v1-g3-0.5x", [3, 32, 32])])
    func matchesItsGoldenFile(model: String, shape: [Int]) throws {
        let now = try Self.source(model, shape)
        let url = Self.golden.appendingPathComponent("model-\(model)-\(shape.map(String.init).joined(separator: "x")).py")
        if Self.recording {
            try FileManager.default.createDirectory(at: Self.golden, withIntermediateDirectories: true)
            try Data(now.utf8).write(to: url, options: .atomic)
            return
        }
        let saved = try #require(try? String(contentsOf: url, encoding: .utf8),
                                 "no golden file \(url.lastPathComponent): record it with CNNTUI_RECORD_SNAPSHOTS=1")
        let old = saved.split(separator: "\n", omittingEmptySubsequences: false)
        let new = now.split(separator: "\n", omittingEmptySubsequences: false)
        let firstDifference = zip(old, new).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(old.count, new.count)
        #expect(saved == now, "\(url.lastPathComponent) differs from line \(firstDifference + 1) (CNNTUI_RECORD_SNAPSHOTS=1 to accept)")
    }

    /// Every zoo model at both input shapes, and layers.py beside them, is valid Python.
    @Test func everyZooModelCompiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cnntui-model-py-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // A copy of layers.py: py_compile writes its bytecode beside the file, which must not be the repository.
        let layers = directory.appendingPathComponent("layers.py")
        try FileManager.default.copyItem(at: Self.assets.appendingPathComponent("layers.py"), to: layers)
        var files = [layers.path]
        for model in ModelZoo.names {
            for shape in [[1, 28, 28], [3, 32, 32]] {
                let url = directory.appendingPathComponent("\(model)-\(shape[0]).py")
                try Data(try Self.source(model, shape).utf8).write(to: url)
                files.append(url.path)
            }
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-m", "py_compile"] + files
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "py_compile: \(message)")
    }

    /// Each state-dict name appears as a module attribute along its path: the generated tree names its layers the
    /// way cnntui's state dict does (the strict load itself is checked with PyTorch).
    @Test func everyStateDictPathIsNamedInTheSource() throws {
        for model in ["mycnn", "resnet", "vgg11", "mobilenet-v1", "shufflenet-v2", "efficientnet-v2-s"] {
            let network = try ModelZoo.build(model, inputShape: [3, 32, 32], classes: 10, seed: 0)
            let source = try PyTorchModelSource.generate(network, model: model)
            for (key, _) in network.stateDict {
                let parts = key.split(separator: ".").dropLast()
                guard let leaf = parts.last else { continue }
                let named = leaf.allSatisfy(\.isNumber) || source.contains("(\"\(leaf)\", ")
                #expect(named, "\(model): \(key)'s layer \(leaf) is not named in model.py")
            }
        }
    }

    @Test func aLayerWithoutATwinIsRefusedByName() throws {
        final class Strange: Layer {
            var name = ""
            var typeName: String { "Strange" }
            func outputShape(for input: [Int]) throws -> [Int] { input }
            func forward(_ input: Tensor, training: Bool) throws -> Tensor { input }
            func backward(_ gradOutput: Tensor) -> Tensor { gradOutput }
        }
        let network = Network(root: Sequential([("odd", Strange())]), inputShape: [1, 2, 2], classes: 4,
                              random: RandomStream(seed: 0))
        #expect(throws: PyTorchModelSource.Unsupported.self) { try PyTorchModelSource.generate(network, model: "odd") }
        #expect((try? PyTorchModelSource.generate(network, model: "odd")) == nil)
        do { _ = try PyTorchModelSource.generate(network, model: "odd") } catch {
            #expect("\(error)" == "odd is a Strange, which the PyTorch export cannot write")
        }
    }
}
