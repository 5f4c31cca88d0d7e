import Foundation

/// Reads and writes the safetensors format (an 8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets}}`, then raw little-endian data), the format PyTorch's
/// `safetensors.torch.load_file` reads. Used for checkpoints and for the PyTorch test fixtures.
public enum Safetensors {
    /// One named tensor: float32 values, or int64 values for counters such as `num_batches_tracked`.
    public struct Entry: Sendable {
        public var shape: [Int]
        public var values: [Float]
        public var isInt64: Bool
        public init(shape: [Int], values: [Float], isInt64: Bool = false) {
            self.shape = shape
            self.values = values
            self.isInt64 = isInt64
        }
    }

    /// Serialises entries (written in the given order) and string metadata.
    public static func encode(_ entries: [(String, Entry)], metadata: [String: String] = [:]) throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var body = Data()
        for (name, e) in entries {
            let start = body.count
            if e.isInt64 {
                for v in e.values { withUnsafeBytes(of: Int64(v).littleEndian) { body.append(contentsOf: $0) } }
            } else {
                e.values.withUnsafeBufferPointer { body.append(UnsafeBufferPointer(start: $0.baseAddress, count: $0.count)) }
            }
            header[name] = ["dtype": e.isInt64 ? "I64" : "F32", "shape": e.shape, "data_offsets": [start, body.count]]
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }  // pad with spaces so data stays 8-byte aligned
        var out = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        out.append(body)
        return out
    }

    /// Parses a safetensors blob; `file` names the source in error messages.
    public static func decode(_ data: Data, file: String) throws -> (entries: [String: Entry], metadata: [String: String]) {
        func fail(_ message: String) -> EngineError { .checkpoint(file: file, message: message) }
        guard data.count >= 8 else { throw fail("truncated: \(data.count) bytes, no safetensors header") }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(data.count - 8) else {
            throw fail("truncated or not safetensors: its first 8 bytes announce a \(headerLength)-byte header, but only \(data.count - 8) bytes follow")
        }
        let headerEnd = 8 + Int(headerLength)
        guard let header = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<headerEnd)) as? [String: Any] else {
            throw fail("corrupt safetensors header (not a JSON object)")
        }
        let bodyCount = data.count - headerEnd
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                metadata = value as? [String: String] ?? [:]
                continue
            }
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2
            else { throw fail("tensor '\(name)': malformed header entry") }
            let width = dtype == "F32" ? 4 : dtype == "I64" ? 8 : 0
            guard width > 0 else { throw fail("tensor '\(name)': dtype \(dtype) is not supported (F32 or I64)") }
            // Checked before anything is allocated: the sizes come from the file, and the engine is compiled
            // -Ounchecked, so an overflow or a negative count would not trap in a release build.
            guard let count = elementCount(shape), let byteCount = count.multipliedWithoutOverflow(by: width),
                  byteCount <= bodyCount else {
                throw fail("tensor '\(name)': shape \(shape) does not fit in the file's \(bodyCount) data bytes")
            }
            guard offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= bodyCount, offsets[1] - offsets[0] == byteCount else {
                throw fail("tensor '\(name)': data offsets \(offsets) do not fit shape \(shape) in \(bodyCount) data bytes (truncated?)")
            }
            var values = [Float](repeating: 0, count: count)
            data.withUnsafeBytes { raw in
                let base = raw.baseAddress! + headerEnd + offsets[0]
                for i in 0..<count {
                    if width == 4 {
                        values[i] = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                    } else {
                        values[i] = Float(Int64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
                    }
                }
            }
            entries[name] = Entry(shape: shape, values: values, isInt64: width == 8)
        }
        return (entries, metadata)
    }

    /// The number of elements of `shape`; nil when a dimension is negative or the product overflows.
    private static func elementCount(_ shape: [Int]) -> Int? {
        var count = 1
        for dimension in shape {
            guard dimension >= 0, let product = count.multipliedWithoutOverflow(by: dimension) else { return nil }
            count = product
        }
        return count
    }

    public static func read(contentsOf url: URL) throws -> (entries: [String: Entry], metadata: [String: String]) {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw EngineError.checkpoint(file: url.path, message: "cannot read: \(error.localizedDescription)")
        }
        return try decode(data, file: url.path)
    }
}

extension Layer {
    /// Copies named tensors into this layer's state dict; every key must be present with the same shape.
    public func loadStateDict(_ entries: [String: Safetensors.Entry], file: String) throws {
        for (key, p) in stateDict() {
            guard let e = entries[key] else { throw EngineError.checkpoint(file: file, message: "missing tensor '\(key)'") }
            guard e.values.count == p.count, e.shape.reduce(1, *) == p.shape.reduce(1, *) else {
                throw EngineError.checkpoint(
                    file: file, message: "tensor '\(key)' has shape \(shapeString(e.shape)), model expects \(shapeString(p.shape))")
            }
            e.values.withUnsafeBufferPointer { p.value.data.update(from: $0.baseAddress!, count: p.count) }
        }
    }

    /// This layer's state dict as safetensors entries (counters as int64).
    public func stateDictEntries() -> [(String, Safetensors.Entry)] {
        stateDict().map { ($0.0, Safetensors.Entry(shape: $0.1.shape, values: $0.1.value.array, isInt64: $0.1.kind == .counter)) }
    }
}

extension Int {
    /// `self * other`, or nil when it overflows.
    func multipliedWithoutOverflow(by other: Int) -> Int? {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        return overflow ? nil : product
    }
}
