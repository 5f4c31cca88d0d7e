import Foundation

/// Turns an image file into the raw C*H*W bytes a session's model takes, the way the training data
/// was stored: channels converted (grey <-> RGB), resized bilinearly to the dataset's size, planar.
/// `SessionModel.predict` then normalises them with the training loader itself.
///
/// Reads binary PGM/PPM (P5/P6, 8-bit) here. PNG and JPEG need the Data module's decoder, which is
/// internal to Data (`ImageDecoder.decode(path:)`); until Data makes it public, those files are
/// refused with a message saying so.
public enum ImageInput {
    /// 8-bit interleaved pixels (HWC), 1 or 3 channels.
    public struct Picture: Equatable, Sendable {
        public var width: Int, height: Int, channels: Int
        public var pixels: [UInt8]
        public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
            self.width = width; self.height = height; self.channels = channels; self.pixels = pixels
        }
    }

    /// The file's pixels as [C, H, W] bytes for `shape`.
    public static func load(_ path: String, shape: [Int]) throws -> [UInt8] {
        prepare(try decode(path), shape: shape)
    }

    public static func decode(_ path: String) throws -> Picture {
        let bytes: [UInt8]
        do { bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) } catch {
            throw TrainingError.setup(message: "\(path): cannot read: \(error.localizedDescription)")
        }
        if bytes.starts(with: [0x50, 0x35]) || bytes.starts(with: [0x50, 0x36]) { return try decodePNM(bytes, path: path) }
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) || bytes.starts(with: [0xFF, 0xD8]) {
            throw TrainingError.setup(message: "\(path): PNG/JPEG decoding needs the Data module's ImageDecoder, "
                                      + "which Data does not make public yet; convert to PPM/PGM (P6/P5) meanwhile")
        }
        throw TrainingError.setup(message: "\(path): not a PPM/PGM, PNG or JPEG image (unrecognised first bytes)")
    }

    /// Binary PGM (P5, grey) or PPM (P6, RGB) with maxval 255.
    static func decodePNM(_ bytes: [UInt8], path: String) throws -> Picture {
        func fail(_ message: String) -> TrainingError { .setup(message: "\(path): \(message)") }
        var position = 2
        func field() throws -> Int {
            while position < bytes.count {
                if bytes[position] == UInt8(ascii: "#") {
                    while position < bytes.count && bytes[position] != UInt8(ascii: "\n") { position += 1 }
                } else if bytes[position] == 0x20 || (0x09...0x0D).contains(bytes[position]) {
                    position += 1
                } else { break }
            }
            var value = 0
            var digits = 0
            while position < bytes.count, (0x30...0x39).contains(bytes[position]), digits < 9 {
                value = value * 10 + Int(bytes[position] - 0x30)
                position += 1
                digits += 1
            }
            guard digits > 0 else { throw fail("malformed PNM header") }
            return value
        }
        let channels = bytes[1] == UInt8(ascii: "5") ? 1 : 3
        let width = try field(), height = try field(), maxValue = try field()
        guard maxValue == 255 else { throw fail("only 8-bit PNM (maxval 255) is supported, got \(maxValue)") }
        guard width > 0, height > 0, width * height <= 1 << 26 else { throw fail("implausible size \(width)x\(height)") }
        position += 1  // the single whitespace byte after maxval
        let count = width * height * channels
        guard bytes.count - position >= count else { throw fail("truncated: \(bytes.count - position) of \(count) pixel bytes") }
        return Picture(width: width, height: height, channels: channels, pixels: Array(bytes[position..<position + count]))
    }

    /// Converts channels, resizes bilinearly (half-pixel centres, no antialiasing), and makes it planar.
    public static func prepare(_ picture: Picture, shape: [Int]) -> [UInt8] {
        let (c, h, w) = (shape[0], shape[1], shape[2])
        var out = [UInt8](repeating: 0, count: c * h * w)
        let sx = Double(picture.width) / Double(w), sy = Double(picture.height) / Double(h)
        func sample(_ x: Int, _ y: Int, _ channel: Int) -> Double {
            let base = (y * picture.width + x) * picture.channels
            if picture.channels == c { return Double(picture.pixels[base + channel]) }
            if picture.channels == 1 { return Double(picture.pixels[base]) }
            // RGB to grey with ITU-R 601 weights, as PIL's convert("L").
            return 0.299 * Double(picture.pixels[base]) + 0.587 * Double(picture.pixels[base + 1])
                + 0.114 * Double(picture.pixels[base + 2])
        }
        for channel in 0..<c {
            for y in 0..<h {
                let fy = max(0, min(Double(picture.height - 1), (Double(y) + 0.5) * sy - 0.5))
                let y0 = Int(fy), y1 = min(y0 + 1, picture.height - 1), ty = fy - Double(y0)
                for x in 0..<w {
                    let fx = max(0, min(Double(picture.width - 1), (Double(x) + 0.5) * sx - 0.5))
                    let x0 = Int(fx), x1 = min(x0 + 1, picture.width - 1), tx = fx - Double(x0)
                    let top = sample(x0, y0, channel) * (1 - tx) + sample(x1, y0, channel) * tx
                    let bottom = sample(x0, y1, channel) * (1 - tx) + sample(x1, y1, channel) * tx
                    let value = top * (1 - ty) + bottom * ty
                    out[(channel * h + y) * w + x] = UInt8(max(0, min(255, value.rounded())))
                }
            }
        }
        return out
    }
}
