import Engine

// MARK: - Errors

/// What `ModelZoo` refuses, with a message a user can act on.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case unknownModel(String, valid: [String])
    case unknownDataset(String, valid: [String])
    case unsupportedInput(model: String, input: [Int], reason: String)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .unknownModel(name, valid):
            return "unknown model '\(name)'; valid models: " + valid.joined(separator: ", ")
        case let .unknownDataset(name, valid):
            return "unknown dataset '\(name)'; valid datasets: " + valid.joined(separator: ", ")
        case let .unsupportedInput(model, input, reason):
            return "\(model) cannot take input \(input.map(String.init).joined(separator: "x")): \(reason)"
        case let .invalidArgument(message):
            return message
        }
    }
}

// MARK: - Registry entries

/// One buildable model: its canonical name, where it comes from, and how to build its layers.
struct ZooEntry: Sendable {
    let name: String
    /// Seed id of the blog post the family comes from ("000" ... "004").
    let seed: String
    /// Family name shown by `cnntui models` ("ResNet").
    let family: String
    /// Choices where the seed's code and its intent disagree, followed here.
    let notes: [String]
    /// The one square input size the network takes as it stands (VGG, small MobileNetV1), if any;
    /// smaller square inputs get a ZeroPad2d adapter.
    let fixedInputSize: Int?
    /// Builds the root's children for an input [C, H, W] the network takes as it stands.
    let build: @Sendable (_ input: [Int], _ classes: Int, _ factory: inout LayerFactory) throws -> [(String, any Layer)]
}

// MARK: - ModelZoo

/// The model zoo: every family's table rows under their names, and the one entry point that builds them.
public enum ModelZoo {
    /// Family-only names meaning the seed's default variant.
    static let aliases: [String: String] = [
        "resnet": "resnet-2-2-2",
        "se-resnet": "se-resnet-2-2-2",
        "vgg": "vgg11",
        "shufflenet-v1": "shufflenet-v1-g3-2.0x",
        "shufflenet-v2": "shufflenet-v2-0.5x",
        "efficientnet-v2": "efficientnet-v2-s",
    ]

    static let entries: [ZooEntry] =
        MyCNN.entries + ResNet.entries + VGG.entries + MobileNetV1.entries + ShuffleNetV1.entries
        + ShuffleNetV2.entries + EfficientNetV2.entries

    /// Canonical names of every model and variant, in listing order.
    public static var names: [String] { entries.map(\.name) }

    /// Every name `build` accepts: canonical names and the family-only aliases.
    public static var acceptedNames: [String] { names + aliases.keys.sorted() }

    /// The canonical name for a name or alias (case-insensitive), or nil. A spec file's path (see
    /// `NetworkSpec.isPath`) is its own name: whether it reads and builds is `build`'s to say, with its lines.
    public static func canonicalName(_ name: String) -> String? {
        if NetworkSpec.isPath(name) { return name }
        let lower = name.lowercased()
        if let target = aliases[lower] { return target }
        return names.contains(lower) ? lower : nil
    }

    static func entry(_ name: String) throws -> ZooEntry {
        if NetworkSpec.isPath(name) { return try specEntry(NetworkSpecReader.read(file: name)) }
        guard let canonical = canonicalName(name), let e = entries.first(where: { $0.name == canonical }) else {
            throw ModelError.unknownModel(name, valid: acceptedNames)
        }
        return e
    }

    /// The id of the seed blog post ("000" ... "004") a model comes from, as `cnntui models` lists it;
    /// the name itself when unknown. Recipes are chosen by `family`, not by this id.
    public static func seedID(_ name: String) -> String {
        (try? entry(name).seed) ?? name
    }

    /// The family a model belongs to ("ResNet"), or the name itself when unknown.
    public static func family(_ name: String) -> String { (try? entry(name).family) ?? name }

    /// Notes on where the model follows the seed's intent over its code, plus the input adapter if any.
    public static func notes(_ name: String, inputShape: [Int]) -> [String] {
        guard let e = try? entry(name) else { return [] }
        var notes = e.notes
        if let pad = try? adapterPadding(e, inputShape: inputShape), pad > 0 {
            let s = inputShape[1] + 2 * pad
            notes.insert("input adapter: ZeroPad2d(\(pad)) pads \(inputShape[1])x\(inputShape[2]) to \(s)x\(s), the size the network is built for", at: 0)
        }
        return notes
    }

    /// Builds a model for images [C, H, W] and `classes` outputs, weights drawn from `seed`.
    ///
    /// Throws `ModelError.unknownModel` (listing the valid names) or `.unsupportedInput` saying why the
    /// network cannot take this input.
    public static func build(_ name: String, inputShape: [Int], classes: Int, seed: UInt64) throws -> Network {
        let e = try entry(name)
        guard inputShape.count == 3, inputShape.allSatisfy({ $0 > 0 }) else {
            throw ModelError.invalidArgument("input shape must be C, H, W with positive sizes, got \(inputShape)")
        }
        guard classes >= 1 else { throw ModelError.invalidArgument("classes must be at least 1, got \(classes)") }
        let pad = try adapterPadding(e, inputShape: inputShape)
        let built = [inputShape[0], inputShape[1] + 2 * pad, inputShape[2] + 2 * pad]
        var factory = LayerFactory(seed: seed)
        var layers = try e.build(built, classes, &factory)
        if pad > 0 { layers.insert(("adapter", ZeroPad2d(pad)), at: 0) }
        let root = Sequential(layers)
        let network = Network(root: root, inputShape: inputShape, classes: classes, random: factory.stream)
        try check(network, entry: e)
        return try withInferencePasses(network)
    }

    /// Padding of the ZeroPad2d adapter for networks built for one input size; 0 when none is needed.
    static func adapterPadding(_ e: ZooEntry, inputShape: [Int]) throws -> Int {
        guard let size = e.fixedInputSize, inputShape.count == 3 else { return 0 }
        let (h, w) = (inputShape[1], inputShape[2])
        if h == size && w == size { return 0 }
        guard h == w, h < size, (size - h) % 2 == 0 else {
            throw ModelError.unsupportedInput(
                model: e.name, input: inputShape,
                reason: "it is built for \(size)x\(size) images (its classifier expects the feature map of that size); "
                    + "square inputs smaller by an even number of pixels are zero-padded to \(size)x\(size), others are refused")
        }
        return (size - h) / 2
    }

    /// Refuses a network whose layers do not carry the input through to [N, classes].
    static func check(_ network: Network, entry e: ZooEntry) throws {
        let input = [1] + network.inputShape
        do {
            let out = try network.root.outputShape(for: input)
            guard out == [1, network.classes] else {
                throw ModelError.unsupportedInput(model: e.name, input: network.inputShape,
                                                  reason: "the network ends in shape \(shapeString(out)), not [N, \(network.classes)]")
            }
        } catch let error as EngineError {
            var reason = "\(error)"
            let c = network.inputShape[0]
            let working = (1...1024).filter { s in
                (try? network.root.outputShape(for: [1, c, s, s])) == [1, network.classes]
            }
            if let lo = working.first, let hi = working.last {
                reason += lo == hi ? "; it takes only \(lo)x\(lo) inputs"
                    : hi == 1024 ? "; it takes square inputs of \(lo)x\(lo) and up"
                    : "; it takes square inputs from \(lo)x\(lo) to \(hi)x\(hi)"
            } else {
                reason += "; no square input up to 1024x1024 fits it"
            }
            throw ModelError.unsupportedInput(model: e.name, input: network.inputShape, reason: reason)
        }
    }
}

extension ModelZoo {
    /// A spec file as one more zoo entry: built by `NetworkSpecBuilder`, with the spec's input size (and so
    /// the same ZeroPad2d adapter as the zoo's fixed-size networks) and family (and so its recipe).
    static func specEntry(_ spec: NetworkSpec) -> ZooEntry {
        ZooEntry(name: spec.file, seed: "spec", family: spec.family ?? "spec", notes: [], fixedInputSize: spec.inputSize) { input, classes, f in
            var builder = NetworkSpecBuilder(spec: spec, classes: classes, f: f)
            defer { f = builder.f }
            return try builder.build(input: Array(input))
        }
    }

    /// A zoo model as spec text for images [C, H, W] (`cnntui models --spec NAME`). A network built for one
    /// input size is written at that size with `input-size`, so smaller inputs get the zoo's adapter.
    public static func specText(_ name: String, inputShape: [Int], classes: Int) throws -> String {
        let e = try entry(name)
        guard inputShape.count == 3 else { throw ModelError.invalidArgument("input shape must be C, H, W, got \(inputShape)") }
        let shape = e.fixedInputSize.map { [inputShape[0], $0, $0] } ?? inputShape
        var factory = LayerFactory(seed: 0)
        let root = Sequential(try e.build(shape, classes, &factory))
        var settings: [String] = []
        if e.seed != "spec" { settings.append("family \(e.family)") }
        if let size = e.fixedInputSize { settings.append("input-size \(size)") }
        let header = ["\(e.name): \(e.family), seed \(e.seed); written for \(shape.map(String.init).joined(separator: "x")) inputs "
                      + "and \(classes) classes by `cnntui models --spec`"] + e.notes.map { "note: " + $0 }
        return try NetworkSpecWriter.text(root, inputShape: shape, header: header, settings: settings)
    }

    /// Family-only aliases and the canonical names they mean, sorted.
    public static var aliasList: [(String, String)] { aliases.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
}

extension ModelZoo {
    /// A network from a family builder and one of its table rows (including rows kept out of the zoo, such
    /// as the small fixture rows the PyTorch comparison tests use).
    static func network(inputShape: [Int], classes: Int, seed: UInt64,
                        _ build: (_ input: [Int], _ classes: Int, _ factory: inout LayerFactory) throws -> [(String, any Layer)]) throws -> Network {
        var factory = LayerFactory(seed: seed)
        let root = Sequential(try build(inputShape, classes, &factory))
        return try withInferencePasses(Network(root: root, inputShape: inputShape, classes: classes, random: factory.stream))
    }

    /// `network` with its inference passes sized to its largest layer output (`Network.imagesPerInferencePass`).
    static func withInferencePasses(_ network: Network) throws -> Network {
        network.fitInferencePasses(largestOutputPerImage: try ModelSummary.largestActivation(of: network))
        return network
    }
}
