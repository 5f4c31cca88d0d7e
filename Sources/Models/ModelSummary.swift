import Engine
import Foundation

/// A per-layer table of a network, as torchsummary prints it: name (indented by depth), type, output shape,
/// parameters and multiply-adds, for every leaf layer and every block, plus totals.
///
/// Multiply-adds are those of conv and linear layers, per image. Activation memory estimates a training
/// step at `batchSize`: every leaf layer's output and the gradient of that output, float32.
public struct ModelSummary: Sendable {
    public struct Row: Sendable, Equatable {
        public let depth: Int
        /// State-dict path (`layer1.0.conv1`); blocks shown by the seed's class name in `type`.
        public let name: String
        public let type: String
        /// Output shape of one image (no batch dimension).
        public let outputShape: [Int]
        /// Trainable parameters of this layer and everything under it.
        public let params: Int
        /// Conv and linear multiply-adds per image of this layer and everything under it.
        public let macs: Int
        public let isLeaf: Bool
    }

    public struct Totals: Sendable, Equatable {
        public let trainableParams: Int
        /// BatchNorm running statistics and counters: saved with the weights, never trained.
        public let nonTrainableParams: Int
        public var totalParams: Int { trainableParams + nonTrainableParams }
        public let convMacs: Int
        public let linearMacs: Int
        public var macs: Int { convMacs + linearMacs }
        /// Weights and buffers, float32.
        public let parameterBytes: Int
        /// Leaf outputs and their gradients for one training step at `batchSize`, float32.
        public let activationBytes: Int
        public let batchSize: Int
    }

    public var model: String
    public let input: [Int]
    public let classes: Int
    public let rows: [Row]
    public let totals: Totals
    public var notes: [String]

    // MARK: - Building

    /// Walks the network's layers with their output shapes and multiply-adds.
    public static func make(network: Network, batchSize: Int, model: String = "", notes: [String] = []) throws -> ModelSummary {
        let walker = try walk(network)
        let state = network.stateDict.map(\.1)
        let trainable = state.filter(\.isTrainable).reduce(0) { $0 + $1.count }
        let all = state.reduce(0) { $0 + $1.count }
        let totals = Totals(trainableParams: trainable, nonTrainableParams: all - trainable,
                            convMacs: walker.convMacs, linearMacs: walker.linearMacs, parameterBytes: 4 * all,
                            activationBytes: 2 * 4 * walker.leafOutputElements * max(batchSize, 1), batchSize: batchSize)
        return ModelSummary(model: model, input: network.inputShape, classes: network.classes, rows: walker.rows,
                            totals: totals, notes: notes)
    }

    /// The largest output of any layer of `network`, in floats per image.
    public static func largestActivation(of network: Network) throws -> Int {
        try walk(network).largestLeafOutput
    }

    private static func walk(_ network: Network) throws -> Walker {
        var walker = Walker()
        var shape = [1] + network.inputShape
        for (name, child) in network.root.children {
            shape = try walker.visit(child, key: name, input: shape, depth: 0)
        }
        return walker
    }

    /// Builds `name` for the input and summarises it, with the zoo's notes for that model.
    public static func make(model name: String, inputShape: [Int], classes: Int, batchSize: Int) throws -> ModelSummary {
        let network = try ModelZoo.build(name, inputShape: inputShape, classes: classes, seed: 0)
        let canonical = ModelZoo.canonicalName(name) ?? name
        return try make(network: network, batchSize: batchSize, model: canonical,
                        notes: ModelZoo.notes(canonical, inputShape: inputShape))
    }

    /// Rows in walk order; knows how each container feeds its children.
    private struct Walker {
        var rows: [Row] = []
        var convMacs = 0, linearMacs = 0
        var leafOutputElements = 0
        var largestLeafOutput = 0

        /// Adds the row of `layer` (and its children's rows after it); returns its output shape.
        mutating func visit(_ layer: any Layer, key: String, input: [Int], depth: Int) throws -> [Int] {
            let output = try layer.outputShape(for: input)
            let index = rows.count
            let macsBefore = convMacs + linearMacs
            let children = layer.children
            if children.isEmpty {
                let own = layer.macsPerSample(input: input)
                if layer is Linear { linearMacs += own } else { convMacs += own }
                leafOutputElements += output.dropFirst().reduce(1, *)
                largestLeafOutput = max(largestLeafOutput, output.dropFirst().reduce(1, *))
            } else {
                try visitChildren(of: layer, input: input, depth: depth + 1)
            }
            let params = layer.stateDict().map(\.1).filter(\.isTrainable).reduce(0) { $0 + $1.count }
            let row = Row(depth: depth, name: layer.name.isEmpty ? key : layer.name, type: layer.typeName,
                          outputShape: Array(output.dropFirst()), params: params,
                          macs: convMacs + linearMacs - macsBefore, isLeaf: children.isEmpty)
            rows.insert(row, at: index)
            return output
        }

        /// Rows for a container's children, each fed the input it sees in the container's forward pass.
        mutating func visitChildren(of layer: any Layer, input: [Int], depth: Int) throws {
            switch layer {
            case let block as Block:
                var x = input
                for stage in block.stages {
                    if let name = stage.name {
                        x = try visit(stage.layer, key: name, input: x, depth: depth)
                    } else {
                        try visitChildren(of: stage.layer, input: x, depth: depth)
                        x = try stage.layer.outputShape(for: x)
                    }
                }
            case let residual as Residual:
                try visitChildren(of: residual.body, input: input, depth: depth)
                if let (name, shortcut) = residual.shortcut { _ = try visit(shortcut, key: name, input: input, depth: depth) }
            case let concat as Concat:
                for branch in concat.branches { try visitChildren(of: branch, input: input, depth: depth) }
            case let split as SplitConcat:
                try visitChildren(of: split.body, input: [input[0], input[1] - split.splitAt, input[2], input[3]], depth: depth)
            case let se as SqueezeExcite:
                try visitChildren(of: se.gate, input: input, depth: depth)
            default:  // Sequential and any other chain
                var x = input
                for (name, child) in layer.children { x = try visit(child, key: name, input: x, depth: depth) }
            }
        }
    }

    // MARK: - Output

    public func renderText() -> String {
        let header = ["Layer", "Type", "Output shape", "Params", "Mult-adds"]
        let table = rows.map { row in
            [String(repeating: "  ", count: row.depth) + (row.name.split(separator: ".").last.map(String.init) ?? row.name),
             row.type, shapeString(row.outputShape), grouped(row.params), grouped(row.macs)]
        }
        var widths = header.map(\.count)
        for line in table { for (i, cell) in line.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func format(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return i >= 3 ? pad + cell : cell + pad
            }.joined(separator: "  ")
        }
        let rule = String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1))
        var out = ["\(model)  input \(input.map(String.init).joined(separator: "x"))  classes \(classes)", rule, format(header), rule]
        out += table.map(format)
        out.append(rule)
        out.append("Trainable params:      \(grouped(totals.trainableParams))")
        out.append("Non-trainable params:  \(grouped(totals.nonTrainableParams))  (BatchNorm running statistics)")
        out.append("Total params:          \(grouped(totals.totalParams))")
        out.append("Mult-adds per image:   \(grouped(totals.macs))  (conv \(grouped(totals.convMacs)), linear \(grouped(totals.linearMacs)))")
        out.append("Parameter memory:      \(megabytes(totals.parameterBytes))")
        out.append("Activation memory:     \(megabytes(totals.activationBytes))  (training step, batch \(totals.batchSize))")
        if !notes.isEmpty {
            out.append("Notes:")
            out += notes.map { "  - " + $0 }
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// One JSON object: model, input, totals, layers, notes.
    public var json: String {
        let layers: [[String: Any]] = rows.map {
            ["name": $0.name, "type": $0.type, "output_shape": $0.outputShape, "params": $0.params, "macs": $0.macs,
             "depth": $0.depth]
        }
        let object: [String: Any] = [
            "model": model, "input": input, "classes": classes,
            "total_params": totals.totalParams, "trainable_params": totals.trainableParams,
            "non_trainable_params": totals.nonTrainableParams,
            "macs": totals.macs, "conv_macs": totals.convMacs, "linear_macs": totals.linearMacs,
            "param_bytes": totals.parameterBytes, "activation_bytes": totals.activationBytes, "batch_size": totals.batchSize,
            "layers": layers, "notes": notes,
        ]
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}

/// 1234567 -> "1,234,567": the one thousands-separator format of every table and screen.
public func grouped(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (i, ch) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return n < 0 ? "-" + out : out
}

func megabytes(_ bytes: Int) -> String { String(format: "%.2f MB", Double(bytes) / 1_048_576) }
