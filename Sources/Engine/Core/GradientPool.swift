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

    /// Takes back `tensor` if this pool lent it and it is none of `kept` (tensors the caller must not give away).
    public func give(_ tensor: Tensor, unless kept: Tensor...) {
        guard !kept.contains(where: { $0 === tensor }), lent.removeValue(forKey: ObjectIdentifier(tensor)) != nil else { return }
        free.append(tensor)
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
