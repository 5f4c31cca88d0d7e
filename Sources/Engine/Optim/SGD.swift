/// Stochastic gradient descent with PyTorch's `torch.optim.SGD` rules, per element, in its order:
///
///     d = grad + weight_decay * p                      (when weight_decay != 0)
///     buf = d                                          (first step: no dampening)
///     buf = momentum * buf + (1 - dampening) * d       (later steps; computed as (buf * m) + (1 - damp) * d)
///     d = nesterov ? d + momentum * buf : buf          (when momentum != 0)
///     p = p - lr * d
///
/// State: `momentum_buffer.<i>` (one arena, once momentum has been non-zero) and `step`.
///
/// `momentum` and `weightDecay` may change between steps (steering a live run), as PyTorch's
/// `param_group['momentum'] = x` does: a buffer that does not exist yet starts as a copy of the next `d`, and a
/// buffer kept while momentum was 0 is picked up again as it was.
public final class SGD: Optimizer {
    public var learningRate: Float
    public let parameters: [Parameter]
    /// Hyper-parameters are Doubles like PyTorch's Python floats; each is rounded to Float where the
    /// kernel uses it, after the same Double arithmetic (`1 - dampening`), so the Float factors match.
    public var momentum: Double {
        didSet { if momentum != 0 { makeMomentumBuffers() } }
    }
    public let dampening: Double
    public var weightDecay: Double
    public let nesterov: Bool
    /// Steps taken; the first one copies the gradient into the momentum buffer.
    public private(set) var stepCount = 0
    private var momentumBuffers: MomentArena?
    /// The buffers hold a value: the next step updates them instead of copying `d` into them.
    private var buffersFilled = false

    /// - Parameters:
    ///   - parameters: only trainable ones are kept, in order (state index `i` counts them).
    ///   - learningRate, momentum, dampening, weightDecay: PyTorch's `lr`, `momentum`, `dampening`, `weight_decay`.
    ///   - nesterov: needs momentum > 0 and dampening 0, as in PyTorch.
    public init(
        parameters: [Parameter], learningRate: Float, momentum: Double = 0, dampening: Double = 0,
        weightDecay: Double = 0, nesterov: Bool = false
    ) throws {
        func check(_ ok: Bool, _ message: String) throws {
            if !ok { throw EngineError.invalidArgument(layer: "SGD", message: message) }
        }
        try check(learningRate >= 0, "learning rate \(learningRate) is negative")
        try check(momentum >= 0, "momentum \(momentum) is negative")
        try check(weightDecay >= 0, "weight decay \(weightDecay) is negative")
        try check(!nesterov || (momentum > 0 && dampening == 0), "nesterov needs momentum > 0 and dampening 0")
        self.parameters = parameters.filter(\.isTrainable)
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        if momentum != 0 { makeMomentumBuffers() }
    }

    private func makeMomentumBuffers() {
        if momentumBuffers == nil { momentumBuffers = MomentArena(name: "momentum_buffer", shapes: parameters.map(\.shape)) }
    }

    public func step() {
        // While momentum is 0 the buffers (if any) are kept untouched, as PyTorch keeps `momentum_buffer`.
        let buffers = momentum != 0 ? momentumBuffers : nil
        let first = !buffersFilled
        if buffers != nil { buffersFilled = true }
        stepCount += 1
        let negativeLR = -learningRate
        let keep = Float(1 - dampening)  // PyTorch: alpha = 1 - dampening
        let momentum = Float(momentum), weightDecay = Float(weightDecay)
        for (i, parameter) in parameters.enumerated() {
            guard let grad = parameter.grad else { continue }
            // n elements of p, g and (if momentum) buf
            let n = parameter.count
            let p = parameter.value.data, g = grad.data
            let buf = buffers?.pointer(i)
            // Each element on its own: the parts of a large parameter run on every thread, and any
            // split gives the same bits.
            Parallel.forEachPart(n, minimum: elementwiseGrain) { _, elements in
                for j in elements {
                    var d = g[j]
                    if weightDecay != 0 { d = d + weightDecay * p[j] }
                    if let buf {
                        buf[j] = first ? d : buf[j] * momentum + keep * d
                        d = nesterov ? d + momentum * buf[j] : buf[j]
                    }
                    p[j] = p[j] + negativeLR * d
                }
            }
        }
    }

    public func stateEntries() -> [(String, Safetensors.Entry)] {
        [stepEntry(stepCount)] + (momentumBuffers?.entries() ?? [])
    }

    public func loadState(_ entries: [String: Safetensors.Entry], file: String) throws {
        let step = try loadStep(entries, file: file)
        // Buffers saved by a run whose momentum was steered to 0 come back too, for when it is raised again.
        if entries["momentum_buffer.0"] != nil { makeMomentumBuffers() }
        try momentumBuffers?.load(entries, file: file)
        stepCount = step
        // A saved buffer has been filled by every step but the first. (One saved right after momentum was
        // steered up, before any step filled it, is zero: updating a zero buffer with dampening 0 gives `d`,
        // exactly what filling it would.)
        buffersFilled = momentumBuffers != nil && step > 0
    }
}
