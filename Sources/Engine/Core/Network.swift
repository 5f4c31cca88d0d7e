/// A whole model: its layers, the input it takes, and the random stream its dropout layers draw from.
public final class Network {
    /// [C, H, W] of one input image.
    public let inputShape: [Int]
    public let classes: Int
    public let root: Sequential
    public let random: RandomStream

    public init(root: Sequential, inputShape: [Int], classes: Int, random: RandomStream) {
        self.root = root
        self.inputShape = inputShape
        self.classes = classes
        self.random = random
        root.assignNames(prefix: "")
    }

    /// [N, C, H, W] -> logits [N, classes].
    public func forward(_ images: Tensor, training: Bool) throws -> Tensor {
        try root.expect(images.shape, [nil] + inputShape.map { Optional($0) },
                        "[N, " + inputShape.map(String.init).joined(separator: ", ") + "]")
        return try root.forward(images, training: training)
    }

    /// [N, C, H, W] -> logits [N, classes] in inference, BatchNorms and activations folded into the convs
    /// before them (`Layer.infer`): evaluation, prediction and the bench's inference. Equals
    /// `forward(images, training: false)` within float rounding; no `backward` may follow.
    public func infer(_ images: Tensor) throws -> Tensor {
        try root.expect(images.shape, [nil] + inputShape.map { Optional($0) },
                        "[N, " + inputShape.map(String.init).joined(separator: ", ") + "]")
        return try root.infer(images)
    }

    /// Runs `body`, a loop of `infer` calls over weights that stay as they are (an evaluation, the bench's
    /// inference), with each conv's BatchNorm folded into its weights once instead of on every call. Nothing
    /// inside `body` may change a weight or a BatchNorm's running statistics: no training step, no load.
    public func withFrozenWeights<T>(_ body: () throws -> T) rethrows -> T {
        frozenDepth += 1
        if frozenDepth == 1 { setReusesFoldedWeights(true, below: root) }
        defer {
            frozenDepth -= 1
            if frozenDepth == 0 { setReusesFoldedWeights(false, below: root) }
        }
        return try body()
    }

    private var frozenDepth = 0

    /// Through `children`, the walk `stateDict` takes: every conv has weights, so every conv is on it.
    private func setReusesFoldedWeights(_ reuses: Bool, below layer: any Layer) {
        if let conv = layer as? any ConvolutionLayer { conv.reusesFoldedWeights = reuses }
        for (_, child) in layer.children { setReusesFoldedWeights(reuses, below: child) }
    }

    /// Back-propagates dL/dlogits, accumulating every parameter's gradient.
    public func backward(_ gradLogits: Tensor) {
        let gradImages = root.backward(gradLogits)
        GradientPool.forCurrentThread().give(gradImages, unless: gradLogits)
    }

    public var stateDict: [(String, Parameter)] { root.stateDict() }
    public var trainableParameters: [Parameter] { root.trainableParameters }
    public var parameterCount: Int { trainableParameters.reduce(0) { $0 + $1.count } }

    public func zeroGradients() {
        for p in trainableParameters { p.grad?.zero() }
    }
}
