import Foundation

/// Just enough of the protocol-buffer wire format to write TensorBoard's `Event` messages: varints,
/// 64-bit doubles, 32-bit floats and length-delimited fields, each field written in field-number order as
/// protobuf's own serializers do, so the bytes match theirs.
struct ProtoWriter {
    private(set) var data = Data()

    private enum WireType: UInt64 { case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5 }

    private mutating func key(_ field: Int, _ type: WireType) { varint(UInt64(field) << 3 | type.rawValue) }

    private mutating func varint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            data.append(UInt8(rest & 0x7f) | 0x80)
            rest >>= 7
        }
        data.append(UInt8(rest))
    }

    // Proto3 leaves a plain field at its default value (0, empty) out; the `always` ones are members of a
    // `oneof`, which are written whenever they are set.

    mutating func double(_ field: Int, _ value: Double) {
        guard value != 0 || value.sign == .minus else { return }
        key(field, .fixed64)
        TFRecord.appendLittleEndian(value.bitPattern, to: &data)
    }

    mutating func int64(_ field: Int, _ value: Int64) {
        guard value != 0 else { return }
        key(field, .varint)
        varint(UInt64(bitPattern: value))
    }

    mutating func float(_ field: Int, always value: Float) {
        key(field, .fixed32)
        TFRecord.appendLittleEndian(value.bitPattern, to: &data)
    }

    mutating func bytes(_ field: Int, _ value: Data) {
        guard !value.isEmpty else { return }
        bytes(field, always: value)
    }

    mutating func bytes(_ field: Int, always value: Data) {
        key(field, .lengthDelimited)
        varint(UInt64(value.count))
        data.append(value)
    }

    mutating func string(_ field: Int, _ value: String) { bytes(field, Data(value.utf8)) }

    mutating func string(_ field: Int, always value: String) { bytes(field, always: Data(value.utf8)) }

    /// A nested message, written even when empty (a set `oneof` member or repeated element).
    mutating func message(_ field: Int, _ build: (inout ProtoWriter) -> Void) {
        var nested = ProtoWriter()
        build(&nested)
        bytes(field, always: nested.data)
    }
}
