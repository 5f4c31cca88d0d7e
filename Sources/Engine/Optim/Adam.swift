import Foundation

/// Adam and AdamW with PyTorch's `torch.optim.Adam` / `AdamW` rules (amsgrad off), per element, in its order:
///
///     t += 1
///     p = p * (1 - lr * wd)                            (AdamW: decoupled decay, factor computed in Double)
///     g = g + wd * p                                   (Adam with wd: L2 added to the gradient)
///     m = m + (1 - beta1) * (g - m)                    (`lerp_`; for 1 - beta1 >= 0.5: g - (g - m) * beta1)
///     v = v * beta2 + (1 - beta2) * g * g              (`mul_` then `addcmul_`)
///     denom = sqrt(v) / sqrt(1 - beta2^t) + eps
///     p = p + (-lr / (1 - beta1^t)) * m / denom        (`addcdiv_`)
///
/// Scalars (bias corrections, step size) are Doubles as in PyTorch's Python code and rounded to Float at the
/// kernel. PyTorch's vectorised CPU kernels fuse some of these multiply-adds (FMA); this target does not, so
/// single elements can differ in the last bit — far below the 1e-6 relative the tests check.
/// State: `exp_avg.<i>`, `exp_avg_sq.<i>` (one arena each) and `step`.
public final class Adam: Optimizer {
    public var learningRate: Float
    public let parameters: [Parameter]
    public let beta1: Double
    public let beta2: Double
    public let eps: Double
    /// May change between steps (steering a live run), like PyTorch's `param_group['weight_decay'] = x`.
    public var weightDecay: Double
    /// AdamW: decay the weights directly instead of adding `weightDecay * p` to the gradient.
    public let decoupledWeightDecay: Bool
    public private(set) var stepCount = 0
    private let expAvg: MomentArena
    private let expAvgSq: MomentArena

    /// - Parameters:
    ///   - parameters: only trainable ones are kept, in order (state index `i` counts them).
    ///   - decoupledWeightDecay: true for AdamW (see `Adam.adamW`).
    public init(
        parameters: [Parameter], learningRate: Float = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999,
        eps: Double = 1e-8, weightDecay: Double = 0, decoupledWeightDecay: Bool = false
    ) throws {
        let name = decoupledWeightDecay ? "AdamW" : "Adam"
        func check(_ ok: Bool, _ message: String) throws {
            if !ok { throw EngineError.invalidArgument(layer: name, message: message) }
        }
        try check(learningRate >= 0, "learning rate \(learningRate) is negative")
        try check((0..<1).contains(beta1) && (0..<1).contains(beta2), "betas (\(beta1), \(beta2)) must lie in [0, 1)")
        try check(eps >= 0, "eps \(eps) is negative")
        try check(weightDecay >= 0, "weight decay \(weightDecay) is negative")
        self.parameters = parameters.filter(\.isTrainable)
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
        self.decoupledWeightDecay = decoupledWeightDecay
        let shapes = self.parameters.map(\.shape)
        self.expAvg = MomentArena(name: "exp_avg", shapes: shapes)
        self.expAvgSq = MomentArena(name: "exp_avg_sq", shapes: shapes)
    }

    /// AdamW with PyTorch's defaults (weight decay 0.01).
    public static func adamW(
        parameters: [Parameter], learningRate: Float = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999,
        eps: Double = 1e-8, weightDecay: Double = 0.01
    ) throws -> Adam {
        try Adam(parameters: parameters, learningRate: learningRate, beta1: beta1, beta2: beta2, eps: eps,
                 weightDecay: weightDecay, decoupledWeightDecay: true)
    }

    public func step() {
        stepCount += 1
        let lr = Double(learningRate)
        let t = Double(stepCount)
        let biasCorrection1 = 1 - pow(beta1, t)
        let biasCorrection2Sqrt = (1 - pow(beta2, t)).squareRoot()
        let negativeStepSize = Float(-(lr / biasCorrection1))
        let decayFactor = Float(1 - lr * weightDecay)
        let l2 = decoupledWeightDecay ? 0 : Float(weightDecay)
        let decoupled = decoupledWeightDecay && weightDecay != 0
        let weight1 = Float(1 - beta1)  // lerp weight
        let lerpSmall = weight1 < 0.5, lerpComplement = 1 - weight1
        let beta2 = Float(beta2), weight2 = Float(1 - self.beta2)
        let correction2 = Float(biasCorrection2Sqrt), eps = Float(eps)
        for (i, parameter) in parameters.enumerated() {
            guard let grad = parameter.grad else { continue }
            // n elements each of p, g, m (exp_avg), v (exp_avg_sq)
            let n = parameter.count
            let p = parameter.value.data, g = grad.data
            let m = expAvg.pointer(i), v = expAvgSq.pointer(i)
            // Each element on its own: the parts of a large parameter run on every thread, and any
            // split gives the same bits.
            Parallel.forEachPart(n, minimum: elementwiseGrain) { _, elements in
                for j in elements {
                    if decoupled { p[j] = p[j] * decayFactor }
                    var gj = g[j]
                    if l2 != 0 { gj = gj + l2 * p[j] }
                    m[j] = lerpSmall ? m[j] + weight1 * (gj - m[j]) : gj - (gj - m[j]) * lerpComplement
                    v[j] = v[j] * beta2
                    v[j] = v[j] + weight2 * gj * gj
                    let denom = v[j].squareRoot() / correction2 + eps
                    p[j] = p[j] + negativeStepSize * m[j] / denom
                }
            }
        }
    }

    public func stateEntries() -> [(String, Safetensors.Entry)] {
        [stepEntry(stepCount)] + expAvg.entries() + expAvgSq.entries()
    }

    public func loadState(_ entries: [String: Safetensors.Entry], file: String) throws {
        let step = try loadStep(entries, file: file)
        try expAvg.load(entries, file: file)
        try expAvgSq.load(entries, file: file)
        stepCount = step
    }
}
