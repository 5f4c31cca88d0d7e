import Foundation

/// Images as the files hold them: bytes 0...255, NCHW (CIFAR's planes are already CHW),
/// with one class label each. Normalisation and augmentation happen later, in the loader.
public struct ImageSet: Sendable {
    public let channels: Int, height: Int, width: Int
    /// `count * channels * height * width` bytes, image after image.
    public let pixels: [UInt8]
    public let labels: [Int32]

    public var count: Int { labels.count }
    /// Bytes per image: C*H*W.
    public var imageSize: Int { channels * height * width }

    public init(channels: Int, height: Int, width: Int, pixels: [UInt8], labels: [Int32]) {
        precondition(pixels.count == labels.count * channels * height * width, "ImageSet: pixel count does not match labels")
        self.channels = channels
        self.height = height
        self.width = width
        self.pixels = pixels
        self.labels = labels
    }

    /// The raw CHW bytes of image `i`.
    public func image(at i: Int) -> ArraySlice<UInt8> {
        pixels[i * imageSize..<(i + 1) * imageSize]
    }

    /// Image `i` as floats, (byte/255 - mean[c]) / std[c] (one value for all channels also works):
    /// the loader's normalisation, for classifying a single picture.
    public func normalizedImage(at i: Int, mean: [Float], std: [Float]) -> [Float] {
        let plane = height * width
        return image(at: i).enumerated().map { p, byte in
            let c = mean.count == 1 ? 0 : p / plane
            return (Float(byte) / 255 - mean[c]) / std[c]
        }
    }

    /// The images at `indices`, in that order (copies the bytes).
    public func subset(_ indices: [Int]) -> ImageSet {
        let size = imageSize
        var newPixels = [UInt8](repeating: 0, count: indices.count * size)
        newPixels.withUnsafeMutableBufferPointer { out in
            pixels.withUnsafeBufferPointer { all in
                for (k, i) in indices.enumerated() {
                    guard let dst = out.baseAddress, let src = all.baseAddress else { return }
                    (dst + k * size).update(from: src + i * size, count: size)
                }
            }
        }
        return ImageSet(channels: channels, height: height, width: width, pixels: newPixels,
                        labels: indices.map { labels[$0] })
    }

    /// Images per class, indexed by label.
    public func classCounts(classes: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: classes)
        for label in labels where label >= 0 && Int(label) < classes { counts[Int(label)] += 1 }
        return counts
    }
}

/// A training set, a test set and what is needed to feed them to a network.
public struct Dataset: Sendable {
    /// "fashion-mnist", "mnist", "cifar10", or an image folder's name.
    public let name: String
    public let classNames: [String]
    public let train: ImageSet, test: ImageSet
    /// Per channel, for normalisation: x = (byte/255 - mean) / std.
    public let mean: [Float], std: [Float]
    /// The path it was loaded from.
    public let source: String
    /// For an image folder: the side and resize chosen, pictures per class, skipped pictures, the test split.
    public let folder: ImageFolderReport?

    public init(name: String, classNames: [String], train: ImageSet, test: ImageSet,
                mean: [Float], std: [Float], source: String, folder: ImageFolderReport? = nil) {
        self.name = name
        self.classNames = classNames
        self.train = train
        self.test = test
        self.mean = mean
        self.std = std
        self.source = source
        self.folder = folder
    }

    /// [C, H, W].
    public var shape: [Int] { [train.channels, train.height, train.width] }

    /// Digits and clothes are never mirrored (a flipped 2 or shoe is another picture); CIFAR-10's photos get
    /// the seeds' recipe, pad 4 + random crop + horizontal flip. Anything else (an image folder cnntui knows
    /// nothing about) is padded and cropped but not mirrored, since a mirrored digit, letter or sign is
    /// another picture: `--augment crop+flip` adds the flip for photos.
    public var defaultAugmentation: Augmentation { Dataset.defaultAugmentation(forDatasetNamed: name) }

    public static func defaultAugmentation(forDatasetNamed name: String) -> Augmentation {
        if isGreyscaleCatalogue(name) { return .none }
        return name == "cifar10" ? .standard : .padCrop
    }

    static func isGreyscaleCatalogue(_ name: String) -> Bool { name == "mnist" || name == "fashion-mnist" }

    /// Holds `fraction` of the training set out for validation, chosen by a shuffle with `seed`
    /// (seed 001: 10 %, seed 42). The two parts keep the shuffled order's images in index order.
    public func splitValidation(fraction: Double, seed: UInt64) -> (train: ImageSet, validation: ImageSet) {
        let held = EpochSize.heldOut(of: train.count, fraction: fraction)
        var rng = SplitMix64(seed: seed, stream: 0xDA7A_5B17)
        let order = shuffledIndices(count: train.count, using: &rng)
        let validation = order[..<held].sorted()
        let kept = order[held...].sorted()
        return (train.subset(Array(kept)), train.subset(Array(validation)))
    }
}

/// Random transforms applied per sample by the loader; each draw is a fixed function of
/// (seed, epoch, position in the epoch).
public struct Augmentation: Sendable, Equatable, CustomStringConvertible {
    /// Zero-pad each side by this many pixels, then crop back to the original size at a random
    /// offset (seed 001: RandomCrop(32, padding=4); seed 003: Pad(4) + RandomCrop(32)). 0 = off.
    public var padCrop: Int
    /// Mirror left-right with probability 1/2.
    public var horizontalFlip: Bool

    public init(padCrop: Int = 0, horizontalFlip: Bool = false) {
        self.padCrop = padCrop
        self.horizontalFlip = horizontalFlip
    }

    public static let none = Augmentation()
    /// Pad 4, random crop, random horizontal flip: the CIFAR recipe of seeds 001-003.
    public static let standard = Augmentation(padCrop: 4, horizontalFlip: true)
    /// Pad 4 and random crop, no mirror: the default for a folder of unknown pictures.
    public static let padCrop = Augmentation(padCrop: 4)

    public var isIdentity: Bool { padCrop == 0 && !horizontalFlip }

    /// "none", "crop", "flip", "crop+flip" or "standard" (= crop+flip); "crop" pads by 4,
    /// "crop=N" by N.
    public static func parse(_ text: String) throws -> Augmentation {
        let lowered = text.lowercased().trimmingCharacters(in: .whitespaces)
        if lowered == "none" || lowered == "off" { return .none }
        if lowered == "standard" { return .standard }
        var result = Augmentation.none
        for part in lowered.split(separator: "+") {
            if part == "flip" {
                result.horizontalFlip = true
            } else if part == "crop" {
                result.padCrop = 4
            } else if part.hasPrefix("crop="), let pad = Int(part.dropFirst(5)), pad > 0, pad <= 64 {
                result.padCrop = pad
            } else {
                throw DataError("", "unknown augmentation '\(text)': use none, crop, crop=N, flip, crop+flip or standard")
            }
        }
        return result
    }

    public var description: String {
        switch (padCrop, horizontalFlip) {
        case (0, false): return "none"
        case (0, true): return "flip"
        case (4, false): return "crop"
        case (4, true): return "crop+flip"
        case (let pad, false): return "crop=\(pad)"
        case (let pad, true): return "crop=\(pad)+flip"
        }
    }
}
