import Engine

/// Seed 003's VGG with batch norm: a `cfg` list of conv widths and max-pools, then Linear(512, classes).
///
/// Shapes: [N, C, 32, 32] -> features (five 2x2 max-pools) [N, 512, 1, 1] -> classifier [N, classes].
/// The classifier takes exactly 512 features, so the network takes 32x32 images; 28x28 ones get a
/// ZeroPad2d(2) adapter.
enum VGG {
    /// A conv width, or a 2x2 max-pool ("M" in the seed's cfg).
    enum Item: Sendable { case conv(Int), pool }

    struct Config: Sendable {
        let name: String
        let cfg: [Item]
    }

    static func cfg(_ spec: [Int]) -> [Item] { spec.map { $0 == 0 ? .pool : .conv($0) } }
    private static let M = 0

    static let table = [
        Config(name: "vgg11", cfg: cfg([64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M])),
        Config(name: "vgg13", cfg: cfg([64, 64, M, 128, 128, M, 256, 256, M, 512, 512, M, 512, 512, M])),
        Config(name: "vgg16", cfg: cfg([64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M, 512, 512, 512, M])),
        Config(name: "vgg19", cfg: cfg([64, 64, M, 128, 128, M, 256, 256, 256, 256, M, 512, 512, 512, 512, M,
                                        512, 512, 512, 512, M])),
    ]

    /// A narrow row for the PyTorch logits fixture (not in the zoo).
    static let fixtureRow = Config(name: "vgg-fixture", cfg: cfg([8, M, 16, M, 16, 16, M, 32, M, 32, M]))

    static let entries = table.map { config in
        ZooEntry(name: config.name, seed: "003", family: "VGG", notes: [], fixedInputSize: 32) { input, classes, f in
            build(config, input: input, classes: classes, factory: &f)
        }
    }

    static func build(_ config: Config, input: [Int], classes: Int, factory f: inout LayerFactory) -> [(String, any Layer)] {
        var features: [any Layer] = []
        var inC = input[0]
        for item in config.cfg {
            switch item {
            case .pool:
                features.append(Pool2d(.max, kernel: 2, stride: 2))
            case .conv(let width):
                features += [f.conv(inC, width, 3, padding: 1, bias: true), BatchNorm2d(width), relu()]
                inC = width
            }
        }
        features.append(Pool2d(.average(countIncludePad: true), kernel: 1, stride: 1))
        return [("features", Sequential(indexed: features)), ("classifier", f.linear(inC, classes))]
    }
}
