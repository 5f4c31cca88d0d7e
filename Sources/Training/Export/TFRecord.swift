import Foundation

/// TFRecord framing, the container of TensorBoard event files: each record is
///
///     u64 little-endian length | u32 masked CRC-32C of those 8 bytes | the bytes | u32 masked CRC-32C of the bytes
///
/// as TensorFlow's `RecordWriter` (and TensorBoard's Python copy of it) writes them. The mask keeps a CRC of
/// data that itself holds CRCs from being trivially zero.
enum TFRecord {
    /// One framed record holding `payload`.
    static func frame(_ payload: Data) -> Data {
        var length = Data()
        appendLittleEndian(UInt64(payload.count), to: &length)
        var record = length
        appendLittleEndian(maskedCRC(length), to: &record)
        record.append(payload)
        appendLittleEndian(maskedCRC(payload), to: &record)
        return record
    }

    static func maskedCRC(_ data: Data) -> UInt32 { mask(CRC32C.checksum(data)) }

    static func mask(_ crc: UInt32) -> UInt32 { ((crc >> 15) | (crc << 17)) &+ 0xa282_ead8 }

    static func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to data: inout Data) {
        withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) }
    }
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): the checksum TFRecord uses. zlib only has the other
/// CRC-32, so this one is here, a byte at a time through a table: event files are small.
enum CRC32C {
    static func checksum(_ data: some Sequence<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xffff_ffff
        for byte in data { crc = table[Int((crc ^ UInt32(byte)) & 0xff)] ^ (crc >> 8) }
        return crc ^ 0xffff_ffff
    }

    private static let table: [UInt32] = (0..<256).map { index in
        var crc = UInt32(index)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82f6_3b78 : crc >> 1 }
        return crc
    }
}
