/// Fully connected layer as `nn.Linear`: y = x W^T + b.
///
/// Shapes: input [N, F] (a 4-D input is read as its flattened [N, C*H*W]), weight [O, F], bias [O], output [N, O].
public final class Linear: Layer {
    public var name = ""
    public var typeName: String { "Linear" }
    public let inFeatures: Int, outFeatures: Int
    public let weight: Parameter
    public let bias: Parameter?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, random: inout RandomSource) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        (weight, self.bias) = Initializer.pytorchWeightAndBias(shape: [outFeatures, inFeatures], biasCount: outFeatures,
                                                               bias: bias, fanIn: inFeatures, random: &random)
    }

    public var ownState: [(String, Parameter)] {
        if let bias { return [("weight", weight), ("bias", bias)] }
        return [("weight", weight)]
    }

    public func outputShape(for input: [Int]) throws -> [Int] {
        guard input.count >= 2, input.dropFirst().reduce(1, *) == inFeatures else {
            throw EngineError.shapeMismatch(layer: displayName,
                                            expected: "[N, \(inFeatures)]", got: input)
        }
        return [input[0], outFeatures]
    }

    public func macsPerSample(input: [Int]) -> Int { inFeatures * outFeatures }

    private let output = Tensor(shape: [0])
    /// The forward input, read again by backward (valid until then by the Layer contract).
    private var savedInput: Tensor?

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        let out = try outputShape(for: input.shape)
        output.resize(to: out)
        linearForward(batch: out[0], inFeatures: inFeatures, outFeatures: outFeatures, input: input.data,
                      weight: weight.value.data, bias: bias.map { UnsafePointer($0.value.data) }, output: output.data)
        savedInput = input
        return output
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        guard let input = savedInput else { preconditionFailure("\(name): backward before forward") }
        expectGradient(gradOutput, like: output)
        guard let gradWeight = weight.grad else { preconditionFailure("\(name): weight has no gradient") }
        let gradInput = GradientPool.forCurrentThread().take(input.shape)
        linearBackward(batch: output.shape[0], inFeatures: inFeatures, outFeatures: outFeatures, input: input.data,
                       weight: weight.value.data, gradOutput: gradOutput.data, gradInput: gradInput.data,
                       gradWeight: gradWeight.data, gradBias: bias?.grad?.data)
        return gradInput
    }
}

// MARK: - Kernels
// N batch, F in features, O out features.

/// output[N, O] = input[N, F] * weight[O, F]^T + bias[O].
func linearForward(batch: Int, inFeatures: Int, outFeatures: Int, input: UnsafePointer<Float>,
                   weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>) {
    // Rows of the batch split over the threads.
    Parallel.forEachPart(batch, minimum: 8) { _, rows in
        BLAS.sgemm(transA: false, transB: true, m: rows.count, n: outFeatures, k: inFeatures,
                   a: input + rows.lowerBound * inFeatures, lda: inFeatures, b: weight, ldb: inFeatures,
                   beta: 0, c: output + rows.lowerBound * outFeatures, ldc: outFeatures)
    }
    if let bias {
        for i in 0..<batch {
            let row = output + i * outFeatures
            for o in 0..<outFeatures { row[o] = row[o] + bias[o] }
        }
    }
}

/// gradInput[N, F] = gradOutput[N, O] * weight[O, F] (overwritten);
/// gradWeight[O, F] += gradOutput^T * input; gradBias[O] += column sums of gradOutput.
func linearBackward(batch: Int, inFeatures: Int, outFeatures: Int, input: UnsafePointer<Float>,
                    weight: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>,
                    gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?) {
    // gradInput splits over batch rows, gradWeight over its input-feature columns.
    Parallel.forEachPart(batch, minimum: 8) { _, rows in
        BLAS.sgemm(transA: false, transB: false, m: rows.count, n: inFeatures, k: outFeatures,
                   a: gradOutput + rows.lowerBound * outFeatures, lda: outFeatures, b: weight, ldb: inFeatures,
                   beta: 0, c: gradInput + rows.lowerBound * inFeatures, ldc: inFeatures)
    }
    Parallel.forEachPart(inFeatures, minimum: 64) { _, columns in
        BLAS.sgemm(transA: true, transB: false, m: outFeatures, n: columns.count, k: batch,
                   a: gradOutput, lda: outFeatures, b: input + columns.lowerBound, ldb: inFeatures,
                   beta: 1, c: gradWeight + columns.lowerBound, ldc: inFeatures)
    }
    if let gradBias {
        for i in 0..<batch {
            let row = gradOutput + i * outFeatures
            for o in 0..<outFeatures { gradBias[o] += row[o] }
        }
    }
}
