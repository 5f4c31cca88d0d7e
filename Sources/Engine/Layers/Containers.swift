/// Containers compose layers into the few block shapes these networks use. Each exposes the children
/// of its inner `Sequential`s directly, so state-dict keys match the seed's module attributes
/// (`layer1.0.conv1.weight`, not `layer1.0.body.conv1.weight`).

/// Lets each BatchNorm2d directly followed by a ReLU in `layers` (run in this order by one container)
/// compute relu(bn(x)) and mask the gradient itself: one pass and one buffer fewer each way. The ReLU
/// stays a child (same summary and state dict) and passes the already rectified tensor through.
public func fuseBatchNormReLU(_ layers: [any Layer]) {
    for i in layers.indices.dropLast() {
        if let bn = layers[i] as? BatchNorm2d, let act = layers[i + 1] as? Activation, act.kind == .relu {
            bn.appliesReLU = true
            act.fusedInto = bn
        }
    }
}

/// One step of a container's inference (`Layer.infer`): a layer run on its own, a conv (`ConvolutionLayer`) run with the
/// BatchNorm and the ReLU, ReLU6 or SiLU directly after it folded in (`Conv2d.infer`), or a channel
/// concatenation that writes its channels straight to where the shuffle after it moves them.
public enum InferenceStep {
    case layer(any Layer)
    case conv(any ConvolutionLayer, batchNorm: BatchNorm2d?, activation: Activation.Kind?)
    case shuffledJoin(any ChannelJoin, ChannelShuffle)
}

/// A layer whose output is a concatenation over channels (ShuffleNetV2's blocks, before their shuffle).
public protocol ChannelJoin: Layer {
    /// `shuffle(infer(input))` in one pass over the output: each joined channel is copied once, to its
    /// shuffled place. The concatenation and the shuffle were two copies of every channel (with the split,
    /// two and a half of a ShuffleNetV2 block's output).
    func infer(_ input: Tensor, shuffledBy shuffle: ChannelShuffle) throws -> Tensor
}

/// The inference steps of `layers`, run in this order by one container: each conv takes a BatchNorm2d
/// directly after it (of its channel count), then a ReLU, ReLU6 or SiLU directly after those; everything else is
/// a step of its own. A conv with neither stays a plain layer.
public func inferenceSteps(_ layers: [any Layer]) -> [InferenceStep] {
    var steps: [InferenceStep] = []
    var i = 0
    while i < layers.count {
        if let join = layers[i] as? any ChannelJoin, i + 1 < layers.count, let shuffle = layers[i + 1] as? ChannelShuffle {
            steps.append(.shuffledJoin(join, shuffle))
            i += 2
            continue
        }
        guard let conv = layers[i] as? any ConvolutionLayer else {
            steps.append(.layer(layers[i]))
            i += 1
            continue
        }
        var next = i + 1
        var bn: BatchNorm2d?
        if next < layers.count, let b = layers[next] as? BatchNorm2d, b.channels == conv.outChannels {
            bn = b
            next += 1
        }
        var activation: Activation.Kind?
        if next < layers.count, let a = layers[next] as? Activation, [.relu, .relu6, .silu].contains(a.kind) {
            activation = a.kind
            next += 1
        }
        steps.append(bn == nil && activation == nil ? .layer(conv) : .conv(conv, batchNorm: bn, activation: activation))
        i = next
    }
    return steps
}

/// Runs inference steps in order on `input`.
public func runInference(_ steps: some Collection<InferenceStep>, _ input: Tensor) throws -> Tensor {
    var x = input
    for step in steps {
        switch step {
        case let .layer(layer): x = try layer.infer(x)
        case let .conv(conv, bn, activation): x = try conv.infer(x, batchNorm: bn, activation: activation)
        case let .shuffledJoin(join, shuffle): x = try join.infer(x, shuffledBy: shuffle)
        }
    }
    return x
}

/// The activation after a container's sum or concatenation, over the container's own buffer `x`.
/// A ReLU runs in place: its gradient needs only the sign of its output, so the block keeps one
/// activation-sized tensor instead of two. Other kinds run as a layer.
private func activate(_ activation: Activation?, _ x: Tensor, training: Bool) throws -> Tensor {
    guard let activation else { return x }
    if activation.kind == .relu {
        reluForward(y: x.data, x: x.data, n: x.count)
        return x
    }
    return try activation.forward(x, training: training)
}

/// The backward of `activate`: output is the tensor `activate` returned. Returns gradOutput itself when
/// there is no activation, else a gradient lent by the pool.
private func activationBackward(_ activation: Activation?, _ gradOutput: Tensor, output: Tensor) -> Tensor {
    guard let activation else { return gradOutput }
    if activation.kind == .relu {
        let g = GradientPool.forCurrentThread().take(output.shape)
        reluBackward(dx: g.data, dy: gradOutput.data, x: output.data, n: output.count)
        return g
    }
    return activation.backward(gradOutput)
}

/// Layers applied in order, as `nn.Sequential` (children named "0", "1", ... or by attribute name).
public final class Sequential: Layer {
    public var name = ""
    public var typeName: String { "Sequential" }
    public private(set) var layers: [(String, any Layer)]

    /// `layers` as `infer` runs them, convs with their BatchNorm and activation folded in.
    let inferencePlan: [InferenceStep]

    public init(_ layers: [(String, any Layer)]) {
        self.layers = layers
        inferencePlan = inferenceSteps(layers.map(\.1))
        fuseBatchNormReLU(layers.map(\.1))
    }

    /// Children named by index, as `nn.Sequential(a, b, c)`.
    public convenience init(indexed layers: [any Layer]) {
        self.init(layers.enumerated().map { (String($0.offset), $0.element) })
    }

    public var children: [(String, any Layer)] { layers }
    public var chain: [any Layer]? { layers.map(\.1) }

    /// When set, each child's forward and backward is timed (`cnntui bench --profile`).
    public var profiler: LayerProfiler?
    /// When set, sees each child's output (see `ForwardObserver`).
    public var observer: (any ForwardObserver)?
    /// When set, sees the gradient of each child's output before that child's backward (see `BackwardObserver`).
    public var backwardObserver: (any BackwardObserver)?

    public func outputShape(for input: [Int]) throws -> [Int] {
        try layers.reduce(input) { try $1.1.outputShape(for: $0) }
    }

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        var x = input
        if let profiler {
            for (_, layer) in layers { x = try profiler.time(layer, backward: false) { try layer.forward(x, training: training) } }
            return x
        }
        if let observer {
            for (_, layer) in layers { x = try layer.forward(x, training: training); observer.layerDidForward(layer, output: x) }
            return x
        }
        for (_, layer) in layers { x = try layer.forward(x, training: training) }
        return x
    }

    /// Folded inference; with a profiler each step is timed under its first layer (the conv, for a folded
    /// conv + BN + activation), with an observer it runs `forward` so that every child's output is seen.
    public func infer(_ input: Tensor) throws -> Tensor {
        if observer != nil { return try forward(input, training: false) }
        return try infer(input, steps: inferencePlan[...])
    }

    /// Runs `steps` of the inference plan on `input` (a `Residual` whose first step ran paired starts at 1).
    func infer(_ input: Tensor, steps: ArraySlice<InferenceStep>) throws -> Tensor {
        guard let profiler else { return try runInference(steps, input) }
        var x = input
        for step in steps {
            switch step {
            case let .layer(layer): x = try profiler.time(layer, backward: false) { try layer.infer(x) }
            case let .conv(conv, bn, activation):
                x = try profiler.time(conv, backward: false) { try conv.infer(x, batchNorm: bn, activation: activation) }
            case let .shuffledJoin(join, shuffle):
                x = try profiler.time(join, backward: false) { try join.infer(x, shuffledBy: shuffle) }
            }
        }
        return x
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        let pool = GradientPool.forCurrentThread()
        if let profiler {
            return pool.backward(through: layers.lazy.map(\.1), gradOutput) { layer, g in
                profiler.time(layer, backward: true) { layer.backward(g) }
            }
        }
        if let backwardObserver {
            return pool.backward(through: layers.lazy.map(\.1), gradOutput) { layer, g in
                backwardObserver.layerWillBackward(layer, gradOutput: g)
                return layer.backward(g)
            }
        }
        return pool.backward(through: layers.lazy.map(\.1), gradOutput)
    }
}

/// y = activation(body(x) + shortcut(x)); identity shortcut when `shortcut` is nil, no activation when nil.
/// ResNet's blocks (downsample shortcut, ReLU after the add), ShuffleNetV1's stride-1 units, MBConv.
public final class Residual: Layer {
    public var name = ""
    public var typeName: String { "Residual" }
    public let body: Sequential
    public let shortcut: (String, any Layer)?
    public let activation: Activation?
    /// When set, sees the shortcut's output and this block's own (see `ForwardObserver`).
    public var observer: (any ForwardObserver)?

    public init(body: Sequential, shortcut: (String, any Layer)? = nil, activation: Activation? = nil) {
        self.body = body
        self.shortcut = shortcut
        self.activation = activation
        if case let .conv(firstLayer, bn, act)? = body.inferencePlan.first, let first = firstLayer as? Conv2d,
           let side = shortcut?.1 as? Sequential, side.inferencePlan.count == 1,
           case let .conv(sideLayer, sideBN, sideAct) = side.inferencePlan[0], let sideConv = sideLayer as? Conv2d {
            convPair = (InferenceConv(first, bn, act), side, InferenceConv(sideConv, sideBN, sideAct))
        } else {
            convPair = nil
        }
        switch body.inferencePlan.last {
        case let .conv(layer, bn, nil)? where body.inferencePlan.count > 1:
            let fuses = activation.map { [.relu, .relu6, .silu].contains($0.kind) } ?? true
            summingStep = (layer as? Conv2d).flatMap { fuses ? .conv(InferenceConv($0, bn, activation?.kind)) : nil }
        case let .layer(layer)? where activation == nil || activation?.kind == .relu:
            summingStep = (layer as? SqueezeExcite).map { .excite($0) }
        default:
            summingStep = nil
        }
    }

    /// A folded conv of an inference plan: the conv, the BatchNorm and the activation it takes in.
    struct InferenceConv {
        let conv: Conv2d, batchNorm: BatchNorm2d?, activation: Activation.Kind?
        init(_ conv: Conv2d, _ batchNorm: BatchNorm2d?, _ activation: Activation.Kind?) {
            (self.conv, self.batchNorm, self.activation) = (conv, batchNorm, activation)
        }
    }

    /// The body's first conv and a shortcut that is one conv (ResNet's downsample), which inference may run
    /// as one (`Conv2d.pairs(with:input:)`) when they read the input alike.
    private let convPair: (first: InferenceConv, shortcut: Sequential, side: InferenceConv)?

    /// The body's last step when inference adds the shortcut and applies this block's activation as that step
    /// writes its output: a conv with its BatchNorm and no activation of its own, when the block's activation is
    /// none or one a conv's output pass applies (`Conv2d.infer(_:batchNorm:activation:adding:)`), or a
    /// squeeze-excite, with no activation or a ReLU (`SqueezeExcite.infer(_:adding:activation:)`). The sum as a pass of
    /// its own was 5 % of a 3x32x32 ResNet's inference cycles.
    private let summingStep: SummingStep?
    private enum SummingStep {
        case conv(InferenceConv)
        case excite(SqueezeExcite)
    }

    /// The body's and shortcut's outputs in inference, the body's without its last `dropped` steps: the pair of
    /// first convs at once where they pair, then the rest of the body; else each path on its own.
    private func inferPaths(_ input: Tensor, droppingLast dropped: Int) throws -> (main: Tensor, side: Tensor) {
        let steps = body.inferencePlan.dropLast(dropped)
        if let (first, shortcut, side) = convPair, body.observer == nil, shortcut.observer == nil,
           first.conv.pairs(with: side.conv, input: input.shape) {
            let run = {
                try first.conv.infer(input, batchNorm: first.batchNorm, activation: first.activation,
                                     pairedWith: side.conv, batchNorm: side.batchNorm, activation: side.activation)
            }
            let (x, sideOutput) = try body.profiler.map { try $0.time(first.conv, backward: false, run) } ?? run()
            return (try body.infer(x, steps: steps.dropFirst()), sideOutput)
        }
        let main = dropped == 0 ? try body.infer(input) : try body.infer(input, steps: steps)
        return (main, try shortcut?.1.infer(input) ?? input)
    }

    public var children: [(String, any Layer)] {
        var c = body.children
        if let shortcut { c.append(shortcut) }
        return c
    }

    public func outputShape(for input: [Int]) throws -> [Int] {
        let main = try body.outputShape(for: input)
        let side = try shortcut?.1.outputShape(for: input) ?? input
        guard main == side else {
            throw EngineError.shapeMismatch(layer: displayName,
                                            expected: "shortcut output \(shapeString(main))", got: side)
        }
        return main
    }

    private let sum = Tensor(shape: [0])
    /// What forward returned: `sum` (rectified in place, or no activation) or the activation's output.
    private var output = Tensor(shape: [0])

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        let main = try body.forward(input, training: training)
        let side = try shortcut?.1.forward(input, training: training) ?? input
        guard main.shape == side.shape else {
            throw EngineError.shapeMismatch(layer: displayName,
                                            expected: "shortcut output \(shapeString(main.shape))", got: side.shape)
        }
        output = try sumActivated(main, side) { try activate(activation, $0, training: training) }
        if let observer {
            if let (_, layer) = shortcut { observer.layerDidForward(layer, output: side) }
            observer.layerDidForward(self, output: output)
        }
        return output
    }

    /// Inference: body and shortcut folded, the sum and the activation after it in the output pass of the body's
    /// last step (`summingStep`), or else in one pass of their own.
    public func infer(_ input: Tensor) throws -> Tensor {
        if observer != nil { return try forward(input, training: false) }
        if let last = summingStep, body.observer == nil {
            let (x, side) = try inferPaths(input, droppingLast: 1)
            let timedLayer: any Layer, run: () throws -> Tensor
            switch last {
            case let .conv(step):
                timedLayer = step.conv
                run = { try step.conv.infer(x, batchNorm: step.batchNorm, activation: step.activation, adding: side) }
            case let .excite(excite):
                timedLayer = excite
                run = { try excite.infer(x, adding: side, activation: self.activation == nil ? .none : .relu) }
            }
            let main = try timedLayer.outputShape(for: x.shape)
            guard main == side.shape else {
                throw EngineError.shapeMismatch(layer: displayName, expected: "shortcut output \(shapeString(main))", got: side.shape)
            }
            output = try body.profiler.map { try $0.time(timedLayer, backward: false, run) } ?? run()
            return output
        }
        let (main, side) = try inferPaths(input, droppingLast: 0)
        guard main.shape == side.shape else {
            throw EngineError.shapeMismatch(layer: displayName,
                                            expected: "shortcut output \(shapeString(main.shape))", got: side.shape)
        }
        output = try sumActivated(main, side) { try activation?.infer($0) ?? $0 }
        return output
    }

    /// `sum` = main + side, then the activation (`activate`): a ReLU in the same pass, whose output is also
    /// the mask its backward reads, as the ReLU's own in-place output was.
    private func sumActivated(_ main: Tensor, _ side: Tensor, otherwise activate: (Tensor) throws -> Tensor) rethrows -> Tensor {
        sum.resize(to: main.shape)
        if let activation, activation.kind == .relu {
            addReLU(y: sum.data, a: main.data, b: side.data, n: sum.count)
            return sum
        }
        add(y: sum.data, a: main.data, b: side.data, n: sum.count)
        return try activate(sum)
    }

    /// x feeds both paths, so dL/dx = body's dx + shortcut's dx, summed into a fresh gradient (either
    /// path may hand back g itself, e.g. the identity shortcut).
    public func backward(_ gradOutput: Tensor) -> Tensor {
        let pool = GradientPool.forCurrentThread()
        let g = activationBackward(activation, gradOutput, output: output)
        let bodyGrad = body.backward(g)
        let sideGrad = shortcut?.1.backward(g) ?? g
        let gradInput = pool.take(bodyGrad.shape)
        add(y: gradInput.data, a: bodyGrad.data, b: sideGrad.data, n: gradInput.count)
        pool.give(bodyGrad, unless: g)
        pool.give(sideGrad, unless: g)
        pool.give(g, unless: gradOutput)
        return gradInput
    }
}

/// y = activation(concat over channels of branch_i(x)); ShuffleNetV2's DownBlock, ShuffleNetV1's stride-2 units.
public final class Concat: ChannelJoin {
    public var name = ""
    public var typeName: String { "Concat" }
    public let branches: [Sequential]
    public let activation: Activation?
    /// When set, sees this block's output (see `ForwardObserver`).
    public var observer: (any ForwardObserver)?

    public init(branches: [Sequential], activation: Activation? = nil) {
        self.branches = branches
        self.activation = activation
        branchChannels = branches.map { _ in 0 }
    }

    public var children: [(String, any Layer)] { branches.flatMap(\.children) }

    public func outputShape(for input: [Int]) throws -> [Int] {
        let outs = try branches.map { try $0.outputShape(for: input) }
        guard let first = outs.first, outs.allSatisfy({ $0.count == 4 && $0[0] == first[0] && $0[2...] == first[2...] })
        else {
            throw EngineError.shapeMismatch(layer: displayName,
                                            expected: "branches with equal N, H, W", got: input)
        }
        return [first[0], outs.reduce(0) { $0 + $1[1] }, first[2], first[3]]
    }

    private let joined = Tensor(shape: [0])
    /// What forward returned: `joined` (rectified in place, or no activation) or the activation's output.
    private var output = Tensor(shape: [0])
    private var branchChannels: [Int]
    private var inputShape: [Int] = []

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        try join(input, training: training) { try $0.forward(input, training: training) }
    }

    public func infer(_ input: Tensor) throws -> Tensor {
        if observer != nil { return try forward(input, training: false) }
        return try join(input, training: false) { try $0.infer(input) }
    }

    public func infer(_ input: Tensor, shuffledBy shuffle: ChannelShuffle) throws -> Tensor {
        if observer != nil { return try shuffle.infer(forward(input, training: false)) }
        _ = try shuffle.outputShape(for: outputShape(for: input.shape))
        return try join(input, training: false, shuffledBy: shuffle) { try $0.infer(input) }
    }

    /// Concatenates what `run` gives for each branch (each channel copied to where `shuffle` would move it,
    /// if given), then the activation.
    private func join(_ input: Tensor, training: Bool, shuffledBy shuffle: ChannelShuffle? = nil,
                      _ run: (Sequential) throws -> Tensor) throws -> Tensor {
        let shape = try outputShape(for: input.shape)
        joined.resize(to: shape)
        let (N, S) = (shape[0], shape[2] * shape[3])
        var start = 0
        for (b, branch) in branches.enumerated() {
            let y = try run(branch)
            copyChannels(dst: joined.data, dstC: shape[1], dstStart: start, shuffledBy: shuffle?.kernelGroups(channels: shape[1]),
                         src: y.data, srcC: y.shape[1], srcStart: 0, count: y.shape[1], N: N, S: S)
            branchChannels[b] = y.shape[1]
            start += y.shape[1]
        }
        inputShape = input.shape
        output = try activate(activation, joined, training: training)
        observer?.layerDidForward(self, output: output)
        return output
    }

    /// Every branch reads x, so their input gradients are summed; each branch gets its slice of the
    /// output gradient as a tensor of its own.
    public func backward(_ gradOutput: Tensor) -> Tensor {
        let pool = GradientPool.forCurrentThread()
        let g = activationBackward(activation, gradOutput, output: output)
        let (N, C, H, W) = (g.shape[0], g.shape[1], g.shape[2], g.shape[3])
        let gradInput = pool.take(inputShape)
        var start = 0
        for (b, branch) in branches.enumerated() {
            let slice = pool.take([N, branchChannels[b], H, W])
            copyChannels(dst: slice.data, dstC: branchChannels[b], dstStart: 0, src: g.data, srcC: C, srcStart: start,
                         count: branchChannels[b], N: N, S: H * W)
            start += branchChannels[b]
            let dx = branch.backward(slice)
            if b == 0 {
                gradInput.data.update(from: dx.data, count: gradInput.count)
            } else {
                accumulate(y: gradInput.data, x: dx.data, n: gradInput.count)
            }
            pool.give(dx, unless: slice)
            pool.give(slice)
        }
        pool.give(g, unless: gradOutput)
        return gradInput
    }
}

/// Splits channels at `splitAt`: y = concat(x[:, :splitAt], body(x[:, splitAt:])). ShuffleNetV2's BasicBlock.
public final class SplitConcat: ChannelJoin {
    public var name = ""
    public var typeName: String { "SplitConcat" }
    public let splitAt: Int
    public let body: Sequential

    public init(splitAt: Int, body: Sequential) {
        self.splitAt = splitAt
        self.body = body
    }

    public var children: [(String, any Layer)] { body.children }

    public func outputShape(for input: [Int]) throws -> [Int] {
        try expect(input, [nil, nil, nil, nil], "[N, C, H, W]")
        guard input[1] > splitAt else {
            throw EngineError.shapeMismatch(layer: displayName,
                                            expected: "[N, C > \(splitAt), H, W]", got: input)
        }
        let b = try body.outputShape(for: [input[0], input[1] - splitAt, input[2], input[3]])
        return [input[0], splitAt + b[1], b[2], b[3]]
    }

    private let bodyInput = Tensor(shape: [0])
    private let output = Tensor(shape: [0])
    private var inputShape: [Int] = []

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        try split(input) { try body.forward($0, training: training) }
    }

    public func infer(_ input: Tensor) throws -> Tensor { try split(input) { try body.infer($0) } }

    public func infer(_ input: Tensor, shuffledBy shuffle: ChannelShuffle) throws -> Tensor {
        _ = try shuffle.outputShape(for: outputShape(for: input.shape))
        return try split(input, shuffledBy: shuffle) { try body.infer($0) }
    }

    /// concat(x[:, :splitAt], run(x[:, splitAt:])), each channel copied to where `shuffle` would move it, if given.
    private func split(_ input: Tensor, shuffledBy shuffle: ChannelShuffle? = nil, _ run: (Tensor) throws -> Tensor) throws -> Tensor {
        _ = try outputShape(for: input.shape)
        let (N, C, H, W) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        bodyInput.resize(to: [N, C - splitAt, H, W])
        copyChannels(dst: bodyInput.data, dstC: C - splitAt, dstStart: 0, src: input.data, srcC: C, srcStart: splitAt,
                     count: C - splitAt, N: N, S: H * W)
        let b = try run(bodyInput)
        guard b.shape.count == 4, b.shape[0] == N, b.shape[2] == H, b.shape[3] == W else {
            throw EngineError.shapeMismatch(layer: displayName,
                                            expected: "body output [\(N), C, \(H), \(W)]", got: b.shape)
        }
        let outC = splitAt + b.shape[1], groups = shuffle?.kernelGroups(channels: outC)
        output.resize(to: [N, outC, H, W])
        copyChannels(dst: output.data, dstC: outC, dstStart: 0, shuffledBy: groups, src: input.data, srcC: C, srcStart: 0,
                     count: splitAt, N: N, S: H * W)
        copyChannels(dst: output.data, dstC: outC, dstStart: splitAt, shuffledBy: groups, src: b.data, srcC: b.shape[1],
                     srcStart: 0, count: b.shape[1], N: N, S: H * W)
        inputShape = input.shape
        return output
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        let (N, outC, H, W) = (gradOutput.shape[0], gradOutput.shape[1], gradOutput.shape[2], gradOutput.shape[3])
        let C = inputShape[1]
        let pool = GradientPool.forCurrentThread()
        let gradInput = pool.take(inputShape)
        copyChannels(dst: gradInput.data, dstC: C, dstStart: 0, src: gradOutput.data, srcC: outC, srcStart: 0,
                     count: splitAt, N: N, S: H * W)
        let bodyGrad = pool.take([N, outC - splitAt, H, W])
        copyChannels(dst: bodyGrad.data, dstC: outC - splitAt, dstStart: 0, src: gradOutput.data, srcC: outC,
                     srcStart: splitAt, count: outC - splitAt, N: N, S: H * W)
        let dx = body.backward(bodyGrad)
        copyChannels(dst: gradInput.data, dstC: C, dstStart: splitAt, src: dx.data, srcC: C - splitAt, srcStart: 0,
                     count: C - splitAt, N: N, S: H * W)
        pool.give(dx, unless: bodyGrad)
        pool.give(bodyGrad)
        return gradInput
    }
}

/// Squeeze-and-excitation: y[n, c, :, :] = x[n, c, :, :] * gate(x)[n, c], per sample.
/// `gate` maps [N, C, H, W] to N*C values ([N, C] or [N, C, 1, 1]), usually ending in a Sigmoid.
public final class SqueezeExcite: Layer {
    public var name = ""
    public var typeName: String { "SqueezeExcite" }
    public let gate: Sequential

    public init(gate: Sequential) { self.gate = gate }

    public var children: [(String, any Layer)] { gate.children }

    public func outputShape(for input: [Int]) throws -> [Int] {
        let g = try gate.outputShape(for: input)
        guard g.count >= 2, g[0] == input[0], g[1] == input[1], g.dropFirst(2).allSatisfy({ $0 == 1 }) else {
            throw EngineError.shapeMismatch(layer: displayName,
                                            expected: "gate output [N, \(input.count > 1 ? input[1] : 0)]", got: g)
        }
        return input
    }

    private let output = Tensor(shape: [0])
    private var input: Tensor?
    private var gateOutput: Tensor?

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        try excite(input) { try gate.forward(input, training: training) }
    }

    public func infer(_ input: Tensor) throws -> Tensor { try excite(input) { try gate.infer(input) } }

    /// Inference of a residual block ending in this layer: activation(x * gate(x) + residual) in one pass.
    /// residual: the input's shape.
    func infer(_ input: Tensor, adding residual: Tensor, activation: ConvActivation) throws -> Tensor {
        try excite(input, adding: residual, activation: activation) { try gate.infer(input) }
    }

    private func excite(_ input: Tensor, adding residual: Tensor? = nil, activation: ConvActivation = .none,
                        _ runGate: () throws -> Tensor) throws -> Tensor {
        try expect(input.shape, [nil, nil, nil, nil], "[N, C, H, W]")
        let (N, C, H, W) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let g = try runGate()
        guard g.shape.count >= 2, g.shape[0] == N, g.shape[1] == C, g.count == N * C else {
            throw EngineError.shapeMismatch(layer: displayName,
                                            expected: "gate output [\(N), \(C)]", got: g.shape)
        }
        output.resize(to: input.shape)
        if let residual {
            try expect(residual.shape, input.shape.map { Optional($0) }, "residual \(shapeString(input.shape))")
            scaleRowsAdding(y: output.data, x: input.data, scale: g.data, residual: residual.data, activation: activation,
                            N: N * C, D: H * W)
        } else {
            scaleRows(y: output.data, x: input.data, scale: g.data, N: N * C, D: H * W)
        }
        self.input = input
        gateOutput = g
        return output
    }

    /// y = x * gate(x): dx = dy * gate + gate's backward of d gate = sum over H, W of dy * x.
    /// The product rule's first term is written before the gate's backward runs, then the gate's dx is added.
    public func backward(_ gradOutput: Tensor) -> Tensor {
        guard let input, let gateOutput else { preconditionFailure("\(displayName): backward before forward") }
        let (N, C, S) = (input.shape[0], input.shape[1], input.shape[2] * input.shape[3])
        let pool = GradientPool.forCurrentThread()
        let gradInput = pool.take(input.shape)
        scaleRows(y: gradInput.data, x: gradOutput.data, scale: gateOutput.data, N: N * C, D: S)
        let gateGrad = pool.take(gateOutput.shape)
        dotPerRow(out: gateGrad.data, a: gradOutput.data, b: input.data, rows: N * C, D: S)
        let dx = gate.backward(gateGrad)
        accumulate(y: gradInput.data, x: dx.data, n: gradInput.count)
        pool.give(dx, unless: gateGrad)
        pool.give(gateGrad)
        return gradInput
    }
}
