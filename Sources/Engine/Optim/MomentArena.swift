/// One kind of optimizer state (SGD's momentum buffer, Adam's exp_avg) for every parameter, in one
/// contiguous buffer: parameter `i` owns `count(i)` floats at `offset(i)`. Allocated once, reused every step.
final class MomentArena {
    /// The checkpoint name prefix: entry `i` is saved as `<name>.<i>` (PyTorch's state key).
    let name: String
    private let storage: Tensor
    private let offsets: [Int]
    private let shapes: [[Int]]

    init(name: String, shapes: [[Int]]) {
        self.name = name
        self.shapes = shapes
        var offsets: [Int] = []
        var total = 0
        for shape in shapes {
            offsets.append(total)
            total += shape.reduce(1, *)
        }
        self.offsets = offsets
        self.storage = Tensor(shape: [total])
    }

    /// The floats of parameter `i`.
    func pointer(_ i: Int) -> UnsafeMutablePointer<Float> { storage.data + offsets[i] }

    func zero() { storage.zero() }

    /// `<name>.<i>` for every parameter, with the parameter's shape.
    func entries() -> [(String, Safetensors.Entry)] {
        shapes.indices.map { i in
            let n = shapes[i].reduce(1, *)
            return ("\(name).\(i)", Safetensors.Entry(shape: shapes[i], values: Array(UnsafeBufferPointer(start: pointer(i), count: n))))
        }
    }

    /// Copies `<name>.<i>` back for every parameter; throws naming the entry that is missing or mis-sized.
    func load(_ entries: [String: Safetensors.Entry], file: String) throws {
        for i in shapes.indices {
            let key = "\(name).\(i)"
            let n = shapes[i].reduce(1, *)
            guard let e = entries[key] else { throw EngineError.checkpoint(file: file, message: "missing optimizer state '\(key)'") }
            guard e.values.count == n else {
                throw EngineError.checkpoint(
                    file: file,
                    message: "optimizer state '\(key)' has shape \(shapeString(e.shape)), parameter \(i) has \(shapeString(shapes[i]))")
            }
            e.values.withUnsafeBufferPointer { src in
                if let base = src.baseAddress { pointer(i).update(from: base, count: n) }
            }
        }
    }
}

/// The `step` counter entry both optimizers save (int64, like PyTorch's per-parameter `step`).
func stepEntry(_ step: Int) -> (String, Safetensors.Entry) {
    ("step", Safetensors.Entry(shape: [], values: [Float(step)], isInt64: true))
}

func loadStep(_ entries: [String: Safetensors.Entry], file: String) throws -> Int {
    guard let e = entries["step"], let v = e.values.first, v >= 0, v == v.rounded() else {
        throw EngineError.checkpoint(file: file, message: "missing or invalid optimizer state 'step'")
    }
    return Int(v)
}
