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
        fatalError("TODO(engine-ops): BatchNorm2d.forward")
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        fatalError("TODO(engine-ops): BatchNorm2d.backward")
    }
}
