import Engine

// MARK: - Block

/// A named run of stages, as one of the seeds' `nn.Module` classes (`ResidualBlock`, `DownBlock`, `MBConv`).
///
/// Shapes: whatever its stages take and give, applied in order.
/// A stage with a name is a child under that name (`("shuffle", ChannelShuffle)`); a stage without one is a
/// container whose own children are exposed directly, so the state-dict keys are the seed module's
/// attributes (`layer1.0.conv1.weight`, not `layer1.0.body.conv1.weight`). `typeName` is the seed's class
/// name, which the summary shows.
public final class Block: Layer {
    public var name = "" {
        didSet { for stage in stages where stage.name == nil { stage.layer.name = name } }
    }
    public let typeName: String
    public let stages: [(name: String?, layer: any Layer)]
    /// When set, sees each named stage's output (see `ForwardObserver`).
    public var observer: (any ForwardObserver)?

    /// The stages as `infer` runs them, convs with their BatchNorm and activation folded in.
    private let inferencePlan: [InferenceStep]

    public init(_ typeName: String, _ stages: [(String?, any Layer)]) {
        self.typeName = typeName
        self.stages = stages.map { (name: $0.0, layer: $0.1) }
        inferencePlan = inferenceSteps(self.stages.map(\.layer))
        fuseBatchNormReLU(self.stages.map(\.layer))
    }

    public var children: [(String, any Layer)] {
        stages.flatMap { stage -> [(String, any Layer)] in
            if let name = stage.name { return [(name, stage.layer)] }
            return stage.layer.children
        }
    }

    public var chain: [any Layer]? { stages.map(\.layer) }

    public func outputShape(for input: [Int]) throws -> [Int] {
        try stages.reduce(input) { try $1.layer.outputShape(for: $0) }
    }

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        var x = input
        if let observer {
            for stage in stages {
                x = try stage.layer.forward(x, training: training)
                if stage.name != nil { observer.layerDidForward(stage.layer, output: x) }
            }
            return x
        }
        for stage in stages { x = try stage.layer.forward(x, training: training) }
        return x
    }

    /// Folded inference (see `Layer.infer`); with an observer, `forward`, so that every stage is seen.
    public func infer(_ input: Tensor) throws -> Tensor {
        if observer != nil { return try forward(input, training: false) }
        return try runInference(inferencePlan, input)
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        GradientPool.forCurrentThread().backward(through: stages.lazy.map(\.layer), gradOutput)
    }
}

// MARK: - GroupConv

/// MindSpore seed 002's `GroupConv`: `groups` separate convolutions over equal channel slices, concatenated.
///
/// Shapes: input [N, C, H, W], output [N, K, P, Q]; weights `convs.i.weight` [K/g, C/g, k, k], as the seed's
/// `CellList` names them. It computes with one grouped `Conv2d` (the same arithmetic), whose weight is the
/// g slices stacked: forward copies the slices in, backward adds the grouped gradient's slices back out.
public final class GroupConv: ConvolutionLayer {
    public var name = "" { didSet { conv.name = name } }
    public var typeName: String { "GroupConv" }
    public let groups: Int
    public let weights: [Parameter]
    private let conv: Conv2d

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, groups: Int, random: inout RandomSource) {
        self.groups = groups
        conv = Conv2d(inChannels, outChannels, kernel: kernel, padding: kernel / 2, groups: groups, bias: false,
                      random: &random)
        let sliceShape = [outChannels / groups, inChannels / groups, kernel, kernel]
        weights = (0..<groups).map { _ in Parameter(shape: sliceShape) }
        let sliceCount = weights[0].count
        for (g, w) in weights.enumerated() { w.value.data.update(from: conv.weight.value.data + g * sliceCount, count: sliceCount) }
    }

    public var ownState: [(String, Parameter)] { weights.enumerated().map { ("convs.\($0.offset).weight", $0.element) } }

    public func outputShape(for input: [Int]) throws -> [Int] { try conv.outputShape(for: input) }
    public func macsPerSample(input: [Int]) -> Int { conv.macsPerSample(input: input) }

    public var outChannels: Int { conv.outChannels }
    public var reusesFoldedWeights: Bool {
        get { conv.reusesFoldedWeights }
        set { conv.reusesFoldedWeights = newValue }
    }

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        copySlicesIn()
        return try conv.forward(input, training: training)
    }

    public func infer(_ input: Tensor, batchNorm: BatchNorm2d?, activation: Activation.Kind?) throws -> Tensor {
        copySlicesIn()
        return try conv.infer(input, batchNorm: batchNorm, activation: activation)
    }

    /// The grouped conv's weight = the slices, as the optimizer and a checkpoint load last left them.
    private func copySlicesIn() {
        let sliceCount = weights[0].count
        for (g, w) in weights.enumerated() { (conv.weight.value.data + g * sliceCount).update(from: w.value.data, count: sliceCount) }
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        guard let grouped = conv.weight.grad else { return conv.backward(gradOutput) }
        grouped.zero()
        let gradInput = conv.backward(gradOutput)
        let sliceCount = weights[0].count
        for (g, w) in weights.enumerated() {
            guard let dw = w.grad else { continue }
            let src = grouped.data + g * sliceCount
            for i in 0..<sliceCount { dw.data[i] = dw.data[i] + src[i] }
        }
        return gradInput
    }
}

// MARK: - Builders shared by the families

/// The building helpers every family file uses: one seeded source for the weights, and short constructors.
struct LayerFactory {
    var random: RandomSource
    let stream: RandomStream

    init(seed: UInt64) {
        random = RandomSource(seed: seed)
        stream = RandomStream(seed: seed &+ 0x5EED)
    }

    mutating func conv(_ inC: Int, _ outC: Int, _ k: Int, stride: Int = 1, padding: Int = 0, groups: Int = 1,
                       bias: Bool = false) -> Conv2d {
        Conv2d(inC, outC, kernel: k, stride: stride, padding: padding, groups: groups, bias: bias, random: &random)
    }

    mutating func linear(_ inF: Int, _ outF: Int, bias: Bool = true) -> Linear {
        Linear(inF, outF, bias: bias, random: &random)
    }

    mutating func groupConv(_ inC: Int, _ outC: Int, groups: Int) -> GroupConv {
        GroupConv(inC, outC, kernel: 1, groups: groups, random: &random)
    }
}

func relu() -> Activation { Activation(.relu) }
