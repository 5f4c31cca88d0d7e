import Engine

/// Seed 003's CIFAR ResNet and SE-ResNet: a 3x3 stem, three stages of two-conv residual blocks, global
/// average pooling, a linear classifier.
///
/// Shapes: [N, C, H, W] -> stem [N, w0, H, W] -> layer1 [N, w0, H, W] -> layer2 [N, w1, H/2, W/2]
/// -> layer3 [N, w2, H/4, W/4] -> avg_pool [N, w2, 1, 1] -> fc [N, classes].
/// A stage's first block downsamples its shortcut with the seed's 3x3 strided conv + BN whenever the
/// stride or the width changes. SE blocks gate `bn2`'s output per sample and channel before the add.
enum ResNet {
    struct Config: Sendable {
        let name: String
        /// Residual blocks in layer1, layer2, layer3.
        let blocks: [Int]
        /// Channels of the stem/layer1, layer2, layer3.
        var widths = [16, 32, 64]
        /// Squeeze-and-excitation in every block (SE-ResNet), with this reduction.
        var seReduction: Int? = nil
    }

    static let table = [
        Config(name: "resnet-2-2-2", blocks: [2, 2, 2]),
        Config(name: "resnet-3-3-3", blocks: [3, 3, 3]),
        Config(name: "resnet-5-5-5", blocks: [5, 5, 5]),
        Config(name: "se-resnet-2-2-2", blocks: [2, 2, 2], seReduction: 16),
        Config(name: "se-resnet-3-3-3", blocks: [3, 3, 3], seReduction: 16),
        Config(name: "se-resnet-5-5-5", blocks: [5, 5, 5], seReduction: 16),
    ]

    /// Small rows for the PyTorch logits fixtures (not in the zoo).
    static let fixtureRows = [
        Config(name: "resnet-fixture", blocks: [2, 1, 1], widths: [8, 16, 32]),
        Config(name: "se-resnet-fixture", blocks: [2, 1, 1], widths: [8, 16, 32], seReduction: 4),
    ]

    static let resNetNotes = [
        "global average pooling instead of the seed's AvgPool2d(8): the same for 32x32, and it lets 28x28 (a 7x7 map) through",
    ]
    static let seNotes = resNetNotes + [
        "SE gating per sample: the seed's loop multiplies every sample by sample 0's gate (out[:, i] *= s[0, i]) after "
            + "SELayer already returned the gated tensor, writing in place; here out = SELayer(out), each sample by its own gate",
    ]

    static let entries = table.map { config in
        ZooEntry(name: config.name, seed: "003", family: config.seReduction == nil ? "ResNet" : "SE-ResNet",
                 notes: config.seReduction == nil ? resNetNotes : seNotes, fixedInputSize: nil) { input, classes, f in
            build(config, input: input, classes: classes, factory: &f)
        }
    }

    static func build(_ config: Config, input: [Int], classes: Int, factory f: inout LayerFactory) -> [(String, any Layer)] {
        let w = config.widths
        var layers: [(String, any Layer)] = [
            ("conv", f.conv(input[0], w[0], 3, padding: 1)),
            ("bn", BatchNorm2d(w[0])),
            ("relu", relu()),
        ]
        var inC = w[0]
        for (stage, (width, count)) in zip(w, config.blocks).enumerated() {
            let stride = stage == 0 ? 1 : 2
            var blocks: [any Layer] = []
            for i in 0..<count {
                blocks.append(block(inC, width, stride: i == 0 ? stride : 1, seReduction: config.seReduction, &f))
                inC = width
            }
            layers.append(("layer\(stage + 1)", Sequential(indexed: blocks)))
        }
        layers.append(("avg_pool", GlobalAvgPool()))
        layers.append(("fc", f.linear(inC, classes)))
        return layers
    }

    /// `ResidualBlock` / `SEResidualBlock`: relu(bn2(conv2(relu(bn1(conv1(x))))) [* se] + shortcut(x)).
    static func block(_ inC: Int, _ outC: Int, stride: Int, seReduction: Int?, _ f: inout LayerFactory) -> Block {
        var body: [(String, any Layer)] = [
            ("conv1", f.conv(inC, outC, 3, stride: stride, padding: 1)),
            ("bn1", BatchNorm2d(outC)),
            ("relu", relu()),
            ("conv2", f.conv(outC, outC, 3, padding: 1)),
            ("bn2", BatchNorm2d(outC)),
        ]
        if let reduction = seReduction {
            body.append(("se", SqueezeExcite(gate: Sequential([
                ("avg_pool", GlobalAvgPool()),
                ("FC1", f.linear(outC, outC / reduction)),
                ("relu", relu()),
                ("FC2", f.linear(outC / reduction, outC)),
                ("sigmoid", Activation(.sigmoid)),
            ]))))
        }
        var shortcut: (String, any Layer)? = nil
        if stride != 1 || inC != outC {
            shortcut = ("downsample", Sequential(indexed: [f.conv(inC, outC, 3, stride: stride, padding: 1), BatchNorm2d(outC)]))
        }
        let residual = Residual(body: Sequential(body), shortcut: shortcut, activation: relu())
        return Block(seReduction == nil ? "ResidualBlock" : "SEResidualBlock", [(nil, residual)])
    }
}
