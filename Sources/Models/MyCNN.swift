import Engine

/// Seed 003's `MyCNN`: two conv-BN-ReLU-maxpool stages and one linear layer.
///
/// Shapes: [N, C, H, W] -> conv1 [N, 16, H/2, W/2] -> conv2 [N, 32, H/4, W/4] -> fc [N, classes],
/// fc = Linear(32 * (H/4) * (W/4), classes) as the seed sizes it from the image.
enum MyCNN {
    struct Config: Sendable {
        let name: String
        /// Output channels of conv1 and conv2.
        let widths: (Int, Int)
    }

    static let table = [Config(name: "mycnn", widths: (16, 32))]

    static let entries = table.map { config in
        ZooEntry(name: config.name, seed: "003", family: "MyCNN", notes: [], fixedInputSize: nil) { input, classes, f in
            try build(config, input: input, classes: classes, factory: &f)
        }
    }

    static func build(_ config: Config, input: [Int], classes: Int, factory f: inout LayerFactory) throws -> [(String, any Layer)] {
        let (w1, w2) = config.widths
        guard input[1] >= 4, input[2] >= 4 else {
            throw ModelError.unsupportedInput(model: config.name, input: input, reason: "two 2x2 max-pools need at least 4x4 pixels")
        }
        func stage(_ inC: Int, _ outC: Int, _ f: inout LayerFactory) -> Sequential {
            Sequential(indexed: [f.conv(inC, outC, 3, padding: 1, bias: true), BatchNorm2d(outC), relu(),
                                 Pool2d(.max, kernel: 2, stride: 2)])
        }
        return [
            ("conv1", stage(input[0], w1, &f)),
            ("conv2", stage(w1, w2, &f)),
            ("fc", f.linear(w2 * (input[1] / 4) * (input[2] / 4), classes)),
        ]
    }
}
