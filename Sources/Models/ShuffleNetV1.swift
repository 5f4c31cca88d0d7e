import Engine

/// Seed 002's ShuffleNetV1 (MindSpore), written with PyTorch layers and the seed's attribute names.
///
/// Shapes (under 64 px): [N, C, H, W] -> first_conv (3x3, stride 1) [N, c1, H, W] -> three stages of
/// `ShuffleV1Block`s (4, 8, 4; each stage's first block has stride 2) [N, c4, H/8, W/8] -> globalpool
/// [N, c4, 1, 1] -> classifier [N, classes]. From 64 px up the stem is the seed's stride-2 conv and
/// 3x3/2 max-pool. A block is: grouped 1x1 conv (`GroupConv`, 1 group in the very first block), BN, ReLU,
/// channel shuffle, depthwise 3x3 (the block's stride), BN, grouped 1x1 conv, BN; then relu(x + that), or
/// for stride 2 relu(concat(AvgPool2d(3, 2, padding 1)(x), that)).
enum ShuffleNetV1 {
    struct Config: Sendable {
        let name: String
        let groups: Int
        /// Stem width, then the three stages' output channels (the seed's stage_out_channels[1...]).
        let channels: [Int]
        var repeats = [4, 8, 4]
    }

    /// The seed's stage_out_channels per group count and model size.
    static let widths: [(groups: Int, size: String, channels: [Int])] = [
        (3, "0.5x", [12, 120, 240, 480]), (3, "1.0x", [24, 240, 480, 960]),
        (3, "1.5x", [24, 360, 720, 1440]), (3, "2.0x", [48, 480, 960, 1920]),
        (8, "0.5x", [16, 192, 384, 768]), (8, "1.0x", [24, 384, 768, 1536]),
        (8, "1.5x", [24, 576, 1152, 2304]), (8, "2.0x", [48, 768, 1536, 3072]),
    ]

    static let table = widths.map { Config(name: "shufflenet-v1-g\($0.groups)-\($0.size)", groups: $0.groups, channels: $0.channels) }

    /// A small row for the PyTorch logits fixture (not in the zoo).
    static let fixtureRow = Config(name: "shufflenet-v1-fixture", groups: 3, channels: [12, 60, 120, 240], repeats: [2, 2, 2])

    static let notes = [
        "inputs under 64 px: the stem is a stride-1 3x3 conv without the max-pool, as the seed's 224 px stem would leave a 1x1 map",
        "global average pooling instead of AvgPool2d(7) (the same at 224 px)",
        "MindSpore pad_mode='same' pooling written as PyTorch AvgPool2d(3, 2, padding=1) / MaxPool2d(3, 2, padding=1)",
        "PyTorch default initialisation instead of xavier_uniform",
    ]

    static let entries = table.map { config in
        ZooEntry(name: config.name, seed: "002", family: "ShuffleNetV1", notes: notes, fixedInputSize: nil) { input, classes, f in
            build(config, input: input, classes: classes, factory: &f)
        }
    }

    static func build(_ config: Config, input: [Int], classes: Int, factory f: inout LayerFactory) -> [(String, any Layer)] {
        let small = min(input[1], input[2]) < 64
        var inC = config.channels[0]
        var layers: [(String, any Layer)] = [
            ("first_conv", Sequential(indexed: [f.conv(input[0], inC, 3, stride: small ? 1 : 2, padding: 1), BatchNorm2d(inC), relu()])),
        ]
        if !small { layers.append(("maxpool", Pool2d(.max, kernel: 3, stride: 2, padding: 1))) }
        var features: [any Layer] = []
        for (stage, repeats) in config.repeats.enumerated() {
            let outC = config.channels[stage + 1]
            for i in 0..<repeats {
                features.append(block(inC, outC, groups: config.groups, firstGroup: stage == 0 && i == 0,
                                      stride: i == 0 ? 2 : 1, &f))
                inC = outC
            }
        }
        layers.append(("features", Sequential(indexed: features)))
        layers.append(("globalpool", GlobalAvgPool()))
        layers.append(("classifier", f.linear(inC, classes)))
        return layers
    }

    /// `ShuffleV1Block(inp, oup, group, first_group, mid_channels = oup / 4, ksize = 3, stride)`.
    static func block(_ inC: Int, _ outC: Int, groups: Int, firstGroup: Bool, stride: Int, _ f: inout LayerFactory) -> Block {
        let mid = outC / 4
        let outputs = stride == 2 ? outC - inC : outC
        var main: [(String, any Layer)] = [
            ("branch_main_1", Sequential(indexed: [f.groupConv(inC, mid, groups: firstGroup ? 1 : groups), BatchNorm2d(mid), relu()])),
        ]
        if groups > 1 { main.append(("channel_shuffle", ChannelShuffle(groups: groups, order: .channelsFirst))) }
        main.append(("branch_main_2", Sequential(indexed: [
            f.conv(mid, mid, 3, stride: stride, padding: 1, groups: mid), BatchNorm2d(mid),
            f.groupConv(mid, outputs, groups: groups), BatchNorm2d(outputs),
        ])))
        if stride == 1 {
            return Block("ShuffleV1Block", [(nil, Residual(body: Sequential(main), activation: relu()))])
        }
        let proj = Sequential([("branch_proj", Pool2d(.average(countIncludePad: true), kernel: 3, stride: 2, padding: 1))])
        return Block("ShuffleV1Block", [(nil, Concat(branches: [proj, Sequential(main)], activation: relu()))])
    }
}
