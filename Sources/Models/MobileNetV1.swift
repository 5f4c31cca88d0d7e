import Engine

/// Seed 001's MobileNetV1 ("28 layers"): a plain 3x3 conv with bias and ReLU (no BN), 13 depthwise/pointwise
/// pairs (`dw_conv`, `point_conv`: conv-BN-ReLU each), an average pool, and Linear(1024, classes).
///
/// Shapes (small layout): [N, C, 32, 32] -> features.0 [N, 32, 30, 30] -> each unpadded depthwise conv
/// takes 2 px -> [N, 1024, 4, 4] -> AvgPool2d(4) [N, 1024, 1, 1] -> fc [N, classes]. It takes exactly
/// 32x32, so 28x28 images get a ZeroPad2d(2) adapter.
///
/// The large layout has the stride-2 convs of the seed's `large_img=True` branch. Written unpadded, as the
/// seed's code has it, it would fit only inputs of about 700 px, while the seed's own exercise and the
/// paper say `padding=same`: so its 3x3 convs are padded by 1 and its AvgPool2d(7) (which is global at
/// 224 px) is a global average pool. It then takes any input from 28 px up.
enum MobileNetV1 {
    /// One `dw_conv` + `point_conv` pair: the depthwise conv's stride and the pointwise conv's width.
    struct Pair: Sendable {
        let stride: Int
        let out: Int
    }

    struct Config: Sendable {
        let name: String
        let stemWidth: Int
        let stemStride: Int
        let pairs: [Pair]
        /// Padding of the 3x3 convs: 0 as the seed's small layout, 1 ("same") for the large one.
        let padding: Int
        /// AvgPool2d's kernel, or nil for a global average pool.
        let poolKernel: Int?
        /// The one input size the layout takes, if it is built for one.
        let fixedInputSize: Int?
    }

    static func pairs(_ spec: [(Int, Int)]) -> [Pair] { spec.map { Pair(stride: $0.1, out: $0.0) } }

    static let table = [
        Config(name: "mobilenet-v1", stemWidth: 32, stemStride: 1,
               pairs: pairs([(64, 1), (128, 1), (128, 1), (256, 1), (256, 1), (512, 1), (512, 1), (512, 1),
                             (512, 1), (512, 1), (512, 1), (1024, 1), (1024, 1)]),
               padding: 0, poolKernel: 4, fixedInputSize: 32),
        Config(name: "mobilenet-v1-large", stemWidth: 32, stemStride: 2,
               pairs: pairs([(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
                             (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 2)]),
               padding: 1, poolKernel: nil, fixedInputSize: nil),
    ]

    /// A narrow row for the PyTorch logits fixture (not in the zoo).
    static let fixtureRow = Config(
        name: "mobilenet-v1-fixture", stemWidth: 4, stemStride: 1,
        pairs: pairs([(8, 1), (16, 1), (16, 1), (16, 1), (16, 1), (24, 1), (24, 1), (24, 1), (24, 1), (24, 1),
                      (24, 1), (32, 1), (32, 1)]),
        padding: 0, poolKernel: 4, fixedInputSize: 32)

    static let entries = table.map { config in
        ZooEntry(name: config.name, seed: "001", family: "MobileNetV1",
                 notes: config.stemStride == 1 ? [] : [
                    "large layout with padding=same 3x3 convs, as the seed's exercise and the paper state "
                        + "(the seed's code leaves them unpadded, which fits only ~700 px inputs)",
                    "global average pool in place of AvgPool2d(7), which is the same at 224 px and fits smaller inputs",
                 ],
                 fixedInputSize: config.fixedInputSize) { input, classes, f in
            build(config, input: input, classes: classes, factory: &f)
        }
    }

    static func build(_ config: Config, input: [Int], classes: Int, factory f: inout LayerFactory) -> [(String, any Layer)] {
        var features: [any Layer] = [f.conv(input[0], config.stemWidth, 3, stride: config.stemStride, padding: config.padding, bias: true), relu()]
        var inC = config.stemWidth
        for pair in config.pairs {
            features.append(Block("dw_conv", [
                ("dw_conv_k3", f.conv(inC, inC, 3, stride: pair.stride, padding: config.padding, groups: inC)),
                ("bn", BatchNorm2d(inC)),
                ("relu", relu()),
            ]))
            features.append(Block("point_conv", [
                ("p_conv_k1", f.conv(inC, pair.out, 1)),
                ("bn", BatchNorm2d(pair.out)),
                ("relu", relu()),
            ]))
            inC = pair.out
        }
        if let kernel = config.poolKernel {
            features.append(Pool2d(.average(countIncludePad: true), kernel: kernel))
        } else {
            features.append(GlobalAvgPool())
        }
        return [("features", Sequential(indexed: features)), ("fc", f.linear(inC, classes))]
    }
}
