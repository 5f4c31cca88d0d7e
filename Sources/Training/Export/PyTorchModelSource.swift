import Foundation
import Engine
import Models

/// The text of an exported project's `model.py`: the network as an `nn.Module`, written from the layer tree cnntui
/// builds (not from a table of zoo names), so every network cnntui can build exports, with a `state_dict` whose
/// names and shapes are exactly those of cnntui's `model.safetensors`.
///
/// torch.nn's own layers where one computes the same thing; the rest (residual and concatenating wiring, channel
/// shuffle, drop-path, the MindSpore seed's GroupConv) from the project's `layers.py`. Each container is written
/// the way its state-dict keys come out: a `Block` stage without a name lends its layers to the block, as it does
/// in Swift (`Block.children`).
public enum PyTorchModelSource {
    /// A layer kind the export has no PyTorch twin for.
    public struct Unsupported: Error, CustomStringConvertible {
        public let layer: String
        public let type: String
        public var description: String { "\(layer) is a \(type), which the PyTorch export cannot write" }
    }

    /// model.py for `network`, named `model` in its header.
    public static func generate(_ network: Network, model: String) throws -> String {
        let shape = network.inputShape.map(String.init).joined(separator: ", ")
        let parameters = network.parameterCount
        return """
            \"\"\"\(model): the network cnntui trains, as a PyTorch module.

            Written by `cnntui export` from cnntui's own layer tree: input [N, \(shape)], \(network.classes) classes,
            \(parameters) parameters. Its state-dict keys and shapes are those of cnntui's model.safetensors, so
                model.load_state_dict(safetensors.torch.load_file(".../model.safetensors"))
            loads a cnntui checkpoint as it is (strict).
            \"\"\"
            from collections import OrderedDict

            import torch.nn as nn

            from layers import (Block, ChannelShuffle, Concat, DropPath, GroupConv, Linear, Residual, Sequential, SplitConcat,
                                SqueezeExcite)

            MODEL = \(pythonString(model))
            INPUT_SHAPE = (\(shape))
            NUM_CLASSES = \(network.classes)


            def build_model() -> nn.Module:
                return \(try expression(network.root, indent: 1))

            """
    }

    private static func expression(_ layer: any Layer, indent: Int) throws -> String {
        switch layer {
        case let conv as Conv2d:
            var args = ["\(conv.inChannels)", "\(conv.outChannels)", pair(conv.kernel)]
            if conv.stride != (1, 1) { args.append("stride=" + pair(conv.stride)) }
            if conv.padding != (0, 0) { args.append("padding=" + pair(conv.padding)) }
            if conv.groups != 1 { args.append("groups=\(conv.groups)") }
            if conv.bias == nil { args.append("bias=False") }
            return "nn.Conv2d(" + args.joined(separator: ", ") + ")"
        case let bn as BatchNorm2d:
            var args = ["\(bn.channels)"]
            if bn.eps != 1e-5 { args.append("eps=\(bn.eps)") }
            if bn.momentum != 0.1 { args.append("momentum=\(bn.momentum)") }
            return "nn.BatchNorm2d(" + args.joined(separator: ", ") + ")"
        case let activation as Activation:
            return "nn.\(activation.kind.rawValue)()"
        case let linear as Linear:
            return "Linear(\(linear.inFeatures), \(linear.outFeatures)\(linear.bias == nil ? ", bias=False" : ""))"
        case let pool as Pool2d:
            let padding = pool.padding == 0 ? "" : ", padding=\(pool.padding)"
            switch pool.kind {
            case .max:
                return "nn.MaxPool2d(\(pool.kernel), stride=\(pool.stride)\(padding))"
            case let .average(countIncludePad):
                return "nn.AvgPool2d(\(pool.kernel), stride=\(pool.stride)\(padding)"
                    + (countIncludePad ? ")" : ", count_include_pad=False)")
            }
        case is GlobalAvgPool:
            return "nn.AdaptiveAvgPool2d(1)"
        case is Flatten:
            return "nn.Flatten()"
        case is Identity:
            return "nn.Identity()"
        case let pad as ZeroPad2d:
            return "nn.ZeroPad2d(\(pad.padding))"
        case let shuffle as ChannelShuffle:
            let order = shuffle.order == .groupsFirst ? "groups_first" : "channels_first"
            return "ChannelShuffle(\(shuffle.groups), \(pythonString(order)))"
        case let dropout as Dropout:
            return dropout.unit == .element ? "nn.Dropout(\(dropout.p))" : "DropPath(\(dropout.p))"
        case let group as GroupConv:
            let slice = group.weights[0].shape
            return "GroupConv(\(slice[1] * group.groups), \(slice[0] * group.groups), \(slice[2]), groups=\(group.groups))"
        case let sequential as Sequential:
            return try sequentialExpression(sequential, indent: indent)
        case let residual as Residual:
            var args = ["body=" + (try pairs(residual.body.children, indent: indent + 1))]
            if let shortcut = residual.shortcut {
                args.append("shortcut=(\(pythonString(shortcut.0)), \(try expression(shortcut.1, indent: indent + 1)))")
            }
            if let activation = residual.activation { args.append("activation=" + activationName(activation)) }
            return call("Residual", args, indent: indent)
        case let concat as Concat:
            let branches = try concat.branches.map { try pairs($0.children, indent: indent + 2) }
            var args = ["branches=[\n" + branches.map { pad(indent + 2) + $0 + ",\n" }.joined() + pad(indent + 1) + "]"]
            if let activation = concat.activation { args.append("activation=" + activationName(activation)) }
            return call("Concat", args, indent: indent)
        case let split as SplitConcat:
            return call("SplitConcat", ["\(split.splitAt)", "body=" + (try pairs(split.body.children, indent: indent + 1))],
                        indent: indent)
        case let se as SqueezeExcite:
            return call("SqueezeExcite", ["gate=" + (try pairs(se.gate.children, indent: indent + 1))], indent: indent)
        case let block as Block:
            let stages = try block.stages.map { stage in
                let inner = try expression(stage.layer, indent: indent + 1)
                return stage.name.map { "(\(pythonString($0)), \(inner))" } ?? inner
            }
            return call("Block", [pythonString(block.typeName)] + stages, indent: indent)
        default:
            throw Unsupported(layer: layer.displayName, type: layer.typeName)
        }
    }

    /// nn.Sequential(a, b, c) when the children are named 0, 1, 2, ...; else nn.Sequential(OrderedDict([...])), or
    /// layers.py's Sequential when a name comes twice (an OrderedDict would keep one of the two).
    private static func sequentialExpression(_ sequential: Sequential, indent: Int) throws -> String {
        let children = sequential.children
        if children.enumerated().allSatisfy({ $0.element.0 == String($0.offset) }) {
            return call("nn.Sequential", try children.map { try expression($0.1, indent: indent + 1) }, indent: indent)
        }
        if Set(children.map(\.0)).count < children.count {
            return "Sequential(" + (try pairs(children, indent: indent)) + ")"
        }
        return "nn.Sequential(OrderedDict(" + (try pairs(children, indent: indent)) + "))"
    }

    /// A Python list of (name, module) pairs, one per line.
    private static func pairs(_ children: [(String, any Layer)], indent: Int) throws -> String {
        let items = try children.map { "(\(pythonString($0.0)), \(try expression($0.1, indent: indent + 1)))" }
        return "[\n" + items.map { pad(indent + 1) + $0 + ",\n" }.joined() + pad(indent) + "]"
    }

    /// `name(arg, arg)` with one argument per line when any is long or spans lines.
    private static func call(_ name: String, _ args: [String], indent: Int) -> String {
        let oneLine = name + "(" + args.joined(separator: ", ") + ")"
        if oneLine.count + 4 * indent <= 110 && !oneLine.contains("\n") { return oneLine }
        return name + "(\n" + args.map { pad(indent + 1) + $0 + ",\n" }.joined() + pad(indent) + ")"
    }

    private static func activationName(_ activation: Activation) -> String {
        pythonString(activation.kind.rawValue.lowercased())
    }

    private static func pair(_ value: (h: Int, w: Int)) -> String { value.h == value.w ? "\(value.h)" : "(\(value.h), \(value.w))" }
    private static func pad(_ indent: Int) -> String { String(repeating: "    ", count: indent) }

    /// A Python string literal; names here are identifiers and block names, but quote and escape anyway.
    private static func pythonString(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
