/// One picture file turned into a model input the way training data is prepared, so `predict`
/// sees exactly what training saw: decoded (PNG, JPEG, binary PGM/PPM), channels converted,
/// resized with the image-folder loader's bilinear filter and its resize rule, and laid out planar.
public enum ImageFile {
    /// The file's pixels as C*H*W bytes for `shape` = [C, H, W] with C = 1 (grey) or 3 (RGB).
    /// Normalisation is left to the caller (the batch loader does it, as in training).
    /// `resize`: the rule the training pictures were resized by (a square shape; `stretch` fits any shape).
    public static func load(_ path: String, shape: [Int], resize: ResizeMode = .stretch) throws -> [UInt8] {
        guard shape.count == 3, shape[0] == 1 || shape[0] == 3, shape[1] > 0, shape[2] > 0 else {
            throw DataError(path, "cannot prepare an image for shape \(shape): expected [1 or 3, height, width]")
        }
        let image = try ImageDecoder.decode(path: path)
        if resize == .crop, shape[1] == shape[2] {
            return ParallelDecoder.squarePlanes(image, channels: shape[0], side: shape[1], mode: .crop)
        }
        return planarBytes(image, channels: shape[0], width: shape[2], height: shape[1])
    }
}

/// `image` resized to width x height as `channels` planes. Grey becomes RGB by repeating its plane
/// (as the image-folder loader stores grey pictures among colour ones); RGB becomes grey first,
/// with ITU-R 601 weights in PIL's fixed-point form, as torchvision's Grayscale does.
func planarBytes(_ image: DecodedImage, channels: Int, width: Int, height: Int) -> [UInt8] {
    if image.channels == channels, image.width == width, image.height == height { return planar(image) }
    if image.channels == channels { return resizeBilinear(image, width: width, height: height) }
    if image.channels == 1 {
        let plane = resizeBilinear(image, width: width, height: height)
        return [UInt8]([[UInt8]](repeating: plane, count: channels).joined())
    }
    return resizeBilinear(greyscale(image), width: width, height: height)
}

/// HWC -> CHW without resizing (the filter at the same size is the identity: 32x32 pictures kept at 32 skip it).
private func planar(_ image: DecodedImage) -> [UInt8] {
    let (C, plane) = (image.channels, image.width * image.height)
    if C == 1 { return image.pixels }
    var out = [UInt8](repeating: 0, count: C * plane)
    for p in 0..<plane { for c in 0..<C { out[c * plane + p] = image.pixels[p * C + c] } }
    return out
}

/// RGB -> L as PIL's convert("L"): (R*19595 + G*38470 + B*7471 + 0x8000) >> 16.
func greyscale(_ image: DecodedImage) -> DecodedImage {
    let count = image.width * image.height
    var grey = [UInt8](repeating: 0, count: count)
    for i in 0..<count {
        let r = UInt32(image.pixels[3 * i]), g = UInt32(image.pixels[3 * i + 1]), b = UInt32(image.pixels[3 * i + 2])
        grey[i] = UInt8((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16)
    }
    return DecodedImage(width: image.width, height: image.height, channels: 1, pixels: grey)
}
