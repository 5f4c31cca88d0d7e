import Engine

/// Builds a `NetworkSpec`'s layers for one input, line by line, carrying the shape along: every input
/// width is inferred from the layer before, and whatever does not fit (a conv's declared input, a pool
/// larger than its map, groups that do not divide the channels, an unknown option, a value of the wrong
/// type) is a `NetworkSpecError` naming the line, before any engine layer could refuse or crash on it.
///
/// The zoo's blocks are built by their families' own functions (`ResNet.block`, `ShuffleNetV1.block`,
/// `ShuffleNetV2.basicBlock`/`downBlock`, `EfficientNetV2.mbConv`/`fusedMBConv`), so a block means the
/// same layers whether a family table or a spec asks for it.
struct NetworkSpecBuilder {
    let spec: NetworkSpec
    let classes: Int
    var f: LayerFactory

    /// A spec file may come from anyone: what it asks for is counted before it is allocated or looped over.
    /// A layer of more than 2^25 parameters (128 MB of float32; the zoo's largest has 2.4 million), a network of
    /// more than 2^26 (with its gradients, half a gigabyte), more than 2^16 layers (repeats multiply) or an
    /// activation of more than 2^30 values per image is refused.
    static let maximumLayerParameters = 1 << 25, maximumParameters = 1 << 26
    static let maximumLayers = 1 << 16, maximumActivation = 1 << 30
    private var parametersSoFar = 0, layersSoFar = 0

    init(spec: NetworkSpec, classes: Int, f: LayerFactory) {
        self.spec = spec; self.classes = classes; self.f = f
    }

    /// What a kind takes: values in order (the first `required` of them needed), options, and children.
    struct Signature {
        enum Children { case none, required, optional }
        var values: [String] = []
        var required = 0
        var options: [String] = []
        var children = Children.none
    }

    static let signatures: [String: Signature] = [
        "conv": Signature(values: ["OUT", "KERNEL"], required: 2, options: ["stride", "padding", "groups", "bias", "in"]),
        "depthwise": Signature(values: ["KERNEL"], required: 1, options: ["stride", "padding", "bias"]),
        "batchnorm": Signature(options: ["eps", "momentum"]),
        "relu": Signature(), "relu6": Signature(), "silu": Signature(), "sigmoid": Signature(),
        "maxpool": Signature(values: ["KERNEL"], required: 1, options: ["stride", "padding"]),
        "avgpool": Signature(values: ["KERNEL"], required: 1, options: ["stride", "padding", "count-include-pad"]),
        "global-avgpool": Signature(),
        "linear": Signature(values: ["OUT"], required: 1, options: ["bias", "in"]),
        "dropout": Signature(values: ["P"], required: 1),
        "drop-path": Signature(values: ["P"], required: 1),
        "flatten": Signature(),
        "pad": Signature(values: ["PIXELS"], required: 1),
        "shuffle": Signature(values: ["GROUPS"], required: 1, options: ["order"]),
        "sequential": Signature(children: .required),
        "block": Signature(values: ["TYPE"], required: 1, children: .required),
        "residual": Signature(options: ["act"], children: .required),
        "shortcut": Signature(children: .required),
        "concat": Signature(options: ["act"], children: .required),
        "branch": Signature(children: .required),
        "split": Signature(values: ["AT"], required: 1, children: .required),
        "squeeze-excite": Signature(options: ["reduction"], children: .optional),
        "repeat": Signature(values: ["TIMES"], required: 1, children: .required),
        "basic-block": Signature(values: ["OUT"], required: 1, options: ["stride", "se"]),
        "shufflenet-v1-unit": Signature(values: ["OUT"], required: 1, options: ["groups", "stride", "first-group"]),
        "shufflenet-v2-unit": Signature(),
        "shufflenet-v2-down": Signature(values: ["OUT"], required: 1),
        "mbconv": Signature(values: ["OUT"], required: 1, options: ["kernel", "stride", "expand", "se", "drop-path"]),
        "fused-mbconv": Signature(values: ["OUT"], required: 1, options: ["kernel", "stride", "expand", "drop-path"]),
    ]

    static let activations: [String: Activation.Kind] = ["relu": .relu, "relu6": .relu6, "silu": .silu, "sigmoid": .sigmoid]

    /// A built line: its name (nil: its index, or a block stage whose children are exposed) and layer.
    struct Built {
        let name: String?
        let layer: any Layer
        let line: Int
    }

    func fail(_ line: Int, _ message: String) -> NetworkSpecError {
        NetworkSpecError(file: spec.file, line: line, message)
    }

    /// The root's children for images [C, H, W]; the last layer must give the `classes` scores.
    mutating func build(input: [Int]) throws -> [(String, any Layer)] {
        var shape = [1] + input
        let built = try list(spec.layers, &shape)
        let root = try sequentialChildren(built)
        guard shape == [1, classes] else {
            let last = built.last?.line ?? spec.layers[spec.layers.count - 1].line
            throw fail(last, "the network ends in \(Self.describe(shape)), not the \(classes) class scores "
                + "(end with `linear classes`\(shape.count == 4 ? ", after a pooling or flatten" : ""))")
        }
        return root
    }

    // MARK: - Lists and containers

    /// Builds `nodes` in order from `shape`, leaving `shape` at the last one's output; `repeat` expands here.
    mutating func list(_ nodes: [SpecNode], _ shape: inout [Int]) throws -> [Built] {
        var built: [Built] = []
        for node in nodes {
            if node.kind == "repeat" {
                let args = try arguments(node)
                let times = try args.int("TIMES", min: 1)
                if let name = node.name { throw fail(node.line, "repeat takes no name (\(name):); name the layers under it") }
                for _ in 0..<times { built += try list(node.children, &shape) }
                continue
            }
            let layer = try self.layer(node, &shape)
            built.append(Built(name: node.name, layer: layer, line: node.line))
        }
        return built
    }

    /// Children of a Sequential: a line without a name takes its index. A name may come twice only for
    /// layers without state (ShuffleNetV2 applies one stateless `relu` twice); otherwise the state dict
    /// would hold two entries under one key.
    func sequentialChildren(_ built: [Built]) throws -> [(String, any Layer)] {
        var firstLine: [String: Int] = [:]
        return try built.enumerated().map { i, b in
            let name = b.name ?? String(i)
            if let line = firstLine[name], !(b.layer.stateDict().isEmpty) {
                throw fail(b.line, "the name \(name) is already used on line \(line) in this block")
            }
            firstLine[name] = firstLine[name] ?? b.line
            return (name, b.layer)
        }
    }

    mutating func sequential(_ nodes: [SpecNode], _ shape: inout [Int]) throws -> Sequential {
        Sequential(try sequentialChildren(try list(nodes, &shape)))
    }

    // MARK: - One line

    mutating func layer(_ node: SpecNode, _ shape: inout [Int]) throws -> any Layer {
        layersSoFar += 1
        guard layersSoFar <= Self.maximumLayers else {
            throw fail(node.line, "more than \(Self.maximumLayers) layers (repeat counts multiply)")
        }
        let args = try arguments(node)
        let input = shape
        let layer: any Layer
        switch node.kind {
        case "conv":
            let inC = try channels(node, input)
            if let declared = try args.optionalInt("in", min: 1), declared != inC {
                throw fail(node.line, "conv expects \(declared) input channels, the layer before gives \(inC)")
            }
            let out = scaled(try args.int("OUT", min: 1))
            let (k, stride, padding) = (try args.int("KERNEL", min: 1), try args.int("stride", default: 1, min: 1),
                                        try args.int("padding", default: 0, min: 0))
            let groups = try args.int("groups", default: 1, min: 1)
            guard inC % groups == 0, out % groups == 0 else {
                throw fail(node.line, "conv groups=\(groups) must divide its \(inC) input and \(out) output channels")
            }
            try fits(node, "conv", kernel: k, padding: padding, input)
            try reserve(node, Self.product(out, Self.sum(Self.product(inC / groups, k, k), 1)))
            layer = f.conv(inC, out, k, stride: stride, padding: padding, groups: groups, bias: try args.bool("bias", default: false))
        case "depthwise":
            let c = try channels(node, input)
            let (k, padding) = (try args.int("KERNEL", min: 1), try args.int("padding", default: 0, min: 0))
            try fits(node, "depthwise", kernel: k, padding: padding, input)
            try reserve(node, Self.product(c, Self.sum(Self.product(k, k), 1)))
            layer = f.conv(c, c, k, stride: try args.int("stride", default: 1, min: 1), padding: padding, groups: c,
                           bias: try args.bool("bias", default: false))
        case "batchnorm":
            layer = BatchNorm2d(try channels(node, input), eps: try args.float("eps", default: 1e-5, above: 0),
                                momentum: try args.float("momentum", default: 0.1, above: 0))
        case "relu", "relu6", "silu", "sigmoid":
            layer = Activation(Self.activations[node.kind]!)
        case "maxpool", "avgpool":
            _ = try channels(node, input)
            let k = try args.int("KERNEL", min: 1)
            let padding = try args.int("padding", default: 0, min: 0)
            guard 2 * padding <= k else { throw fail(node.line, "\(node.kind) padding=\(padding) is more than half its kernel \(k)") }
            try fits(node, node.kind, kernel: k, padding: padding, input)
            let stride = try args.int("stride", default: k, min: 1)
            let kind: Pool2d.Kind = node.kind == "maxpool" ? .max
                : .average(countIncludePad: try args.bool("count-include-pad", default: true))
            layer = Pool2d(kind, kernel: k, stride: stride, padding: padding)
        case "global-avgpool":
            _ = try channels(node, input)
            layer = GlobalAvgPool()
        case "linear":
            let features = input.dropFirst().reduce(1, *)
            if let declared = try args.optionalInt("in", min: 1), declared != features {
                throw fail(node.line, "linear expects \(declared) input features, the layer before gives \(features)")
            }
            let out = try (args.value("OUT") == "classes" ? classes : args.int("OUT", min: 1))
            try reserve(node, Self.product(Self.sum(features, 1), out))
            layer = f.linear(features, out, bias: try args.bool("bias", default: true))
        case "dropout", "drop-path":
            let p = try args.float("P", default: nil, above: nil)
            guard p >= 0, p < 1 else { throw fail(node.line, "\(node.kind) probability must be from 0 up to (not including) 1, got \(p)") }
            layer = Dropout(p: p, random: f.stream, unit: node.kind == "dropout" ? .element : .sample)
        case "flatten":
            layer = Flatten()
        case "pad":
            _ = try channels(node, input)
            layer = ZeroPad2d(try args.int("PIXELS", min: 0))
        case "shuffle":
            let c = try channels(node, input)
            let groups = try args.int("GROUPS", min: 1)
            guard c % groups == 0 else { throw fail(node.line, "shuffle \(groups) needs channels divisible by \(groups), the layer before gives \(c)") }
            let order = try args.choice("order", ["groups-first", "channels-first"], default: "groups-first")
            layer = ChannelShuffle(groups: groups, order: order == "groups-first" ? .groupsFirst : .channelsFirst)
        case "sequential":
            var s = input
            layer = try sequential(node.children, &s)
        case "block":
            layer = try block(node, type: try args.value("TYPE"), input)
        case "residual":
            layer = try residual(node, activation: try activation(args), input)
        case "concat":
            layer = try concat(node, activation: try activation(args), input)
        case "split":
            let c = try channels(node, input)
            let at = try (args.value("AT") == "half" ? c / 2 : args.int("AT", min: 1))
            guard at < c else { throw fail(node.line, "split \(at) leaves no channels for its body: the layer before gives \(c)") }
            var s = [input[0], c - at, input[2], input[3]]
            layer = SplitConcat(splitAt: at, body: try sequential(node.children, &s))
        case "squeeze-excite":
            layer = try squeezeExcite(node, args, input)
        case "shortcut":
            throw fail(node.line, "a shortcut belongs directly under a residual")
        case "branch":
            throw fail(node.line, "a branch belongs directly under a concat")
        default:
            layer = try zooBlock(node, args, input)
        }
        do {
            shape = try layer.outputShape(for: input)
        } catch let error as EngineError {
            throw fail(node.line, "\(node.kind) does not fit its input \(Self.describe(input)): \(error)")
        }
        guard let values = Self.product(shape.dropFirst().map { $0 }), values <= Self.maximumActivation else {
            throw fail(node.line, "\(node.kind) gives \(Self.describe(shape)): more than \(Self.maximumActivation) values per image")
        }
        return layer
    }

    // MARK: - Blocks

    /// A named run of stages (`block ConvBNAct`): a named line is a stage under its name; an unnamed one
    /// is a container whose children the block exposes directly, so it must be one.
    mutating func block(_ node: SpecNode, type: String, _ input: [Int]) throws -> Block {
        var shape = input
        let built = try list(node.children, &shape)
        for b in built where b.name == nil && b.layer.children.isEmpty {
            throw fail(b.line, "in a block, a layer without children needs a name (its state-dict key)")
        }
        return Block(type, built.map { ($0.name, $0.layer) })
    }

    /// y = act(body(x) + shortcut(x)). Without a `shortcut` line, the shortcut is the identity when the body
    /// keeps the shape, else a 1x1 conv + BatchNorm projection (`downsample`, torchvision's) with the
    /// stride that brings the map to the body's size.
    mutating func residual(_ node: SpecNode, activation: Activation?, _ input: [Int]) throws -> Residual {
        let shortcuts = node.children.filter { $0.kind == "shortcut" }
        if shortcuts.count > 1 { throw fail(shortcuts[1].line, "a residual has one shortcut") }
        var out = input
        let bodyNodes = node.children.filter { $0.kind != "shortcut" }
        guard !bodyNodes.isEmpty else { throw fail(node.line, "a residual needs the layers of its body indented under it") }
        let body = try sequential(bodyNodes, &out)
        var shortcut: (String, any Layer)?
        var sideShape = input
        if let s = shortcuts.first {
            guard let name = s.name else { throw fail(s.line, "a shortcut needs a name (downsample: shortcut)") }
            _ = try arguments(s)
            shortcut = (name, try sequential(s.children, &sideShape))
        } else if out != input {
            guard out.count == 4, input.count == 4, let stride = (1...max(1, input[2])).first(where: {
                (input[2] - 1) / $0 + 1 == out[2] && (input[3] - 1) / $0 + 1 == out[3]
            }) else {
                throw fail(node.line, "the residual's body turns \(Self.describe(input)) into \(Self.describe(out)), "
                    + "which no 1x1 projection shortcut can match; write its shortcut")
            }
            try reserve(node, Self.product(Self.sum(input[1], 2), out[1]))
            shortcut = ("downsample", Sequential(indexed: [f.conv(input[1], out[1], 1, stride: stride), BatchNorm2d(out[1])]))
            sideShape = out
        }
        guard sideShape == out else {
            throw fail(shortcuts.first?.line ?? node.line, "the residual's body gives \(Self.describe(out)) but its shortcut gives \(Self.describe(sideShape))")
        }
        return Residual(body: body, shortcut: shortcut, activation: activation)
    }

    /// Branches side by side, their outputs concatenated over channels: each must keep the same map size.
    mutating func concat(_ node: SpecNode, activation: Activation?, _ input: [Int]) throws -> Concat {
        _ = try channels(node, input)
        var branches: [Sequential] = []
        var first: (shape: [Int], line: Int)?
        for child in node.children {
            guard child.kind == "branch" else { throw fail(child.line, "under a concat, each line is a branch (its layers indented under it)") }
            _ = try arguments(child)
            var s = input
            branches.append(try sequential(child.children, &s))
            guard s.count == 4 else { throw fail(child.line, "a concat's branch must give an image-shaped output, this one gives \(Self.describe(s))") }
            if let first, first.shape[2...] != s[2...] {
                throw fail(child.line, "this branch gives \(Self.describe(s)), the branch on line \(first.line) \(Self.describe(first.shape)): "
                    + "concatenated branches must share their height and width")
            }
            first = first ?? (s, child.line)
        }
        return Concat(branches: branches, activation: activation)
    }

    /// x times a per-channel gate of x. Its gate is the lines under it, or, without any, SE-ResNet's
    /// (global pool, Linear C -> C/reduction, ReLU, Linear back to C, sigmoid).
    mutating func squeezeExcite(_ node: SpecNode, _ args: Arguments, _ input: [Int]) throws -> SqueezeExcite {
        let c = try channels(node, input)
        if !node.children.isEmpty {
            if args.has("reduction") { throw fail(node.line, "squeeze-excite takes reduction= or a gate indented under it, not both") }
            var s = input
            let gate = try sequential(node.children, &s)
            guard s.dropFirst().reduce(1, *) == c else {
                throw fail(node.line, "the squeeze-excite gate gives \(Self.describe(s)), not one value per channel (\(c))")
            }
            return SqueezeExcite(gate: gate)
        }
        let reduction = try args.int("reduction", default: 16, min: 1)
        guard c / reduction >= 1 else { throw fail(node.line, "squeeze-excite reduction=\(reduction) leaves no channels of \(c)") }
        try reserve(node, Self.product(Self.sum(c, 1), Self.sum(2 * (c / reduction), 1)))
        return SqueezeExcite(gate: Sequential([
            ("avg_pool", GlobalAvgPool()), ("FC1", f.linear(c, c / reduction)), ("relu", relu()),
            ("FC2", f.linear(c / reduction, c)), ("sigmoid", Activation(.sigmoid)),
        ]))
    }

    /// The zoo's own blocks by name, built by their family's function.
    mutating func zooBlock(_ node: SpecNode, _ args: Arguments, _ input: [Int]) throws -> Block {
        let inC = try channels(node, input)
        switch node.kind {
        case "basic-block":
            let out = scaled(try args.int("OUT", min: 1))
            let se = try args.optionalInt("se", min: 1)
            if let se, out / se < 1 { throw fail(node.line, "basic-block se=\(se) leaves no channels of \(out)") }
            try reserve(node, Self.product(Self.sum(inC, out, 1), out, 9))  // two 3x3 convs, a 1x1 projection
            return ResNet.block(inC, out, stride: try args.int("stride", default: 1, min: 1), seReduction: se, &f)
        case "shufflenet-v1-unit":
            let out = scaled(try args.int("OUT", min: 1))
            let groups = try args.int("groups", default: 3, min: 1)
            let stride = try args.int("stride", default: 1, min: 1)
            let firstGroup = try args.bool("first-group", default: false)
            guard stride <= 2 else { throw fail(node.line, "shufflenet-v1-unit stride is 1 or 2, got \(stride)") }
            let mid = out / 4
            let outputs = stride == 2 ? out - inC : out
            guard out % 4 == 0, mid % groups == 0, outputs > 0, outputs % groups == 0, firstGroup || inC % groups == 0 else {
                throw fail(node.line, "shufflenet-v1-unit \(out) groups=\(groups) from \(inC) channels: the output must divide by 4, "
                    + "a quarter of it by the groups\(stride == 2 ? ", and the output less the \(inC) input channels by the groups" : "")"
                    + (firstGroup ? "" : ", and the input channels by the groups"))
            }
            if stride == 1 && out != inC {
                throw fail(node.line, "a stride-1 shufflenet-v1-unit adds its input back: it needs \(inC) output channels, not \(out)")
            }
            // Grouped 1x1 convs (the first ungrouped in a stage's first unit), a depthwise 3x3, batch norms.
            let grouped = Self.sum(Self.product(inC, mid).map { $0 / (firstGroup ? 1 : groups) }, Self.product(mid, out).map { $0 / groups })
            try reserve(node, Self.sum(grouped, Self.product(mid, 9), Self.product(4, Self.sum(mid, out))))
            return ShuffleNetV1.block(inC, out, groups: groups, firstGroup: firstGroup, stride: stride, &f)
        case "shufflenet-v2-unit":
            guard inC % 2 == 0 else { throw fail(node.line, "shufflenet-v2-unit splits its channels in half: the layer before gives \(inC)") }
            try reserve(node, Self.product(Self.sum(inC, 9), inC))
            return ShuffleNetV2.basicBlock(inC, &f)
        case "shufflenet-v2-down":
            let out = scaled(try args.int("OUT", min: 2))
            guard out % 2 == 0 else { throw fail(node.line, "shufflenet-v2-down \(out): its two branches each give half, so it must be even") }
            try reserve(node, Self.product(Self.sum(inC, out, 9), Self.sum(inC, out)))
            return ShuffleNetV2.downBlock(inC, out, &f)
        case "mbconv", "fused-mbconv":
            let out = scaled(try args.int("OUT", min: 1))
            let (k, stride, expand) = (try args.int("kernel", default: 3, min: 1), try args.int("stride", default: 1, min: 1),
                                       try args.int("expand", default: node.kind == "mbconv" ? 4 : 1, min: 1))
            let se = node.kind == "mbconv" ? Double(try args.float("se", default: 0.25, above: nil)) : 0
            guard se >= 0, se <= 1 else { throw fail(node.line, "mbconv se is a ratio from 0 to 1, got \(se)") }
            if se > 0 && Int(Double(inC) * se) < 1 { throw fail(node.line, "mbconv se=\(se) leaves no channels of \(inC)") }
            let drop = try args.float("drop-path", default: 0, above: nil)
            guard drop >= 0, drop < 1 else { throw fail(node.line, "drop-path must be from 0 up to (not including) 1, got \(drop)") }
            try fits(node, node.kind, kernel: k, padding: (k - 1) / 2, input)
            let mid = Self.product(inC, expand)
            try reserve(node, node.kind == "mbconv"
                ? Self.product(mid, Self.sum(inC, Self.product(k, k), out, 2 * inC, 4))  // 1x1 up, depthwise, 1x1 down, SE
                : Self.product(mid, Self.sum(Self.product(inC, k, k), out, 4)))           // kxk up, 1x1 down
            let stage = EfficientNetV2.Stage([1, Double(k), Double(stride), Double(expand), Double(inC), Double(out),
                                              node.kind == "mbconv" ? 1 : 0, se])
            return node.kind == "mbconv"
                ? EfficientNetV2.mbConv(stage, inC: inC, stride: stride, dropRate: drop, &f)
                : EfficientNetV2.fusedMBConv(stage, inC: inC, stride: stride, dropRate: drop, &f)
        default:
            throw fail(node.line, "unknown layer '\(node.kind)'")
        }
    }

    // MARK: - Checks shared by the lines

    func arguments(_ node: SpecNode) throws -> Arguments {
        guard let signature = Self.signatures[node.kind] else {
            let known = Self.signatures.keys.sorted().joined(separator: ", ")
            throw fail(node.line, "unknown layer '\(node.kind)'; the layers are: \(known)")
        }
        if signature.children == .none, let child = node.children.first {
            throw fail(child.line, "indented under \(node.kind) (line \(node.line)), which takes no layers under it")
        }
        if signature.children == .required && node.children.isEmpty {
            throw fail(node.line, "\(node.kind) needs its layers indented under it")
        }
        return try Arguments(node: node, signature: signature, file: spec.file)
    }

    /// Counts `parameters` (nil: too many to count) against the limits, before the layer is allocated.
    mutating func reserve(_ node: SpecNode, _ parameters: Int?) throws {
        guard let parameters, parameters <= Self.maximumLayerParameters else {
            throw fail(node.line, "\(node.kind) would have more than \(Self.maximumLayerParameters) parameters")
        }
        parametersSoFar += parameters
        guard parametersSoFar <= Self.maximumParameters else {
            throw fail(node.line, "the network would have more than \(Self.maximumParameters) parameters")
        }
    }

    /// The product of `factors`, or nil when one is nil or negative, or it overflows.
    static func product(_ factors: Int?...) -> Int? { product(factors) }

    static func product(_ factors: [Int?]) -> Int? {
        var result = 1
        for factor in factors {
            guard let factor, factor >= 0 else { return nil }
            let (next, overflow) = result.multipliedReportingOverflow(by: factor)
            if overflow { return nil }
            result = next
        }
        return result
    }

    /// The sum of `terms`, or nil when one is nil or negative, or it overflows.
    static func sum(_ terms: Int?...) -> Int? {
        var result = 0
        for term in terms {
            guard let term, term >= 0 else { return nil }
            let (next, overflow) = result.addingReportingOverflow(term)
            if overflow { return nil }
            result = next
        }
        return result
    }

    /// The channels of an image-shaped input; an error for a flat one.
    func channels(_ node: SpecNode, _ input: [Int]) throws -> Int {
        guard input.count == 4 else {
            throw fail(node.line, "\(node.kind) needs an image-shaped input (channels x height x width); the layer before gives \(Self.describe(input))")
        }
        return input[1]
    }

    /// A window of `kernel` pixels over the padded map must fit in it.
    func fits(_ node: SpecNode, _ what: String, kernel: Int, padding: Int, _ input: [Int]) throws {
        guard input[2] + 2 * padding >= kernel, input[3] + 2 * padding >= kernel else {
            throw fail(node.line, "\(what) kernel \(kernel) is larger than its input \(input[2])x\(input[3])"
                + (padding > 0 ? " padded by \(padding)" : ""))
        }
    }

    func activation(_ args: Arguments) throws -> Activation? {
        guard args.has("act") else { return nil }
        let name = try args.choice("act", Self.activations.keys.sorted(), default: "relu")
        return Activation(Self.activations[name]!)
    }

    /// A width under the spec's multiplier, rounded, at least 1.
    func scaled(_ channels: Int) -> Int {
        spec.width == 1 ? channels : max(1, Int((Double(channels) * spec.width).rounded()))
    }

    /// "16x8x8" (channels x height x width) or "64 features", for messages.
    static func describe(_ shape: [Int]) -> String {
        if shape.count == 4 { return "\(shape[1])x\(shape[2])x\(shape[3])" }
        if shape.count == 2 { return "\(shape[1]) features" }
        return shapeString(shape)
    }
}

/// A line's values and options by name, each read once with its type checked.
struct Arguments {
    let node: SpecNode
    let file: String
    private var given: [String: String] = [:]

    init(node: SpecNode, signature: NetworkSpecBuilder.Signature, file: String) throws {
        self.node = node
        self.file = file
        let usage = ([node.kind] + signature.values + signature.options.map { "[\($0)=...]" }).joined(separator: " ")
        if node.values.count > signature.values.count {
            throw NetworkSpecError(file: file, line: node.line, signature.values.isEmpty
                ? "\(node.kind) takes no values before its options, got '\(node.values[0])' (\(usage))"
                : "\(node.kind) takes \(signature.values.count) value\(signature.values.count == 1 ? "" : "s") before its options, got \(node.values.count) (\(usage))")
        }
        if node.values.count < signature.required {
            throw NetworkSpecError(file: file, line: node.line, "\(node.kind) needs its \(signature.values[node.values.count]) (\(usage))")
        }
        for (name, value) in zip(signature.values, node.values) { given[name] = value }
        for (key, value) in node.options {
            guard signature.options.contains(key) else {
                throw NetworkSpecError(file: file, line: node.line, signature.options.isEmpty
                    ? "\(node.kind) takes no options, got \(key)="
                    : "\(node.kind) has no option \(key)=; its options: " + signature.options.joined(separator: ", "))
            }
            given[key] = value
        }
    }

    func has(_ key: String) -> Bool { given[key] != nil }

    private func fail(_ message: String) -> NetworkSpecError { NetworkSpecError(file: file, line: node.line, message) }
    private func label(_ key: String) -> String { key == key.uppercased() ? "\(node.kind)'s \(key)" : "\(key)=" }

    func value(_ key: String) throws -> String {
        guard let v = given[key] else { throw fail("\(node.kind) needs \(label(key))") }
        return v
    }

    func optionalInt(_ key: String, min: Int) throws -> Int? {
        guard let text = given[key] else { return nil }
        guard let v = Int(text) else { throw fail("\(label(key)) takes a whole number, got '\(text)'") }
        guard v >= min else { throw fail("\(label(key)) must be at least \(min), got \(v)") }
        guard v <= 1 << 20 else { throw fail("\(label(key)) \(v) is out of reach (at most \(1 << 20))") }
        return v
    }

    func int(_ key: String, default fallback: Int? = nil, min: Int) throws -> Int {
        if let v = try optionalInt(key, min: min) { return v }
        guard let fallback else { throw fail("\(node.kind) needs \(label(key))") }
        return fallback
    }

    func float(_ key: String, default fallback: Float?, above: Float?) throws -> Float {
        guard let text = given[key] else {
            guard let fallback else { throw fail("\(node.kind) needs \(label(key))") }
            return fallback
        }
        guard let v = Float(text), v.isFinite else { throw fail("\(label(key)) takes a number, got '\(text)'") }
        if let above, v <= above { throw fail("\(label(key)) must be more than \(above), got \(text)") }
        return v
    }

    func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard let text = given[key] else { return fallback }
        switch text {
        case "true": return true
        case "false": return false
        default: throw fail("\(label(key)) takes true or false, got '\(text)'")
        }
    }

    func choice(_ key: String, _ choices: [String], default fallback: String) throws -> String {
        guard let text = given[key] else { return fallback }
        guard choices.contains(text) else { throw fail("\(label(key)) takes one of \(choices.joined(separator: ", ")), got '\(text)'") }
        return text
    }
}
