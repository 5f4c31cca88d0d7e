/// A float32 tensor in PyTorch's layout (NCHW for images, NC for features) over a buffer it owns.
///
/// A reference type on purpose: a layer keeps its output and gradient tensors and refills them every
/// step, so a steady-state training step allocates nothing. `resize(to:)` reuses the buffer whenever
/// the new shape fits its capacity (a smaller last batch uses a prefix of the same memory).
public final class Tensor {
    public private(set) var shape: [Int]
    public private(set) var capacity: Int
    public private(set) var data: UnsafeMutablePointer<Float>

    /// A zero-filled tensor.
    public init(shape: [Int]) {
        let n = shape.reduce(1, *)
        self.shape = shape
        self.capacity = Swift.max(n, 1)
        self.data = .allocate(capacity: capacity)
        data.initialize(repeating: 0, count: capacity)
    }

    public convenience init(shape: [Int], values: [Float]) {
        precondition(values.count == shape.reduce(1, *), "Tensor(shape: \(shape)) given \(values.count) values")
        self.init(shape: shape)
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { data.update(from: base, count: values.count) }
        }
    }

    deinit { data.deallocate() }

    public var count: Int { shape.reduce(1, *) }
    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: data, count: count) }
    public var array: [Float] { Array(buffer) }

    /// Changes the shape, reallocating only when the new element count exceeds the capacity.
    /// Contents are unspecified afterwards unless the count is unchanged.
    public func resize(to newShape: [Int]) {
        let n = newShape.reduce(1, *)
        if n > capacity {
            data.deallocate()
            capacity = n
            data = .allocate(capacity: n)
            data.initialize(repeating: 0, count: n)
        }
        shape = newShape
    }

    /// Reinterprets the same elements with another shape of equal count (a view-free reshape).
    public func reshape(to newShape: [Int]) {
        precondition(newShape.reduce(1, *) == count, "reshape \(shape) -> \(newShape) changes the element count")
        shape = newShape
    }

    public func zero() { data.update(repeating: 0, count: count) }
    public func fill(_ value: Float) { data.update(repeating: value, count: count) }

    public func copy(from other: Tensor) {
        resize(to: other.shape)
        data.update(from: other.data, count: other.count)
    }

    public func clone() -> Tensor {
        let t = Tensor(shape: shape)
        t.data.update(from: data, count: count)
        return t
    }

    public subscript(i: Int) -> Float {
        get { data[i] }
        set { data[i] = newValue }
    }
}

/// Shape helpers; shapes are plain `[Int]`, printed as PyTorch prints them.
public func shapeString(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }
