/// ImageFolder datasets (seed 003's mini CIFAR-10): ROOT/train/CLASS/*.png|jpg and ROOT/test/CLASS/...
/// Class labels are the sorted train class folders; pictures are resized to side x side and kept
/// as RGB, or as grey when every training picture is grey.
enum ImageFolder {
    static func isDatasetFolder(_ root: String) -> Bool {
        directoryExists(joinPath(root, "train")) && directoryExists(joinPath(root, "test"))
    }

    /// Class names and image counts without decoding anything (for listings).
    static func summary(root: String) throws -> (classes: [String], train: Int, test: Int) {
        let train = try scan(joinPath(root, "train"))
        let test = try scan(joinPath(root, "test"))
        return (train.map(\.name), train.reduce(0) { $0 + $1.files.count }, test.reduce(0) { $0 + $1.files.count })
    }

    static func load(root: String, imageSize: Int) throws -> (classNames: [String], train: ImageSet, test: ImageSet) {
        guard imageSize >= 4, imageSize <= 1024 else { throw DataError(root, "image size \(imageSize) is outside 4...1024") }
        let trainClasses = try scan(joinPath(root, "train"))
        let testClasses = try scan(joinPath(root, "test"))
        let names = trainClasses.map(\.name)
        let labelOf = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, Int32($0)) })
        if let stray = testClasses.first(where: { labelOf[$0.name] == nil }) {
            throw DataError(joinPath(root, "test", stray.name), "class '\(stray.name)' is in the test split but not in train/ (train classes: \(names.joined(separator: ", ")))")
        }
        var train = try decode(trainClasses, labels: labelOf, side: imageSize)
        var test = try decode(testClasses, labels: labelOf, side: imageSize)
        let colour = train.colour || test.colour
        if !colour {
            train.pixels = keepFirstPlane(train.pixels, side: imageSize)
            test.pixels = keepFirstPlane(test.pixels, side: imageSize)
        }
        let channels = colour ? 3 : 1
        return (names,
                ImageSet(channels: channels, height: imageSize, width: imageSize, pixels: train.pixels, labels: train.labels),
                ImageSet(channels: channels, height: imageSize, width: imageSize, pixels: test.pixels, labels: test.labels))
    }

    /// Class folders of a split, each with its image files; an empty split or class is an error.
    private static func scan(_ split: String) throws -> [(name: String, files: [String])] {
        guard directoryExists(split) else { throw DataError(split, "missing directory (expected class folders inside)") }
        var classes: [(name: String, files: [String])] = []
        for entry in try sortedEntries(split) where directoryExists(joinPath(split, entry)) {
            let folder = joinPath(split, entry)
            let files = try sortedEntries(folder).filter(ImageDecoder.isImageFile).map { joinPath(folder, $0) }
            guard !files.isEmpty else { throw DataError(folder, "empty class folder: no .png or .jpg images") }
            classes.append((entry, files))
        }
        guard !classes.isEmpty else { throw DataError(split, "no class folders") }
        return classes
    }

    /// Decodes and resizes every picture to RGB planes; records whether any had colour.
    private static func decode(_ classes: [(name: String, files: [String])], labels labelOf: [String: Int32],
                               side: Int) throws -> (pixels: [UInt8], labels: [Int32], colour: Bool) {
        var pixels: [UInt8] = [], labels: [Int32] = []
        var colour = false
        for (name, files) in classes {
            guard let label = labelOf[name] else { continue }
            for path in files {
                let image = try ImageDecoder.decode(path: path)
                if image.channels == 3 { colour = true }
                pixels.append(contentsOf: planarBytes(image, channels: 3, width: side, height: side))
                labels.append(label)
            }
        }
        return (pixels, labels, colour)
    }

    /// RGB planes whose three planes are equal (all-grey data) -> one plane per image.
    private static func keepFirstPlane(_ rgb: [UInt8], side: Int) -> [UInt8] {
        let plane = side * side
        let count = rgb.count / (3 * plane)
        var grey = [UInt8](repeating: 0, count: count * plane)
        for i in 0..<count { grey[i * plane..<(i + 1) * plane] = rgb[i * 3 * plane..<(i * 3 + 1) * plane] }
        return grey
    }
}
