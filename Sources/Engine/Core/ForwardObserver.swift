/// Sees layer outputs during a forward pass: the layers page's capture of one layer's output and the health
/// page's ReLU zero counts. Containers call it only while one is set (`observer` on `Sequential`, `Residual`,
/// `Concat` and the zoo's `Block`), so a network nobody watches pays nothing.
///
/// Reported: each child a `Sequential` runs, each named stage of a `Block`, a `Residual`'s shortcut, and a
/// `Residual` or `Concat` itself (its output after the add or concatenation and its activation). The tensor is
/// the layer's own buffer, valid only during the call: copy what must outlive it. A `Residual` that is its
/// parent's child is reported twice with the same output (by itself, then by the parent).
public protocol ForwardObserver: AnyObject {
    func layerDidForward(_ layer: any Layer, output: Tensor)
}

/// Sees the gradient arriving at layer outputs during a backward pass: Grad-CAM's dScore/dActivations at one
/// layer of the main path. Only `Sequential` reports (set `backwardObserver`), once per child, just before
/// that child's backward: the tensor is dL/d(child's output), lent for the call only, so copy what must
/// outlive it. A network nobody watches pays nothing, and what backward computes is the same either way.
public protocol BackwardObserver: AnyObject {
    func layerWillBackward(_ layer: any Layer, gradOutput: Tensor)
}
