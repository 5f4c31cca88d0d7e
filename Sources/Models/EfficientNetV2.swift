import Engine

/// Seed 004's EfficientNetV2-S (a MindSpore port of the PyTorch original), written with PyTorch layers and
/// the seed's attribute names.
///
/// Shapes: [N, C, H, W] -> stem (3x3, stride 2) [N, 24, H/2, W/2] -> blocks (Fused-MBConv stages, then
/// MBConv stages with SE; strides per table row) [N, 256, H/32, W/32] -> avgpool [N, 256, 1, 1] -> head:
/// project_conv (1x1 to 128, BN, SiLU), flatten, dropout, classifier [N, classes].
/// Every conv is followed by BN(eps 1e-3) and SiLU, except the projection convs (BN only). A block with
/// stride 1 and equal widths adds its input back, after drop-path with rate 0.2 * block index / blocks.
enum EfficientNetV2 {
    /// One row of the seed's model_config: [repeats, kernel, stride, expansion, in, out, operator, se ratio].
    struct Stage: Sendable {
        let repeats: Int, kernel: Int, stride: Int, expansion: Int, input: Int, output: Int
        /// 0: Fused-MBConv, 1: MBConv.
        let op: Int
        let seRatio: Double
        init(_ r: [Double]) {
            repeats = Int(r[0]); kernel = Int(r[1]); stride = Int(r[2]); expansion = Int(r[3])
            input = Int(r[4]); output = Int(r[5]); op = Int(r[6]); seRatio = r[7]
        }
    }

    struct Config: Sendable {
        let name: String
        let stages: [Stage]
        var features = 128
        var dropout: Float = 0.2
        var dropConnect: Float = 0.2
    }

    static let table = [
        Config(name: "efficientnet-v2-s", stages: [
            [2, 3, 1, 1, 24, 24, 0, 0],
            [4, 3, 2, 4, 24, 48, 0, 0],
            [4, 3, 2, 4, 48, 64, 0, 0],
            [6, 3, 2, 4, 64, 128, 1, 0.25],
            [9, 3, 1, 6, 128, 160, 1, 0.25],
            [15, 3, 2, 6, 160, 256, 1, 0.25],
        ].map(Stage.init)),
    ]

    /// A reduced row for the PyTorch logits fixture (not in the zoo): every kind of block, few channels.
    static let fixtureRow = Config(name: "efficientnet-v2-fixture", stages: [
        [2, 3, 1, 1, 8, 8, 0, 0],
        [2, 3, 2, 2, 8, 16, 0, 0],
        [2, 3, 2, 2, 16, 24, 1, 0.25],
    ].map(Stage.init), features: 32)

    static let notes = [
        "no activation after the 1x1 projection convs (the seed comments out activation_layer=Identity, so its code applies ReLU)",
        "SiLU where the code says nn.ReLU  # alias Swish (stem, expansion, depthwise, SE, head)",
        "dropout probability 0.2 (the seed passes 0.2 as MindSpore's keep_prob, which would drop 80%)",
        "standard Bernoulli drop-path (the seed floors keep_prob + a standard normal draw)",
        "global average pooling instead of AvgPool2d((10, 12)), which does not fit the final 1x1 map of 28/32 px inputs",
        "MindSpore pad_mode='same' convs written as PyTorch padding (k - 1) / 2; BN momentum 0.1 in PyTorch's sense",
    ]

    static let entries = table.map { config in
        ZooEntry(name: config.name, seed: "004", family: "EfficientNetV2", notes: notes, fixedInputSize: nil) { input, classes, f in
            build(config, input: input, classes: classes, factory: &f)
        }
    }

    static func bn(_ c: Int) -> BatchNorm2d { BatchNorm2d(c, eps: 1e-3, momentum: 0.1) }

    /// `ConvBNAct`: conv (padding (k-1)/2, no bias), BN, and SiLU unless `act` is false.
    static func convBNAct(_ inC: Int, _ outC: Int, _ k: Int, stride: Int = 1, groups: Int = 1, act: Bool = true,
                          _ f: inout LayerFactory) -> Block {
        var stages: [(String?, any Layer)] = [("conv", f.conv(inC, outC, k, stride: stride, padding: (k - 1) / 2, groups: groups)),
                                             ("bn", bn(outC))]
        if act { stages.append(("act", Activation(.silu))) }
        return Block("ConvBNAct", stages)
    }

    static func build(_ config: Config, input: [Int], classes: Int, factory f: inout LayerFactory) -> [(String, any Layer)] {
        let total = config.stages.reduce(0) { $0 + $1.repeats }
        var blocks: [any Layer] = []
        for stage in config.stages {
            for i in 0..<stage.repeats {
                let inC = i == 0 ? stage.input : stage.output
                let stride = i == 0 ? stage.stride : 1
                let rate = config.dropConnect * Float(blocks.count) / Float(total)
                blocks.append(stage.op == 0
                    ? fusedMBConv(stage, inC: inC, stride: stride, dropRate: rate, &f)
                    : mbConv(stage, inC: inC, stride: stride, dropRate: rate, &f))
            }
        }
        let last = config.stages[config.stages.count - 1].output
        var head: [(String, any Layer)] = [("project_conv", convBNAct(last, config.features, 1, &f)), ("flatten", Flatten())]
        if config.dropout > 0 { head.append(("dropout", Dropout(p: config.dropout, random: f.stream))) }
        head.append(("classifier", f.linear(config.features, classes)))
        return [
            ("stem", convBNAct(input[0], config.stages[0].input, 3, stride: 2, &f)),
            ("blocks", Sequential(indexed: blocks)),
            ("avgpool", GlobalAvgPool()),
            ("head", Sequential(head)),
        ]
    }

    /// Wraps a block body in the shortcut (with drop-path) when stride is 1 and the widths match.
    static func finish(_ type: String, _ body: [(String, any Layer)], shortcut: Bool, dropRate: Float, _ f: LayerFactory) -> Block {
        guard shortcut else { return Block(type, body.map { ($0.0, $0.1) }) }
        var body = body
        if dropRate > 0 { body.append(("dropout", Dropout(p: dropRate, random: f.stream, unit: .sample))) }
        return Block(type, [(nil, Residual(body: Sequential(body)))])
    }

    static func fusedMBConv(_ s: Stage, inC: Int, stride: Int, dropRate: Float, _ f: inout LayerFactory) -> Block {
        var body: [(String, any Layer)]
        if s.expansion != 1 {
            let expanded = inC * s.expansion
            body = [("expand_conv", convBNAct(inC, expanded, s.kernel, stride: stride, &f)),
                    ("project_conv", convBNAct(expanded, s.output, 1, act: false, &f))]
        } else {
            body = [("project_conv", convBNAct(inC, s.output, s.kernel, stride: stride, &f))]
        }
        return finish("FusedMBConv", body, shortcut: stride == 1 && inC == s.output, dropRate: dropRate, f)
    }

    static func mbConv(_ s: Stage, inC: Int, stride: Int, dropRate: Float, _ f: inout LayerFactory) -> Block {
        let expanded = inC * s.expansion
        var body: [(String, any Layer)] = [
            ("expand_conv", convBNAct(inC, expanded, 1, &f)),
            ("dwconv", convBNAct(expanded, expanded, s.kernel, stride: stride, groups: expanded, &f)),
        ]
        if s.seRatio > 0 {
            let squeeze = Int(Double(inC) * s.seRatio)
            body.append(("se", SqueezeExcite(gate: Sequential([
                ("mean", GlobalAvgPool()),
                ("conv_reduce", f.conv(expanded, squeeze, 1)),
                ("act1", Activation(.silu)),
                ("conv_expand", f.conv(squeeze, expanded, 1)),
                ("act2", Activation(.sigmoid)),
            ]))))
        }
        body.append(("project_conv", convBNAct(expanded, s.output, 1, act: false, &f)))
        return finish("MBConv", body, shortcut: stride == 1 && inC == s.output, dropRate: dropRate, f)
    }
}
