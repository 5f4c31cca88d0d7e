/// Batch normalisation over [N, C, H, W] as `nn.BatchNorm2d` (affine, track_running_stats).
///
/// Training uses the batch's biased variance to normalise and updates
/// running_mean = (1 - momentum) * running_mean + momentum * mean,
/// running_var  = (1 - momentum) * running_var + momentum * unbiased_var, and num_batches_tracked += 1.
/// Eval uses the running statistics. `eps` is per layer (EfficientNetV2 uses 1e-3).
public final class BatchNorm2d: Layer {
    public var name = ""
    public var typeName: String { "BatchNorm2d" }
    public let channels: Int
    public let eps: Float, momentum: Float
    public let weight: Parameter, bias: Parameter
    public let runningMean: Parameter, runningVar: Parameter, numBatchesTracked: Parameter

    private let output = Tensor(shape: [0])
    /// Per-channel statistics the last forward normalised with (batch or running), for backward.
    private let mean: Tensor, rstd: Tensor, unbiasedVar: Tensor
    /// The last forward's input (owned by the layer before, valid until its next forward); backward re-derives xhat from it.
    private var input: Tensor?
    private var usedBatchStatistics = false
    /// Set by `Sequential` when a ReLU follows: forward writes relu(bn(x)) and backward first zeroes the
    /// gradient where that output is 0 (where the ReLU's input was <= 0, exactly as the ReLU would).
    var appliesReLU = false

    /// Whether `tensor` is this layer's output buffer (the fused ReLU checks what it is given).
    func isOutput(_ tensor: Tensor) -> Bool { appliesReLU && tensor === output }

    /// Runs `body` with the ReLU fusion off: this layer writes bn(x) and the ReLU after it rectifies into its own
    /// buffer, so a probe sees the BatchNorm's own output. What the network computes is the same.
    public func unfused<T>(_ body: () throws -> T) rethrows -> T {
        let fused = appliesReLU
        appliesReLU = false
        defer { appliesReLU = fused }
        return try body()
    }

    public init(_ channels: Int, eps: Float = 1e-5, momentum: Float = 0.1) {
        self.channels = channels
        self.eps = eps
        self.momentum = momentum
        weight = Parameter(shape: [channels])
        weight.value.fill(1)
        bias = Parameter(shape: [channels])
        runningMean = Parameter(shape: [channels], kind: .buffer)
        runningVar = Parameter(shape: [channels], kind: .buffer)
        runningVar.value.fill(1)
        numBatchesTracked = Parameter(shape: [], kind: .counter)
        mean = Tensor(shape: [channels])
        rstd = Tensor(shape: [channels])
        unbiasedVar = Tensor(shape: [channels])
    }

    public var ownState: [(String, Parameter)] {
        [("weight", weight), ("bias", bias), ("running_mean", runningMean), ("running_var", runningVar),
         ("num_batches_tracked", numBatchesTracked)]
    }

    public func outputShape(for input: [Int]) throws -> [Int] {
        try expect(input, [nil, channels, nil, nil], "[N, \(channels), H, W]")
        return input
    }

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        output.resize(to: try outputShape(for: input.shape))
        let (N, C, S) = (input.shape[0], channels, input.shape[2] * input.shape[3])
        if training {
            // As PyTorch: the unbiased variance needs M > 1, and one value per channel cannot be normalised.
            guard N * S > 1 else {
                throw EngineError.invalidArgument(
                    layer: displayName,
                    message: "expected more than 1 value per channel when training, got input \(shapeString(input.shape))")
            }
            batchNormForwardTraining(
                y: output.data, mean: mean.data, rstd: rstd.data, unbiasedVar: unbiasedVar.data,
                x: input.data, weight: weight.value.data, bias: bias.value.data, N: N, C: C, S: S, eps: eps,
                relu: appliesReLU)
            batchNormUpdateRunningStatistics(
                runningMean: runningMean.value.data, runningVar: runningVar.value.data,
                mean: mean.data, unbiasedVar: unbiasedVar.data, C: C, momentum: momentum)
            numBatchesTracked.value[0] += 1
        } else {
            batchNormForwardEval(
                y: output.data, mean: mean.data, rstd: rstd.data, x: input.data,
                weight: weight.value.data, bias: bias.value.data,
                runningMean: runningMean.value.data, runningVar: runningVar.value.data, N: N, C: C, S: S, eps: eps,
                relu: appliesReLU)
        }
        self.input = input
        usedBatchStatistics = training
        return output
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        guard let input, let dWeight = weight.grad, let dBias = bias.grad else {
            preconditionFailure("\(displayName): backward before forward")
        }
        let (N, C, S) = (input.shape[0], channels, input.shape[2] * input.shape[3])
        let gradInput = GradientPool.forCurrentThread().take(input.shape)
        // The fused ReLU's backward is taken as dy is read: where its output is 0, the gradient is 0.
        batchNormBackward(
            dx: gradInput.data, dWeight: dWeight.data, dBias: dBias.data, dy: gradOutput.data,
            reluBias: appliesReLU ? UnsafePointer(bias.value.data) : nil, x: input.data,
            mean: mean.data, rstd: rstd.data, weight: weight.value.data, N: N, C: C, S: S,
            batchStatistics: usedBatchStatistics)
        return gradInput
    }
}
