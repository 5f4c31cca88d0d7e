/// A network layer with a forward and a backward pass.
///
/// Shapes include the batch dimension: `[N, C, H, W]` for images, `[N, F]` for features.
/// `forward` keeps whatever `backward` needs (inputs, masks, statistics) in buffers it owns and reuses.
/// `backward` takes dL/dOutput, *accumulates* parameter gradients into `Parameter.grad`, and returns
/// dL/dInput, in a tensor lent by the thread's `GradientPool` (or gradOutput itself, for a pass-through):
/// the caller gives it back once read. A layer's output tensor stays valid until its next `forward`.
public protocol Layer: AnyObject {
    /// The state-dict path of this layer (`layer1.0.conv1`), set by `Network.init`; used in error messages.
    var name: String { get set }
    /// PyTorch's class name for the summary (`Conv2d`, `BatchNorm2d`, ...).
    var typeName: String { get }
    /// Parameters and buffers this layer owns directly, under their state-dict suffixes (`weight`, `running_mean`).
    var ownState: [(String, Parameter)] { get }
    /// Sub-layers, under the attribute names of the seed's PyTorch module (`conv1`, `0`, `shortcut`).
    var children: [(String, any Layer)] { get }

    /// The output shape for an input shape; throws `EngineError.shapeMismatch` naming this layer.
    func outputShape(for input: [Int]) throws -> [Int]
    /// Multiply-adds per sample done by this layer itself (conv and linear; 0 for the rest).
    func macsPerSample(input: [Int]) -> Int

    func forward(_ input: Tensor, training: Bool) throws -> Tensor
    func backward(_ gradOutput: Tensor) -> Tensor

    /// Inference: the output of `forward(input, training: false)` within float rounding, by the fastest
    /// route. Containers fold each conv's BatchNorm and activation into the conv (`Conv2d.infer`), so the
    /// layers in between keep no state of this call: no `backward` may follow, and observers see nothing
    /// (the probes and Grad-CAM use `forward`). The default is `forward(input, training: false)`.
    func infer(_ input: Tensor) throws -> Tensor

    /// The children in the order `forward` runs them, each taking the output of the one before (the first
    /// takes this layer's input): `Sequential` and the zoo's blocks. Nil for every other layer.
    var chain: [any Layer]? { get }
}

extension Layer {
    public var ownState: [(String, Parameter)] { [] }
    public var children: [(String, any Layer)] { [] }
    public func macsPerSample(input: [Int]) -> Int { 0 }
    public func infer(_ input: Tensor) throws -> Tensor { try forward(input, training: false) }
    public var chain: [any Layer]? { nil }

    /// The name for messages: the state-dict path, or the type for a layer outside a network.
    public var displayName: String { name.isEmpty ? typeName : name }

    /// Every parameter and buffer below this layer, keyed exactly as PyTorch's `state_dict()`.
    public func stateDict(prefix: String = "") -> [(String, Parameter)] {
        var out: [(String, Parameter)] = []
        for (key, p) in ownState { out.append((prefix + key, p)) }
        for (childName, child) in children { out += child.stateDict(prefix: prefix + childName + ".") }
        return out
    }

    /// Trainable parameters in `state_dict` order (PyTorch's `parameters()` order).
    public var trainableParameters: [Parameter] { stateDict().map(\.1).filter(\.isTrainable) }

    /// Sets every layer's `name` to its state-dict path below `prefix`.
    public func assignNames(prefix: String) {
        name = prefix
        for (childName, child) in children {
            child.assignNames(prefix: prefix.isEmpty ? childName : prefix + "." + childName)
        }
    }

    /// Checks that an input has the expected rank and, where given, dimensions (nil = any).
    public func expect(_ input: [Int], _ dims: [Int?], _ description: String) throws {
        guard input.count == dims.count, zip(input, dims).allSatisfy({ $1 == nil || $0 == $1 }) else {
            throw EngineError.shapeMismatch(layer: displayName, expected: description, got: input)
        }
    }

    /// Backward's first check: the gradient is shaped like the output forward produced (a wiring bug otherwise).
    /// `countOnly` for layers whose consumer may hand the gradient back flattened ([N, C] for [N, C, 1, 1]).
    public func expectGradient(_ gradOutput: Tensor, like output: Tensor, countOnly: Bool = false) {
        precondition(countOnly ? gradOutput.count == output.count : gradOutput.shape == output.shape,
                     "\(displayName): gradient \(shapeString(gradOutput.shape)) does not match output \(shapeString(output.shape))")
    }
}
