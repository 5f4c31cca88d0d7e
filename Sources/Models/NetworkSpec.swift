/// A network written as a text file (`.cnn`): one layer per line, children indented under their block,
/// as the seeds' configuration tables list them. `NetworkSpecReader` reads the text into this form,
/// `NetworkSpecBuilder` builds the layers (inferring every shape), `NetworkSpecWriter` writes a built
/// network back out.
///
///     # tiny-resnet: a stem, two residual stages, a classifier
///     conv: conv 16 3 padding=1
///     bn: batchnorm
///     relu: relu
///     layer1: sequential
///       repeat 2
///         basic-block 16
///     fc: linear classes
///
/// A line is `[NAME:] KIND [VALUE ...] [OPTION=VALUE ...]`. NAME is the layer's state-dict name; a line
/// without one takes its index in its container, as in `nn.Sequential`.
public struct NetworkSpec: Sendable {
    /// Where the text came from, as messages name it.
    public let file: String
    /// The one square input size the network is built for (`input-size 32`): smaller square inputs get a
    /// ZeroPad2d adapter, as the zoo's fixed-size networks do. nil: it takes what its layers take.
    public var inputSize: Int?
    /// The channel multiplier (`width 0.5`): every conv's and named block's output width is scaled by it.
    public var width: Double = 1
    /// The seed family whose training recipe the network uses (`family ResNet`); nil for the generic one.
    public var family: String?
    public var layers: [SpecNode]
}

/// One line of a spec and the lines indented under it.
public struct SpecNode: Sendable, Equatable {
    public let line: Int
    public let name: String?
    public let kind: String
    /// Values before the options, in order (`conv 16 3` has ["16", "3"]).
    public let values: [String]
    /// `key=value` options in the order written.
    public let options: [(key: String, value: String)]
    public var children: [SpecNode]

    public static func == (a: SpecNode, b: SpecNode) -> Bool {
        a.line == b.line && a.name == b.name && a.kind == b.kind && a.values == b.values
            && a.options.map(\.key) == b.options.map(\.key) && a.options.map(\.value) == b.options.map(\.value)
            && a.children == b.children
    }
}

/// A spec that cannot be read or built: the file, the line (when one is at fault) and what does not fit.
public struct NetworkSpecError: Error, CustomStringConvertible, Equatable, Sendable {
    public let file: String
    public let line: Int?
    public let message: String

    public init(file: String, line: Int?, _ message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        guard let line else { return "\(file): \(message)" }
        return "\(file): line \(line): \(message)"
    }
}

extension NetworkSpec {
    /// The file extension of spec files.
    public static let fileExtension = "cnn"

    /// Whether a `--model` value names a spec file rather than a zoo model: it ends in `.cnn` or has a `/`.
    public static func isPath(_ model: String) -> Bool {
        model.hasSuffix("." + fileExtension) || model.contains("/")
    }
}
