import CZlib
import Foundation

/// 8-bit RGB pictures as PNG: signature, IHDR, one IDAT of zlib-deflated scanlines (filter type 0 on every
/// row: the pictures are flat blocks of colour, which deflate packs well as they are), IEND. Each chunk
/// carries zlib's CRC-32 of its type and data.
enum PNGWriter {
    /// `rgb` holds height rows of width RGB triples.
    static func encode(width: Int, height: Int, rgb: [UInt8]) -> Data {
        precondition(width > 0 && height > 0 && rgb.count == width * height * 3, "PNG pixels do not match the size")
        var scanlines = [UInt8]()
        scanlines.reserveCapacity(height * (width * 3 + 1))
        for row in 0..<height {
            scanlines.append(0)  // filter: none
            scanlines.append(contentsOf: rgb[row * width * 3..<(row + 1) * width * 3])
        }
        var header = Data()
        appendBigEndian(UInt32(width), to: &header)
        appendBigEndian(UInt32(height), to: &header)
        header.append(contentsOf: [8, 2, 0, 0, 0])  // bit depth 8, colour type RGB, deflate, adaptive filters, no interlace

        var png = Data([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
        appendChunk("IHDR", header, to: &png)
        appendChunk("IDAT", deflate(scanlines), to: &png)
        appendChunk("IEND", Data(), to: &png)
        return png
    }

    private static func deflate(_ bytes: [UInt8]) -> Data {
        var size = compressBound(uLong(bytes.count))
        var out = [UInt8](repeating: 0, count: Int(size))
        let status = compress2(&out, &size, bytes, uLong(bytes.count), Z_BEST_COMPRESSION)
        // compress2 fails only without memory or with a buffer smaller than compressBound's.
        precondition(status == Z_OK, "zlib compress2 failed: \(status)")
        return Data(out[0..<Int(size)])
    }

    private static func appendChunk(_ type: String, _ body: Data, to png: inout Data) {
        appendBigEndian(UInt32(body.count), to: &png)
        var typed = Data(type.utf8)
        typed.append(body)
        png.append(typed)
        let crc = typed.withUnsafeBytes { raw in
            crc32(0, raw.bindMemory(to: Bytef.self).baseAddress, uInt(raw.count))
        }
        appendBigEndian(UInt32(crc), to: &png)
    }

    private static func appendBigEndian(_ value: UInt32, to data: inout Data) {
        withUnsafeBytes(of: value.bigEndian) { data.append(contentsOf: $0) }
    }
}
