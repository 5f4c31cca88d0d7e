import Foundation

/// How a picture becomes a square of `side` pixels.
public enum ResizeMode: String, Sendable, Codable, CaseIterable {
    /// Both sides scaled to `side`, whatever the aspect ratio (a wide picture is squeezed).
    case stretch
    /// The shorter side scaled to `side`, then the centre cut out: torchvision's Resize(n) + CenterCrop(n).
    case crop
}

/// What the user chose for an image folder: `--image-size`, `--resize`, `--strict`.
public struct ImageFolderOptions: Sendable, Equatable {
    /// The side pictures are resized to; nil: the pictures' own side when they all share one square size
    /// up to `largestOwnSide`, else `defaultSide`.
    public var imageSize: Int?
    public var resize: ResizeMode
    /// Refuse a folder with any unreadable picture instead of skipping it.
    public var strict: Bool
    /// Where decoded folders are cached; nil: `DatasetCatalog.cacheDirectory()/folders` (tests use their own).
    public var cacheDirectory: String?

    public static let defaultSide = 32
    public static let largestOwnSide = 64
    public static let sideRange = 4...1024

    public init(imageSize: Int? = nil, resize: ResizeMode = .stretch, strict: Bool = false, cacheDirectory: String? = nil) {
        self.imageSize = imageSize
        self.resize = resize
        self.strict = strict
        self.cacheDirectory = cacheDirectory
    }
}

/// A picture left out of the set, and why (its path relative to the folder's root).
public struct SkippedPicture: Sendable, Equatable, Codable {
    public var path: String
    public var reason: String
    public init(path: String, reason: String) { self.path = path; self.reason = reason }
}

/// How the test pictures of a folder with only `train/` were chosen: a SplitMix64 shuffle of the sorted
/// train files (stream `stream`) whose first `fraction` became the test set.
public struct HeldOutTest: Sendable, Equatable, Codable {
    public var fraction: Double
    public var seed: UInt64
    public static let standard = HeldOutTest(fraction: 0.2, seed: 0)
    static let stream: UInt64 = 0x7E57_5B17
}

/// What loading a folder found out, besides the pixels: the side chosen, pictures per class, the skipped
/// pictures, the measured statistics and, for a train-only folder, how its test split was made.
public struct ImageFolderReport: Sendable, Equatable, Codable {
    public var side: Int
    public var resize: ResizeMode
    public var trainPerClass: [Int]
    public var testPerClass: [Int]
    public var skipped: [SkippedPicture]
    /// nil when the folder has its own `test/`.
    public var heldOutTest: HeldOutTest?
    /// Per channel, measured on the training pictures as loaded (after resizing), 0...1.
    public var mean: [Float], std: [Float]

    public init(side: Int, resize: ResizeMode, trainPerClass: [Int], testPerClass: [Int], skipped: [SkippedPicture],
                heldOutTest: HeldOutTest?, mean: [Float], std: [Float]) {
        self.side = side; self.resize = resize; self.trainPerClass = trainPerClass; self.testPerClass = testPerClass
        self.skipped = skipped; self.heldOutTest = heldOutTest; self.mean = mean; self.std = std
    }

    enum CodingKeys: String, CodingKey {
        case side, resize, skipped, mean, std
        case trainPerClass = "train_per_class", testPerClass = "test_per_class", heldOutTest = "held_out_test"
    }
}

/// Reports decoding progress from the decoding threads: pictures done, pictures in all.
public typealias DecodeProgress = @Sendable (_ done: Int, _ total: Int) -> Void

/// ImageFolder datasets: ROOT/train/CLASS/*.png|jpg and ROOT/test/CLASS/... (or ROOT/train/ alone, which
/// then gives up `HeldOutTest.standard` of its pictures for testing). Class labels are the sorted train
/// class folders; pictures are resized to side x side and kept as RGB, or as grey when every picture is grey.
/// Decoding runs on several threads and its result is cached (`ImageFolderCache`).
public enum ImageFolder {
    public static func isDatasetFolder(_ root: String) -> Bool {
        directoryExists(joinPath(root, "train"))
    }

    /// A split's class folders, each with its picture files, in sorted order.
    struct ClassFiles: Equatable {
        var name: String
        var files: [String]
    }

    /// Class names and pictures per class without decoding anything (for listings); the test counts of a
    /// train-only folder are those its held-out split will have.
    public static func summary(root: String) throws -> (classes: [String], trainPerClass: [Int], testPerClass: [Int],
                                                        heldOut: HeldOutTest?) {
        let (train, test, heldOut) = try splits(root: root)
        let names = train.map(\.name)
        return (names, train.map(\.files.count), names.map { name in test.first { $0.name == name }?.files.count ?? 0 }, heldOut)
    }

    /// The train and test class folders, the test one held out of train when `test/` is missing.
    static func splits(root: String) throws -> (train: [ClassFiles], test: [ClassFiles], heldOut: HeldOutTest?) {
        let train = try scan(joinPath(root, "train"))
        let testFolder = joinPath(root, "test")
        guard directoryExists(testFolder) else {
            let (kept, held) = holdOut(train, HeldOutTest.standard)
            return (kept, held, HeldOutTest.standard)
        }
        let test = try scan(testFolder)
        let names = Set(train.map(\.name))
        if let stray = test.first(where: { !names.contains($0.name) }) {
            throw DataError(joinPath(testFolder, stray.name), "class '\(stray.name)' is in test/ but not in train/ "
                + "(train classes: \(train.map(\.name).joined(separator: ", ")))")
        }
        return (train, test, nil)
    }

    /// Splits the train files: a shuffle of all of them (class after class, sorted) with `split`'s seed; the
    /// first `fraction` go to test. data.py's `held_out_test` makes the same draw.
    static func holdOut(_ classes: [ClassFiles], _ split: HeldOutTest) -> (train: [ClassFiles], test: [ClassFiles]) {
        let all = classes.enumerated().flatMap { k, c in c.files.indices.map { (k, $0) } }
        var rng = SplitMix64(seed: split.seed, stream: HeldOutTest.stream)
        let order = shuffledIndices(count: all.count, using: &rng)
        let held = Set(order[..<EpochSize.heldOut(of: all.count, fraction: split.fraction)])
        var train = classes.map { ClassFiles(name: $0.name, files: []) }, test = train
        for (i, (k, f)) in all.enumerated() {
            if held.contains(i) { test[k].files.append(classes[k].files[f]) } else { train[k].files.append(classes[k].files[f]) }
        }
        return (train, test)
    }

    public static func load(root: String, options: ImageFolderOptions = ImageFolderOptions(),
                            progress: DecodeProgress? = nil) throws -> (classNames: [String], train: ImageSet, test: ImageSet,
                                                                       report: ImageFolderReport) {
        if let side = options.imageSize, !ImageFolderOptions.sideRange.contains(side) {
            throw DataError("--image-size", "\(side) is outside \(ImageFolderOptions.sideRange.lowerBound)..."
                + "\(ImageFolderOptions.sideRange.upperBound)")
        }
        let (trainClasses, testClasses, heldOut) = try splits(root: root)
        let names = trainClasses.map(\.name)
        let cache = ImageFolderCache(root: root, options: options, files: (trainClasses + testClasses).flatMap(\.files))
        let loaded: ImageFolderCache.Content
        if let cached = cache.read() {
            loaded = cached
        } else {
            loaded = try decode(train: trainClasses, test: testClasses, heldOut: heldOut, root: root, options: options,
                                progress: progress)
            cache.write(loaded)
        }
        if options.strict, !loaded.report.skipped.isEmpty {
            let list = loaded.report.skipped.prefix(5).map { "\($0.path) (\($0.reason))" }.joined(separator: "; ")
            throw DataError(root, "--strict: \(loaded.report.skipped.count) unreadable picture(s): \(list)"
                + (loaded.report.skipped.count > 5 ? "; ..." : ""))
        }
        return (names, loaded.train, loaded.test, loaded.report)
    }

    /// What a load with `options` would report, when it is cached already (nil otherwise, or on any error):
    /// the setup screens show the measured mean and std without decoding.
    public static func cachedReport(root: String, options: ImageFolderOptions) -> ImageFolderReport? {
        guard let (train, test, _) = try? splits(root: root) else { return nil }
        return ImageFolderCache(root: root, options: options, files: (train + test).flatMap(\.files)).readReport()
    }

    /// Decodes both splits (on several threads), picks the side, drops unreadable pictures and measures
    /// the training pictures' statistics.
    private static func decode(train trainClasses: [ClassFiles], test testClasses: [ClassFiles], heldOut: HeldOutTest?,
                               root: String, options: ImageFolderOptions,
                               progress: DecodeProgress?) throws -> ImageFolderCache.Content {
        let labelOf = Dictionary(uniqueKeysWithValues: trainClasses.map(\.name).enumerated().map { ($1, Int32($0)) })
        var jobs: [(path: String, label: Int32, isTrain: Bool)] = []
        for c in trainClasses { jobs += c.files.map { ($0, labelOf[c.name] ?? 0, true) } }
        for c in testClasses { jobs += c.files.map { ($0, labelOf[c.name] ?? 0, false) } }
        var side = options.imageSize ?? ImageFolderOptions.defaultSide
        var decoded = ParallelDecoder.run(jobs.map(\.path), side: side, mode: options.resize, progress: progress)
        if options.imageSize == nil {
            // The pictures' own side when all the readable ones share one square size up to 64.
            let sizes = Set(decoded.sizes.compactMap { $0 }.map { "\($0.width)x\($0.height)" })
            if sizes.count == 1, let first = decoded.sizes.compactMap({ $0 }).first, first.width == first.height,
               first.width <= ImageFolderOptions.largestOwnSide, first.width >= ImageFolderOptions.sideRange.lowerBound,
               first.width != side {
                side = first.width
                decoded = ParallelDecoder.run(jobs.map(\.path), side: side, mode: options.resize, progress: progress)
            }
        }
        let plane = side * side
        var skipped: [SkippedPicture] = []
        var kept: (train: [Int], test: [Int]) = ([], [])
        for (i, job) in jobs.enumerated() {
            if let reason = decoded.failures[i] {
                skipped.append(SkippedPicture(path: relativePath(job.path, root: root), reason: reason))
            } else if job.isTrain {
                kept.train.append(i)
            } else {
                kept.test.append(i)
            }
        }
        let colour = decoded.colour
        func set(_ indices: [Int]) -> ImageSet {
            let channels = colour ? 3 : 1
            var pixels = [UInt8](repeating: 0, count: indices.count * channels * plane)
            pixels.withUnsafeMutableBufferPointer { out in
                decoded.pixels.withUnsafeBufferPointer { all in
                    guard let dst = out.baseAddress, let src = all.baseAddress else { return }
                    for (k, i) in indices.enumerated() {
                        (dst + k * channels * plane).update(from: src + i * 3 * plane, count: channels * plane)
                    }
                }
            }
            return ImageSet(channels: channels, height: side, width: side, pixels: pixels, labels: indices.map { jobs[$0].label })
        }
        let train = set(kept.train), test = set(kept.test)
        let trainCounts = train.classCounts(classes: trainClasses.count)
        if let empty = trainCounts.firstIndex(of: 0) {
            throw DataError(joinPath(root, "train", trainClasses[empty].name),
                            "no readable pictures in this class folder (\(skipped.count) picture(s) skipped in all)")
        }
        guard test.count > 0 else { throw DataError(root, "no readable test pictures") }
        let (mean, std) = DatasetCatalog.channelStatistics(train)
        let report = ImageFolderReport(side: side, resize: options.resize, trainPerClass: trainCounts,
                                       testPerClass: test.classCounts(classes: trainClasses.count), skipped: skipped,
                                       heldOutTest: heldOut, mean: mean, std: std)
        return ImageFolderCache.Content(train: train, test: test, report: report)
    }

    static func relativePath(_ path: String, root: String) -> String {
        let prefix = root.hasSuffix("/") ? root : root + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }

    /// Class folders of a split, each with its image files; a split without classes, or a class folder
    /// without a picture file, is an error naming the folder.
    private static func scan(_ split: String) throws -> [ClassFiles] {
        guard directoryExists(split) else { throw DataError(split, "missing directory (expected class folders inside)") }
        var classes: [ClassFiles] = []
        for entry in try sortedEntries(split) where directoryExists(joinPath(split, entry)) {
            let folder = joinPath(split, entry)
            let files = try sortedEntries(folder).filter(ImageDecoder.isImageFile).map { folder + "/" + $0 }
            guard !files.isEmpty else { throw DataError(folder, "empty class folder: no .png or .jpg pictures") }
            classes.append(ClassFiles(name: entry, files: files))
        }
        guard !classes.isEmpty else { throw DataError(split, "no class folders") }
        return classes
    }
}
