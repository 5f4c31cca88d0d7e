import Foundation

/// The gradient tensors of a backward pass, lent to the layer that writes one and given back by the
/// container that consumed it.
///
/// A layer's input gradient is read once, by the layer before it (or the container summing branches),
/// and is dead after that; PyTorch frees it there. Owning one per layer for the whole run doubled the
/// memory of a training step (activations plus every gradient). Lent from here, a chain of layers
/// holds two or three gradients at a time, and a steady-state step still allocates nothing: the same
/// sequence of takes and gives meets the same free tensors every step.
///
/// Protocol: `backward` returns a tensor from `take` (or, for pass-through layers, its gradOutput);
/// whoever called `backward` gives the result back once it has read it, unless it is a tensor the
/// caller itself does not own (its own gradOutput). `give` ignores tensors it did not lend, so a layer
/// that returns a tensor of its own is never handed to anyone else.
public final class GradientPool {
    private var free: [Tensor] = []
    /// Lent tensors, held strongly: an identifier is only unique while its object lives, so a lent
    /// tensor dropped by its borrower must not free its address for a tensor the pool never lent.
    private var lent: [ObjectIdentifier: Tensor] = [:]

    /// Tensors lent out and not yet given back: zero between steps (a test checks every model).
    public var lentCount: Int { lent.count }
    /// Tensors this pool has made, lent or free: constant from the second step on.
    public var tensorCount: Int { lent.count + free.count }

    /// A tensor of `shape`, contents unspecified: the free tensor with the smallest capacity that holds
    /// it, else a new one.
    public func take(_ shape: [Int]) -> Tensor {
        let count = shape.reduce(1, *)
        var best: Int?
        for (i, t) in free.enumerated() where t.capacity >= count {
            if best.map({ t.capacity < free[$0].capacity }) ?? true { best = i }
        }
        let tensor: Tensor
        if let best {
            tensor = free.remove(at: best)
            tensor.resize(to: shape)
        } else {
            tensor = Tensor(shape: shape)
        }
        lent[ObjectIdentifier(tensor)] = tensor
        return tensor
    }

    /// Takes back `tensor` if this pool lent it and it is neither `kept` nor `alsoKept` (tensors the caller
    /// must not give away). Two optionals rather than a variadic list: no array per call in the backward pass.
    public func give(_ tensor: Tensor, unless kept: Tensor? = nil, _ alsoKept: Tensor? = nil) {
        guard tensor !== kept, tensor !== alsoKept, lent.removeValue(forKey: ObjectIdentifier(tensor)) != nil else { return }
        free.append(tensor)
    }

    /// Back-propagates through a chain of layers given in forward order: each layer's input gradient is
    /// given back once the layer before it has read it, and the first layer's is returned. `step` runs one
    /// layer's backward (a profiler may wrap it).
    public func backward<Layers: BidirectionalCollection>(
        through layers: Layers, _ gradOutput: Tensor,
        step: (any Layer, Tensor) -> Tensor = { layer, g in layer.backward(g) }
    ) -> Tensor where Layers.Element == any Layer {
        var g = gradOutput
        for layer in layers.reversed() {
            let next = step(layer, g)
            give(g, unless: gradOutput, next)
            g = next
        }
        return g
    }

    private static let key = "cnntui.Engine.GradientPool"

    /// The calling thread's pool: a network's backward runs on one thread, and networks on different
    /// threads (tests, the UI's predictions) never share gradients.
    public static func forCurrentThread() -> GradientPool {
        let dictionary = Thread.current.threadDictionary
        if let pool = dictionary[key] as? GradientPool { return pool }
        let pool = GradientPool()
        dictionary[key] = pool
        return pool
    }
}
