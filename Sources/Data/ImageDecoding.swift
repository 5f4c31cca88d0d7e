import CJPEG
import CPNG
import Foundation

/// A decoded picture: 8-bit interleaved HWC, 1 (grey) or 3 (RGB) channels.
struct DecodedImage {
    var width: Int, height: Int, channels: Int
    var pixels: [UInt8]
}

/// PNG through libpng's simplified API, JPEG through libjpeg-turbo (behind the setjmp shim),
/// binary PGM/PPM (P5/P6) by hand.
enum ImageDecoder {
    static let extensions: Set<String> = ["png", "jpg", "jpeg"]

    /// Whether a file name ends in one of `extensions`, in any case. Byte by byte: a folder of 50,000
    /// pictures asks it 50,000 times on every start, and NSString's `pathExtension` made that a tenth of
    /// a cached start.
    static func isImageFile(_ name: String) -> Bool {
        let bytes = name.utf8
        guard let dot = bytes.lastIndex(of: UInt8(ascii: ".")) else { return false }
        // ASCII letters lower-cased by their 0x20 bit; no other byte becomes a letter that way.
        let ext = bytes[bytes.index(after: dot)...].map { $0 | 0x20 }
        return extensionBytes.contains(ext)
    }
    private static let extensionBytes = extensions.map { Array($0.utf8) }

    enum Format { case png, jpeg, pnm }

    /// The format a file's first bytes announce (PNG's signature, JPEG's start-of-image marker, P5 or P6).
    static func format(of head: some Collection<UInt8>) -> Format? {
        if head.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return .png }
        if head.starts(with: [0xFF, 0xD8]) { return .jpeg }
        if head.starts(with: Array("P5".utf8)) || head.starts(with: Array("P6".utf8)) { return .pnm }
        return nil
    }

    /// A picture file larger than this is refused unread: the largest picture decoded (`mostPixels`) as 8-bit
    /// RGB PPM, the format with the most bytes per pixel.
    static let mostFileBytes = 3 * mostPixels

    /// A stranger's folder may hold anything under a picture's name: the file is read only after its size and
    /// first bytes say it can be a picture.
    static func decode(path: String) throws -> DecodedImage {
        let bytes = try readWholeFile(path, atMost: mostFileBytes, what: "picture") { head in
            guard !head.isEmpty else { throw DataError(path, "zero-byte image file") }
            guard format(of: head) != nil else { throw unrecognised(path) }
        }
        return try decode(bytes, path: path)
    }

    /// Decodes a picture file's bytes; `path` names it in errors.
    static func decode(_ bytes: [UInt8], path: String) throws -> DecodedImage {
        guard !bytes.isEmpty else { throw DataError(path, "zero-byte image file") }
        switch format(of: bytes) {
        case .png: return try decodePNG(bytes, path: path)
        case .jpeg: return try decodeJPEG(bytes, path: path)
        case .pnm: return try decodePNM(bytes, path: path)
        case nil: throw unrecognised(path)
        }
    }

    private static func unrecognised(_ path: String) -> DataError {
        DataError(path, "not a PNG, JPEG or binary PGM/PPM image (unrecognised first bytes)")
    }

    /// The header's width and height are checked against the file's size before the pixels are allocated, so
    /// a few bytes announcing a gigapixel image are refused instead of allocating gigabytes. PNG: deflate packs
    /// at most 1032 bytes into one, and a byte holds up to 8 one-bit pixels. JPEG has no such bound (arithmetic
    /// coding of a flat image), so a generous one: real photos hold far fewer pixels per byte.
    static let pngPixelsPerByte = 1032 * 8
    static let jpegPixelsPerByte = 1024
    /// Up to this many pixels whatever the file's size (a flat 2048x2048 picture), and never more than this.
    static let pixelsAlwaysAllowed = 1 << 22, mostPixels = 1 << 28

    static func maximumPixels(fileBytes: Int, pixelsPerByte: Int) -> Int {
        min(mostPixels, max(pixelsAlwaysAllowed, min(fileBytes, mostPixels) * pixelsPerByte))
    }

    /// Binary PGM (P5, grey) or PPM (P6, RGB) with maxval 255; `#` comments allowed in the header.
    static func decodePNM(_ bytes: [UInt8], path: String) throws -> DecodedImage {
        var position = 2
        func headerField() throws -> Int {
            while position < bytes.count {
                if bytes[position] == UInt8(ascii: "#") {
                    while position < bytes.count && bytes[position] != UInt8(ascii: "\n") { position += 1 }
                } else if bytes[position] == 0x20 || (0x09...0x0D).contains(bytes[position]) {
                    position += 1
                } else { break }
            }
            var value = 0, digits = 0
            while position < bytes.count, (0x30...0x39).contains(bytes[position]), digits < 9 {
                value = value * 10 + Int(bytes[position] - 0x30)
                position += 1
                digits += 1
            }
            guard digits > 0 else { throw DataError(path, "malformed PGM/PPM header") }
            return value
        }
        let channels = bytes[1] == UInt8(ascii: "5") ? 1 : 3
        let width = try headerField(), height = try headerField(), maxValue = try headerField()
        guard maxValue == 255 else { throw DataError(path, "only 8-bit PGM/PPM (maxval 255) is supported, got \(maxValue)") }
        guard width > 0, height > 0, width * height <= 1 << 28 else {
            throw DataError(path, "implausible PGM/PPM size \(width)x\(height)")
        }
        position += 1  // the single whitespace byte after maxval
        let count = width * height * channels
        guard bytes.count - position >= count else {
            throw DataError(path, "truncated PGM/PPM: \(max(0, bytes.count - position)) of \(count) pixel bytes")
        }
        return DecodedImage(width: width, height: height, channels: channels, pixels: Array(bytes[position..<position + count]))
    }

    private static func decodePNG(_ bytes: [UInt8], path: String) throws -> DecodedImage {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        let began = bytes.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard began != 0 else { throw DataError(path, "unreadable PNG: \(pngMessage(&image))") }
        let colour = image.format & UInt32(PNG_FORMAT_FLAG_COLOR) != 0
        let channels = colour ? 3 : 1
        image.format = colour ? UInt32(PNG_FORMAT_RGB) : UInt32(PNG_FORMAT_GRAY)
        let (width, height) = (Int(image.width), Int(image.height))
        guard width > 0, height > 0, width * height <= maximumPixels(fileBytes: bytes.count, pixelsPerByte: pngPixelsPerByte) else {
            png_image_free(&image)
            throw DataError(path, "refused: its header announces \(width)x\(height) pixels, more than \(bytes.count) bytes of PNG hold")
        }
        var pixels = [UInt8](repeating: 0, count: width * height * channels)
        // Transparent pixels are composited onto black, as PIL's convert("RGB") drops alpha.
        var black = png_color(red: 0, green: 0, blue: 0)
        let finished = pixels.withUnsafeMutableBytes { png_image_finish_read(&image, &black, $0.baseAddress, 0, nil) }
        guard finished != 0 else { throw DataError(path, "corrupt PNG: \(pngMessage(&image))") }
        return DecodedImage(width: width, height: height, channels: channels, pixels: pixels)
    }

    private static func pngMessage(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    private static func decodeJPEG(_ bytes: [UInt8], path: String) throws -> DecodedImage {
        var width: Int32 = 0, height: Int32 = 0, channels: Int32 = 0
        var message = [CChar](repeating: 0, count: 256)
        let decoded = bytes.withUnsafeBufferPointer { buffer in
            cnntui_jpeg_decode(buffer.baseAddress, UInt(buffer.count),
                               UInt64(maximumPixels(fileBytes: buffer.count, pixelsPerByte: jpegPixelsPerByte)),
                               &width, &height, &channels, &message, message.count)
        }
        guard let decoded else {
            throw DataError(path, "unreadable JPEG: \(String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
        }
        defer { free(decoded) }
        let count = Int(width) * Int(height) * Int(channels)
        return DecodedImage(width: Int(width), height: Int(height), channels: Int(channels),
                            pixels: Array(UnsafeBufferPointer(start: decoded, count: count)))
    }
}

/// Encoders, for tests and for exporting pictures: 8-bit interleaved HWC, 1 or 3 channels.
enum ImageEncoder {
    static func writePNG(_ image: DecodedImage, to path: String) throws {
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        png.width = UInt32(image.width)
        png.height = UInt32(image.height)
        png.format = image.channels == 3 ? UInt32(PNG_FORMAT_RGB) : UInt32(PNG_FORMAT_GRAY)
        let ok = image.pixels.withUnsafeBytes { png_image_write_to_file(&png, path, 0, $0.baseAddress, 0, nil) }
        guard ok != 0 else { throw DataError(path, "cannot write PNG") }
    }

    static func writeJPEG(_ image: DecodedImage, to path: String, quality: Int = 95) throws {
        var message = [CChar](repeating: 0, count: 256)
        let status = image.pixels.withUnsafeBufferPointer {
            cnntui_jpeg_encode_file(path, $0.baseAddress, Int32(image.width), Int32(image.height), Int32(image.channels),
                                    Int32(quality), &message, message.count)
        }
        guard status == 0 else { throw DataError(path, "cannot write JPEG") }
    }
}

/// Resizes HWC bytes with a separable triangle (bilinear) filter whose support widens when
/// shrinking, like PIL's BILINEAR resize that torchvision's Resize uses on pictures.
/// Output is CHW (planar) bytes, `channels` planes of side x side.
func resizeBilinear(_ image: DecodedImage, width outW: Int, height outH: Int) -> [UInt8] {
    let C = image.channels, inW = image.width, inH = image.height
    func weights(inSize: Int, outSize: Int) -> [(first: Int, weights: [Float])] {
        let scale = Float(inSize) / Float(outSize)
        let support = max(scale, 1)
        return (0..<outSize).map { o in
            let center = (Float(o) + 0.5) * scale
            let lo = max(0, Int((center - support).rounded(.down)))
            let hi = min(inSize, Int((center + support).rounded(.up)))
            var w = (lo..<hi).map { i in max(0, 1 - abs((Float(i) + 0.5 - center) / support)) }
            let total = w.reduce(0, +)
            if total > 0 { w = w.map { $0 / total } } else { w = w.map { _ in 1 / Float(max(1, hi - lo)) } }
            return (lo, w)
        }
    }
    let columns = weights(inSize: inW, outSize: outW)
    let rows = weights(inSize: inH, outSize: outH)
    // Horizontal pass: [inH, outW, C] floats.
    var horizontal = [Float](repeating: 0, count: inH * outW * C)
    for y in 0..<inH {
        for (x, column) in columns.enumerated() {
            for c in 0..<C {
                var sum: Float = 0
                for (k, w) in column.weights.enumerated() {
                    sum += w * Float(image.pixels[(y * inW + column.first + k) * C + c])
                }
                horizontal[(y * outW + x) * C + c] = sum
            }
        }
    }
    // Vertical pass into planar bytes [C, outH, outW].
    var out = [UInt8](repeating: 0, count: C * outH * outW)
    for (y, row) in rows.enumerated() {
        for x in 0..<outW {
            for c in 0..<C {
                var sum: Float = 0
                for (k, w) in row.weights.enumerated() { sum += w * horizontal[((row.first + k) * outW + x) * C + c] }
                out[(c * outH + y) * outW + x] = UInt8(max(0, min(255, sum.rounded())))
            }
        }
    }
    return out
}
