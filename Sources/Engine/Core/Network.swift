/// Floats one layer's output may take in a pass of `Network.infer`: 16 MB. Every zoo model's batch of 64 fits
/// but MobileNetV1's (42 MB at its largest), which takes passes of 24 images. At 8 MB, VGG11's inference ran
/// in passes of 32 and lost a tenth of its speed (605 -> 539 img/s, medians of 4: its Winograd GEMMs were half
/// as wide), while MobileNetV1's passes of 8 ran at its speed in one pass (150 and 151 img/s).
let inferencePassFloats = 4 << 20

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
        Network.imageReadingConv(in: root)?.computesInputGradient = false
    }

    /// The conv that reads the images, if the first layer (through chains, `Layer.chain`) is one. Not past
    /// a layer before it, such as the zoo's 28x28 padding: Grad-CAM may read the gradient of that layer's output.
    private static func imageReadingConv(in layer: any Layer) -> Conv2d? {
        if let conv = layer as? Conv2d { return conv }
        return layer.chain?.first.flatMap(imageReadingConv)
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
    /// A batch larger than `imagesPerInferencePass` runs through the whole network that many images at a time.
    public func infer(_ images: Tensor) throws -> Tensor {
        try root.expect(images.shape, [nil] + inputShape.map { Optional($0) },
                        "[N, " + inputShape.map(String.init).joined(separator: ", ") + "]")
        let n = images.shape[0], perPass = imagesPerInferencePass
        guard n > perPass else { return try root.infer(images) }
        let imageFloats = images.count / n
        // The weights stay as they are for the passes of one call: each BatchNorm is folded once, not per pass.
        return try withFrozenWeights {
            for start in stride(from: 0, to: n, by: perPass) {
                let count = Swift.min(perPass, n - start)
                passImages.resize(to: [count] + inputShape)
                passImages.data.update(from: images.data + start * imageFloats, count: count * imageFloats)
                let out = try root.infer(passImages)
                let rowFloats = out.count / count
                if start == 0 { passOutputs.resize(to: [n] + out.shape.dropFirst()) }
                (passOutputs.data + start * rowFloats).update(from: out.data, count: count * rowFloats)
            }
            return passOutputs
        }
    }

    /// Images one pass of `infer` takes, so that an evaluation's memory stays bounded whatever the batch:
    /// each layer keeps its output, and MobileNetV1's 512-channel planes at batch 64 are 42 MB each (a
    /// bench's inference held 547 MB in one pass, 259 MB in passes of 24). `fitInferencePasses
    /// (largestOutputPerImage:)` sets it from the network's layers.
    public private(set) var imagesPerInferencePass = Int.max
    private let passImages = Tensor(shape: [0]), passOutputs = Tensor(shape: [0])

    /// Sets `imagesPerInferencePass` from the largest output of any layer, in floats per image: as many
    /// images as keep that output within `inferencePassFloats`, in whole eights (the Winograd kernels fill
    /// eight images a vector), and never fewer than eight.
    public func fitInferencePasses(largestOutputPerImage floats: Int) {
        let fitting = inferencePassFloats / Swift.max(1, floats)
        imagesPerInferencePass = Swift.max(8, fitting / 8 * 8)
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
