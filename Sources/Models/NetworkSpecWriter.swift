import Engine

/// Writes a built layer tree as spec text (`cnntui models --spec NAME`), so that `NetworkSpecBuilder`
/// builds the same network back: the same layers, state-dict names and shapes. The zoo's blocks are
/// written by name with their parameters (read off their layers); runs of identical unnamed lines are
/// folded into `repeat N`.
public enum NetworkSpecWriter {
    public struct Unwritable: Error, CustomStringConvertible {
        public let description: String
    }

    /// The spec text of a root's children for inputs of `inputShape` [C, H, W].
    public static func text(_ root: Sequential, inputShape: [Int], header: [String], settings: [String]) throws -> String {
        var shape = [1] + inputShape
        var out = header.map { "# " + $0 }
        out += settings
        if !header.isEmpty || !settings.isEmpty { out.append("") }
        let last = root.layers.last.map { ObjectIdentifier($0.1) }
        out += try children(root.layers.map { ($0.0, $0.1) }, indexed: true, shape: &shape, finalLinear: last).flatMap { $0 }
        return out.joined(separator: "\n") + "\n"
    }

    /// One entry per child (its line and the lines under it, at this level's indent), repeats folded.
    /// `indexed`: a name equal to the child's index is left out (the builder gives it back).
    static func children(_ items: [(String?, any Layer)], indexed: Bool, shape: inout [Int],
                         finalLinear: ObjectIdentifier? = nil) throws -> [[String]] {
        var entries: [(named: Bool, lines: [String])] = []
        for (i, (name, layer)) in items.enumerated() {
            let shown = indexed && name == String(i) ? nil : name
            var lines = try write(layer, shape: shape, finalLinear: finalLinear)
            if let shown { lines[0] = shown + ": " + lines[0] }
            entries.append((shown != nil, lines))
            shape = try layer.outputShape(for: shape)
        }
        var folded: [[String]] = []
        var i = 0
        while i < entries.count {
            var j = i + 1
            while !entries[i].named, j < entries.count, !entries[j].named, entries[j].lines == entries[i].lines { j += 1 }
            folded.append(j - i > 1 ? ["repeat \(j - i)"] + entries[i].lines.map { "  " + $0 } : entries[i].lines)
            i = j
        }
        return folded
    }

    /// A layer's line and, for containers, its children's lines indented under it.
    static func write(_ layer: any Layer, shape: [Int], finalLinear: ObjectIdentifier?) throws -> [String] {
        func nested(_ head: String, _ items: [(String?, any Layer)], indexed: Bool = true, from input: [Int]? = nil) throws -> [String] {
            var s = input ?? shape
            return [head] + (try children(items, indexed: indexed, shape: &s)).flatMap { $0 }.map { "  " + $0 }
        }
        switch layer {
        case let block as Block:
            if let line = try zooBlock(block, shape: shape) { return [line] }
            return try nested("block \(block.typeName)", block.stages.map { ($0.name, $0.layer) }, indexed: false)
        case let conv as Conv2d:
            guard conv.kernel.h == conv.kernel.w, conv.stride.h == conv.stride.w, conv.padding.h == conv.padding.w else {
                throw Unwritable(description: "\(conv.displayName): a conv with unequal height and width settings")
            }
            var options: [String] = []
            if conv.stride.h != 1 { options.append("stride=\(conv.stride.h)") }
            if conv.padding.h != 0 { options.append("padding=\(conv.padding.h)") }
            let depthwise = conv.groups > 1 && conv.groups == conv.inChannels && conv.groups == conv.outChannels
            if conv.groups != 1 && !depthwise { options.append("groups=\(conv.groups)") }
            if conv.bias != nil { options.append("bias=true") }
            let head = depthwise ? "depthwise \(conv.kernel.h)" : "conv \(conv.outChannels) \(conv.kernel.h)"
            return [([head] + options).joined(separator: " ")]
        case let bn as BatchNorm2d:
            var line = "batchnorm"
            if bn.eps != 1e-5 { line += " eps=\(bn.eps)" }
            if bn.momentum != 0.1 { line += " momentum=\(bn.momentum)" }
            return [line]
        case let activation as Activation:
            return [activation.kind.rawValue.lowercased()]
        case let pool as Pool2d:
            var line: String
            switch pool.kind {
            case .max: line = "maxpool \(pool.kernel)"
            case .average: line = "avgpool \(pool.kernel)"
            }
            if pool.stride != pool.kernel { line += " stride=\(pool.stride)" }
            if pool.padding != 0 { line += " padding=\(pool.padding)" }
            if case .average(false) = pool.kind { line += " count-include-pad=false" }
            return [line]
        case is GlobalAvgPool:
            return ["global-avgpool"]
        case let linear as Linear:
            let out = ObjectIdentifier(linear) == finalLinear ? "classes" : "\(linear.outFeatures)"
            return ["linear \(out)" + (linear.bias == nil ? " bias=false" : "")]
        case let dropout as Dropout:
            return ["\(dropout.unit == .element ? "dropout" : "drop-path") \(dropout.p)"]
        case is Flatten:
            return ["flatten"]
        case let pad as ZeroPad2d:
            return ["pad \(pad.padding)"]
        case let shuffle as ChannelShuffle:
            return ["shuffle \(shuffle.groups)" + (shuffle.order == .channelsFirst ? " order=channels-first" : "")]
        case let sequential as Sequential:
            return try nested("sequential", sequential.layers.map { ($0.0, $0.1) })
        case let residual as Residual:
            var lines = try nested("residual" + act(residual.activation), residual.body.layers.map { ($0.0, $0.1) })
            if let (name, side) = residual.shortcut {
                guard let side = side as? Sequential else {
                    throw Unwritable(description: "\(residual.displayName): a shortcut that is not a list of layers")
                }
                lines += try nested("\(name): shortcut", side.layers.map { ($0.0, $0.1) }).map { "  " + $0 }
            }
            return lines
        case let concat as Concat:
            var lines = ["concat" + act(concat.activation)]
            for branch in concat.branches {
                lines += try nested("branch", branch.layers.map { ($0.0, $0.1) }).map { "  " + $0 }
            }
            return lines
        case let split as SplitConcat:
            let at = split.splitAt * 2 == shape[1] ? "half" : "\(split.splitAt)"
            return try nested("split \(at)", split.body.layers.map { ($0.0, $0.1) },
                              from: [shape[0], shape[1] - split.splitAt, shape[2], shape[3]])
        case let se as SqueezeExcite:
            return try nested("squeeze-excite", se.gate.layers.map { ($0.0, $0.1) })
        default:
            throw Unwritable(description: "\(layer.displayName): no spec line for a \(layer.typeName)")
        }
    }

    static func act(_ activation: Activation?) -> String {
        activation.map { " act=" + $0.kind.rawValue.lowercased() } ?? ""
    }

    /// The zoo's blocks by name, their parameters read off their layers; nil for any other block.
    static func zooBlock(_ block: Block, shape: [Int]) throws -> String? {
        let inC = shape[1]
        let out = try block.outputShape(for: shape)[1]
        let kids = Dictionary(block.children, uniquingKeysWith: { first, _ in first })
        func conv(_ path: String...) -> Conv2d? {
            var layer: (any Layer)? = kids[path[0]]
            for step in path.dropFirst() { layer = layer?.children.first { $0.0 == step }?.1 }
            return layer as? Conv2d
        }
        let drop = (kids["dropout"] as? Dropout).map { " drop-path=\($0.p)" } ?? ""
        switch block.typeName {
        case "ResidualBlock", "SEResidualBlock":
            guard let conv1 = conv("conv1") else { return nil }
            var line = "basic-block \(out)"
            if conv1.stride.h != 1 { line += " stride=\(conv1.stride.h)" }
            if let se = kids["se"], let fc1 = se.children.first(where: { $0.0 == "FC1" })?.1 as? Linear {
                line += " se=\(out / fc1.outFeatures)"
            }
            return line
        case "ShuffleV1Block":
            let groupConvs = allLayers(block).compactMap { $0 as? GroupConv }
            let depthwise = allLayers(block).compactMap { $0 as? Conv2d }.first
            guard groupConvs.count == 2, let depthwise else { return nil }
            let groups = groupConvs[1].groups
            var line = "shufflenet-v1-unit \(out) groups=\(groups)"
            if depthwise.stride.h != 1 { line += " stride=\(depthwise.stride.h)" }
            if groupConvs[0].groups == 1 && groups != 1 { line += " first-group=true" }
            return line
        case "DownBlock":
            return "shufflenet-v2-down \(out)"
        case "BasicBlock":
            return "shufflenet-v2-unit"
        case "MBConv":
            guard let expand = conv("expand_conv", "conv"), let dw = conv("dwconv", "conv") else { return nil }
            var line = "mbconv \(out) kernel=\(dw.kernel.h) stride=\(dw.stride.h) expand=\(expand.outChannels / inC)"
            if let reduce = conv("se", "conv_reduce") {
                line += " se=\(Double(reduce.outChannels) / Double(inC))"
            } else {
                line += " se=0"
            }
            return line + drop
        case "FusedMBConv":
            let first = conv("expand_conv", "conv") ?? conv("project_conv", "conv")
            guard let first else { return nil }
            let expand = kids["expand_conv"] == nil ? 1 : first.outChannels / inC
            return "fused-mbconv \(out) kernel=\(first.kernel.h) stride=\(first.stride.h) expand=\(expand)" + drop
        default:
            return nil
        }
    }

    /// Every layer below `layer`, depth first, in order.
    static func allLayers(_ layer: any Layer) -> [any Layer] {
        layer.children.flatMap { [$0.1] + allLayers($0.1) }
    }
}
