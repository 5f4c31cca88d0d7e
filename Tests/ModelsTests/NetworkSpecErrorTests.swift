import Engine
import Foundation
import Testing
@testable import Models

/// Broken specs: each refused with its line and what does not fit, never a crash or a silent reshape.
@Suite struct NetworkSpecErrorTests {
    struct Broken: CustomStringConvertible, Sendable {
        let what: String
        let text: String
        let line: Int?
        let message: String
        var description: String { what }
    }

    static let stem = "conv 16 3 padding=1\nbatchnorm\nrelu\n"

    static let broken: [Broken] = [
        Broken(what: "a declared input width that does not fit", text: stem + "conv 32 3 in=32\nglobal-avgpool\nlinear classes\n",
               line: 4, message: "conv expects 32 input channels, the layer before gives 16"),
        Broken(what: "an unknown layer", text: stem + "convolution 32 3\n", line: 4, message: "unknown layer 'convolution'"),
        Broken(what: "an unknown option", text: "conv 16 3 strid=2\n", line: 1,
               message: "conv has no option strid=; its options: stride, padding, groups, bias, in"),
        Broken(what: "a word where a number goes", text: "conv sixteen 3\n", line: 1, message: "conv's OUT takes a whole number, got 'sixteen'"),
        Broken(what: "a missing kernel", text: "conv 16\n", line: 1, message: "conv needs its KERNEL"),
        Broken(what: "a pooling larger than its input", text: stem + "maxpool 2\nmaxpool 2\nmaxpool 2\nmaxpool 2\nmaxpool 4\n",
               line: 8, message: "maxpool kernel 4 is larger than its input 1x1"),
        Broken(what: "groups that do not divide the channels", text: stem + "conv 30 3 groups=4\n", line: 4,
               message: "conv groups=4 must divide its 16 input and 30 output channels"),
        Broken(what: "a conv after the features are flat", text: stem + "flatten\nconv 8 3\n", line: 5,
               message: "conv needs an image-shaped input (channels x height x width); the layer before gives 12544 features"),
        Broken(what: "a network that does not end in the class scores", text: stem + "global-avgpool\n", line: 4,
               message: "the network ends in 16x1x1, not the 10 class scores"),
        Broken(what: "a bool that is not one", text: "conv 16 3 bias=yes\n", line: 1, message: "bias= takes true or false, got 'yes'"),
        Broken(what: "a dropout probability of 1", text: stem + "dropout 1\n", line: 4,
               message: "dropout probability must be from 0 up to (not including) 1, got 1.0"),
        Broken(what: "branches of different sizes", text: stem + "concat\n  branch\n    conv 8 1\n  branch\n    maxpool 2\nglobal-avgpool\nlinear classes\n",
               line: 7, message: "this branch gives 16x14x14, the branch on line 5 8x28x28: concatenated branches must share their height and width"),
        Broken(what: "a leaf with layers under it", text: stem + "relu\n  conv 8 1\n", line: 5, message: "indented under relu (line 4), which takes no layers under it"),
        Broken(what: "uneven indentation", text: "layer1: sequential\n    conv 8 1\n  relu\n", line: 3,
               message: "indented by 2 spaces, but the lines above it at this level by 4"),
        Broken(what: "a tab", text: "layer1: sequential\n\tconv 8 1\n", line: 2, message: "a tab; indent with spaces"),
        Broken(what: "a name used twice for layers with weights", text: "a: conv 8 3\nb: relu\na: conv 8 3\n", line: 3,
               message: "the name a is already used on line 1 in this block"),
        Broken(what: "a setting written inside a block", text: "layer1: sequential\n  width 0.5\n", line: 2,
               message: "width is a setting of the whole network: write it at the top level, not indented"),
        Broken(what: "a stride-1 ShuffleNet V1 unit that changes width", text: stem + "shufflenet-v1-unit 24 groups=2\n", line: 4,
               message: "a stride-1 shufflenet-v1-unit adds its input back: it needs 16 output channels, not 24"),
        Broken(what: "a residual body no projection can match", text: stem + "residual\n  conv 16 3\n  conv 16 3\n", line: 4,
               message: "the residual's body turns 16x28x28 into 16x24x24, which no 1x1 projection shortcut can match; write its shortcut"),
        Broken(what: "a value after an option", text: "conv 16 padding=1 3\n", line: 1,
               message: "'3' comes after an option; values go before the key=value options"),
        // Each crashed, hung or allocated terabytes in the fuzz binary's `spec` target (inputs in Tests/Fuzz/Findings/spec/).
        Broken(what: "a width multiplier whose channels overflow", text: "width 1e300\nconv 16 3\n", line: 1,
               message: "width takes one positive multiplier up to 64"),
        Broken(what: "a conv of 2^40 weights", text: "conv 1048576 1\nconv 1048576 1\nglobal-avgpool\nflatten\nlinear classes\n",
               line: 2, message: "conv would have more than 33554432 parameters"),
        Broken(what: "an input size whose features overflow", text: "input-size 1048576\nflatten\nlinear classes\n", line: 1,
               message: "input-size takes one whole number of pixels up to 4096"),
        Broken(what: "a linear of 2^29 weights", text: "flatten\nlinear 1048576\nlinear classes\n", line: 2,
               message: "linear would have more than 33554432 parameters"),
        Broken(what: "repeats of 2^40 layers", text: "repeat 1048576\n  repeat 1048576\n    relu\n", line: 3,
               message: "more than 65536 layers (repeat counts multiply)"),
        Broken(what: "an activation of 4e12 values", text: "pad 1000000\n", line: 1,
               message: "pad gives 1x2000028x2000028: more than 1073741824 values per image"),
        Broken(what: "layers nested 3000 deep (the builder's recursion overflowed the stack)",
               text: (0..<3000).map { String(repeating: " ", count: $0) + "s\($0): sequential" }.joined(separator: "\n") + "\n",
               line: 65, message: "nested more than 64 levels deep"),
    ]

    @Test(arguments: broken)
    func refusedWithItsLine(_ b: Broken) throws {
        let spec: NetworkSpec
        do {
            spec = try NetworkSpecReader.read(b.text, file: "broken.cnn")
        } catch let error as NetworkSpecError {
            check(error, b)
            return
        }
        var builder = NetworkSpecBuilder(spec: spec, classes: 10, f: LayerFactory(seed: 0))
        do {
            _ = try builder.build(input: [1, 28, 28])
            Issue.record("\(b.what): built without an error")
        } catch let error as NetworkSpecError {
            check(error, b)
        }
    }

    func check(_ error: NetworkSpecError, _ b: Broken) {
        #expect(error.file == "broken.cnn", "\(b.what)")
        #expect(error.line == b.line, "\(b.what): line \(error.line.map(String.init) ?? "none") (\(error.message))")
        #expect(error.message.hasPrefix(b.message), "\(b.what): \(error.message)")
        #expect(error.description.hasPrefix("broken.cnn: line \(b.line ?? 0): "), "\(b.what)")
    }

    /// The picker's list: the .cnn files of a directory, sorted, as paths under it; none when it is missing.
    @Test func specFilesInADirectory() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("spec-files-\(ProcessInfo.processInfo.processIdentifier)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for name in ["b.cnn", "a.cnn", "notes.txt"] { FileManager.default.createFile(atPath: dir + "/" + name, contents: Data()) }
        #expect(NetworkSpecReader.files(in: dir) == [dir + "/a.cnn", dir + "/b.cnn"])
        #expect(NetworkSpecReader.files(in: dir + "/missing").isEmpty)
    }

    @Test func aMissingFileIsNamed() {
        #expect(throws: NetworkSpecError(file: "no/such.cnn", line: nil, "no such spec file")) {
            _ = try ModelZoo.build("no/such.cnn", inputShape: [1, 28, 28], classes: 10, seed: 0)
        }
    }

    /// The width multiplier scales conv and block widths (not the classifier), and repeat expands in place
    /// with indexes that go on counting.
    @Test func widthAndRepeat() throws {
        let text = "width 0.5\nconv 16 3 padding=1\nrepeat 2\n  basic-block 32 stride=2\nglobal-avgpool\nfc: linear classes\n"
        let spec = try NetworkSpecReader.read(text, file: "w.cnn")
        var builder = NetworkSpecBuilder(spec: spec, classes: 10, f: LayerFactory(seed: 0))
        let layers = try builder.build(input: [3, 32, 32])
        #expect(layers.map(\.0) == ["0", "1", "2", "3", "fc"])
        let root = Sequential(layers)
        #expect(try root.outputShape(for: [1, 3, 32, 32]) == [1, 10])
        #expect(root.stateDict().first { $0.0 == "1.conv1.weight" }?.1.shape == [16, 8, 3, 3])
        #expect(root.stateDict().first { $0.0 == "2.downsample.0.weight" }?.1.shape == [16, 16, 3, 3])
    }

    /// A residual whose body changes the shape gets torchvision's 1x1 projection with the matching stride.
    @Test func residualProjectionIsChosenByShape() throws {
        let text = "conv 8 3 padding=1\nresidual act=relu\n  conv 16 3 stride=2 padding=1\n  batchnorm\nglobal-avgpool\nlinear classes\n"
        var builder = NetworkSpecBuilder(spec: try NetworkSpecReader.read(text, file: "r.cnn"), classes: 10, f: LayerFactory(seed: 0))
        let root = Sequential(try builder.build(input: [1, 28, 28]))
        let downsample = root.stateDict().first { $0.0 == "1.downsample.0.weight" }?.1
        #expect(downsample?.shape == [16, 8, 1, 1])
        #expect(try root.outputShape(for: [1, 1, 28, 28]) == [1, 10])
    }
}
