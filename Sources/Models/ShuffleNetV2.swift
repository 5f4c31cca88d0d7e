import Engine

/// Seed 000's ShuffleNetV2 for CIFAR-10, as its code and torchsummary give it.
///
/// Shapes: [N, C, 32, 32] -> conv1/bn1/relu [N, 24, 32, 32] -> layer1 [N, c0, 16, 16] -> layer2
/// [N, c1, 8, 8] -> layer3 [N, c2, 4, 4] -> conv2/bn2/relu [N, c3, 4, 4] -> avg_pool2d(4) [N, c3, 1, 1]
/// -> linear [N, classes]. 28x28 also ends at 4x4. Each layer is one `DownBlock` (both branches stride 2,
/// concatenated) and `num_blocks` `BasicBlock`s (the right half of the channels through 1x1, depthwise
/// 3x3, 1x1; the left half passed on), each ending in a 2-group channel shuffle.
enum ShuffleNetV2 {
    struct Config: Sendable {
        let name: String
        /// layer1..3 output channels, then conv2's.
        let outChannels: [Int]
        var numBlocks = [3, 7, 3]
    }

    static let table = [
        Config(name: "shufflenet-v2-0.5x", outChannels: [48, 96, 192, 1024]),
        Config(name: "shufflenet-v2-1.0x", outChannels: [116, 232, 464, 1024]),
        Config(name: "shufflenet-v2-1.5x", outChannels: [176, 352, 704, 1024]),
        Config(name: "shufflenet-v2-2.0x", outChannels: [224, 488, 976, 2048]),
    ]

    /// A small row for the PyTorch logits fixture (not in the zoo).
    static let fixtureRow = Config(name: "shufflenet-v2-fixture", outChannels: [16, 32, 48, 64], numBlocks: [1, 2, 1])

    static let entries = table.map { config in
        ZooEntry(name: config.name, seed: "000", family: "ShuffleNetV2", notes: [], fixedInputSize: nil) { input, classes, f in
            build(config, input: input, classes: classes, factory: &f)
        }
    }

    static func build(_ config: Config, input: [Int], classes: Int, factory f: inout LayerFactory) -> [(String, any Layer)] {
        var layers: [(String, any Layer)] = [
            ("conv1", f.conv(input[0], 24, 3, padding: 1)),
            ("bn1", BatchNorm2d(24)),
            ("relu", relu()),
        ]
        var inC = 24
        for (stage, count) in config.numBlocks.enumerated() {
            let outC = config.outChannels[stage]
            var blocks: [any Layer] = [downBlock(inC, outC, &f)]
            for _ in 0..<count { blocks.append(basicBlock(outC, &f)) }
            inC = outC
            layers.append(("layer\(stage + 1)", Sequential(indexed: blocks)))
        }
        let last = config.outChannels[3]
        layers += [
            ("conv2", f.conv(inC, last, 1)),
            ("bn2", BatchNorm2d(last)),
            ("relu", relu()),
            ("avg_pool", Pool2d(.average(countIncludePad: true), kernel: 4)),
            ("linear", f.linear(last, classes)),
        ]
        return layers
    }

    static func shuffle() -> ChannelShuffle { ChannelShuffle(groups: 2, order: .groupsFirst) }

    /// `DownBlock(in, out)`: concat(left, right), both halves of `out` at stride 2, then the shuffle.
    static func downBlock(_ inC: Int, _ outC: Int, _ f: inout LayerFactory) -> Block {
        let mid = outC / 2
        let left = Sequential([
            ("conv1", f.conv(inC, inC, 3, stride: 2, padding: 1, groups: inC)), ("bn1", BatchNorm2d(inC)),
            ("conv2", f.conv(inC, mid, 1)), ("bn2", BatchNorm2d(mid)), ("relu", relu()),
        ])
        let right = Sequential([
            ("conv3", f.conv(inC, mid, 1)), ("bn3", BatchNorm2d(mid)), ("relu", relu()),
            ("conv4", f.conv(mid, mid, 3, stride: 2, padding: 1, groups: mid)), ("bn4", BatchNorm2d(mid)),
            ("conv5", f.conv(mid, mid, 1)), ("bn5", BatchNorm2d(mid)), ("relu", relu()),
        ])
        return Block("DownBlock", [(nil, Concat(branches: [left, right])), ("shuffle", shuffle())])
    }

    /// `BasicBlock(c)`: the first c/2 channels pass, the rest go through 1x1, depthwise 3x3, 1x1; then the shuffle.
    static func basicBlock(_ c: Int, _ f: inout LayerFactory) -> Block {
        let half = c / 2
        let body = Sequential([
            ("conv1", f.conv(half, half, 1)), ("bn1", BatchNorm2d(half)), ("relu", relu()),
            ("conv2", f.conv(half, half, 3, padding: 1, groups: half)), ("bn2", BatchNorm2d(half)),
            ("conv3", f.conv(half, half, 1)), ("bn3", BatchNorm2d(half)), ("relu", relu()),
        ])
        return Block("BasicBlock", [(nil, SplitConcat(splitAt: half, body: body)), ("shuffle", shuffle())])
    }
}
