import Foundation

/// What is known about a dataset without its files: shape, classes, statistics, how to get it.
public struct DatasetInfo: Sendable, Equatable {
    public let name: String
    /// [C, H, W].
    public let shape: [Int]
    public let classNames: [String]
    public let trainCount: Int, testCount: Int
    public let mean: [Float], std: [Float]
    /// A sentence on how to obtain the files.
    public let howToGet: String
    /// File names expected in the dataset's folder.
    public let files: [String]
}

/// One line of `cnntui datasets`: a dataset, found or not.
public struct DatasetListing: Sendable, Equatable, Codable {
    public let name: String
    public let found: Bool
    /// Where it was found; nil when missing.
    public let path: String?
    public let train: Int?, test: Int?
    /// [C, H, W]; for image folders, as loaded at the default 32x32.
    public let shape: [Int]
    public let classes: [String]
    /// Pictures per class (image folders; nil for the others, whose classes are balanced).
    public let trainPerClass: [Int]?, testPerClass: [Int]?
    /// How a train-only image folder's test pictures are held out; nil when it has test/.
    public let heldOutTest: HeldOutTest?
    /// For a missing dataset: how to get it.
    public let howToGet: String?

    private enum CodingKeys: String, CodingKey {
        case name, found, path, train, test, shape, classes, howToGet = "how_to_get"
        case trainPerClass = "train_per_class", testPerClass = "test_per_class", heldOutTest = "held_out_test"
    }

    public init(name: String, found: Bool, path: String?, train: Int?, test: Int?, shape: [Int], classes: [String],
                trainPerClass: [Int]? = nil, testPerClass: [Int]? = nil, heldOutTest: HeldOutTest? = nil, howToGet: String?) {
        self.name = name; self.found = found; self.path = path; self.train = train; self.test = test
        self.shape = shape; self.classes = classes; self.trainPerClass = trainPerClass; self.testPerClass = testPerClass
        self.heldOutTest = heldOutTest; self.howToGet = howToGet
    }

    /// Missing values are written as null, so every object has the same keys.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(found, forKey: .found)
        try container.encode(path, forKey: .path)
        try container.encode(train, forKey: .train)
        try container.encode(test, forKey: .test)
        try container.encode(shape, forKey: .shape)
        try container.encode(classes, forKey: .classes)
        try container.encode(howToGet, forKey: .howToGet)
        try container.encode(trainPerClass, forKey: .trainPerClass)
        try container.encode(testPerClass, forKey: .testPerClass)
        try container.encode(heldOutTest, forKey: .heldOutTest)
    }
}

/// How a dataset's files are laid out (`DatasetCatalog.format(of:)`).
public enum DatasetFormat: String, Sendable {
    /// The four IDX files of MNIST and Fashion-MNIST (gzipped or not).
    case idx
    /// CIFAR-10's binary batches, or its tarball.
    case cifar10
    /// `train/CLASS/*` and `test/CLASS/*` pictures (or `train/` alone).
    case imageFolder = "image-folder"
}

/// Finds datasets by name or path and loads them.
public enum DatasetCatalog {
    public static let knownNames = ["fashion-mnist", "mnist", "cifar10"]
    public static let imageNetMean: [Float] = [0.485, 0.456, 0.406]
    public static let imageNetStd: [Float] = [0.229, 0.224, 0.225]

    private static let idxFiles = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                   "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    private static let digitNames = (0...9).map(String.init)

    public static func info(_ name: String) -> DatasetInfo? {
        let cache = joinPath(cacheDirectory(), name)
        switch name {
        case "fashion-mnist":
            return DatasetInfo(
                name: name, shape: [1, 28, 28],
                classNames: ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
                trainCount: 60000, testCount: 10000, mean: [0.2860], std: [0.3530],
                howToGet: "apt-get install dataset-fashion-mnist (installs /usr/share/datasets/fashion-mnist/), "
                    + "or `cnntui download fashion-mnist`, or place \(idxFiles.joined(separator: ", ")) in \(cache)/",
                files: idxFiles)
        case "mnist":
            return DatasetInfo(
                name: name, shape: [1, 28, 28], classNames: digitNames, trainCount: 60000, testCount: 10000,
                mean: [0.1307], std: [0.3081],
                howToGet: "`cnntui download mnist`, or place \(idxFiles.joined(separator: ", ")) in \(cache)/",
                files: idxFiles)
        case "cifar10":
            return DatasetInfo(
                name: name, shape: [3, 32, 32], classNames: CIFAR10.classNames, trainCount: 50000, testCount: 10000,
                mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.2010],
                howToGet: "`cnntui download cifar10`, or place \(CIFAR10.archiveName) (or the extracted "
                    + "cifar-10-batches-bin/) in \(cache)/",
                files: [CIFAR10.archiveName])
        default:
            return nil
        }
    }

    /// The folders searched, in order: --data-dir, $CNNTUI_DATA, ~/.cache/cnntui/, the system paths.
    public static func searchRoots(dataDir: String?) -> [String] {
        var roots: [String] = []
        if let dataDir, !dataDir.isEmpty { roots.append(expandTilde(dataDir)) }
        if let env = ProcessInfo.processInfo.environment["CNNTUI_DATA"], !env.isEmpty { roots.append(expandTilde(env)) }
        roots.append(cacheDirectory())
        roots += ["/usr/local/share/datasets", "/usr/share/datasets"]
        var seen = Set<String>()
        return roots.filter { seen.insert($0).inserted }
    }

    /// ~/.cache/cnntui (honours $XDG_CACHE_HOME).
    public static func cacheDirectory() -> String {
        let env = ProcessInfo.processInfo.environment
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty { return joinPath(xdg, "cnntui") }
        return joinPath(env["HOME"] ?? NSHomeDirectory(), ".cache", "cnntui")
    }

    /// Where a known dataset's files are (the folder, or for CIFAR-10 possibly the archive), or nil.
    public static func locate(_ name: String, dataDir: String?) -> String? {
        for root in searchRoots(dataDir: dataDir) {
            if let found = locate(name, inFolder: joinPath(root, name)) { return found }
            if name == "cifar10", let found = locate(name, inFolder: joinPath(root, "cifar-10-batches-bin")) { return found }
        }
        return nil
    }

    private static func locate(_ name: String, inFolder folder: String) -> String? {
        switch name {
        case "cifar10": return CIFAR10.locate(in: folder)
        default: return IDX.isDatasetFolder(folder) ? folder : nil
        }
    }

    /// Loads a known dataset by name, or the dataset at a path (an IDX folder, a CIFAR-10 folder or
    /// archive, or an image folder with train/CLASS/ and test/CLASS/). `folderOptions` say how an image
    /// folder's pictures are resized; `progress` hears of their decoding (not called when they are cached).
    public static func load(_ nameOrPath: String, dataDir: String?, folderOptions: ImageFolderOptions = ImageFolderOptions(),
                            progress: DecodeProgress? = nil) throws -> Dataset {
        if let info = info(nameOrPath) {
            guard let location = locate(nameOrPath, dataDir: dataDir) else {
                let roots = searchRoots(dataDir: dataDir).map { joinPath($0, nameOrPath) }
                throw DataError(nameOrPath, "dataset not found; looked in \(roots.joined(separator: ", ")). To get it: \(info.howToGet)")
            }
            return try loadKnown(info, from: location)
        }
        let path = expandTilde(nameOrPath)
        guard fileExists(path) || directoryExists(path) else {
            throw DataError(nameOrPath, "no such dataset or directory (known datasets: \(knownNames.joined(separator: ", ")); "
                + "or give a folder with train/CLASS/*.png|jpg and test/CLASS/...)")
        }
        let folderName = ((path as NSString).standardizingPath as NSString).lastPathComponent
        if let info = info(folderName), locate(folderName, inFolder: path) != nil {
            return try loadKnown(info, from: path)
        }
        if let cifar = CIFAR10.locate(in: path), let info = info("cifar10") {
            return try loadKnown(info, from: cifar, name: folderName)
        }
        if IDX.isDatasetFolder(path) {
            let (train, test) = try IDX.loadFolder(path, classCount: 256)
            let classes = Int((train.labels.max() ?? 0) + 1)
            if let bad = test.labels.first(where: { $0 >= classes }) {
                throw DataError(path, "test labels include class \(bad), which the training labels lack")
            }
            let (mean, std) = channelStatistics(train)
            return Dataset(name: folderName, classNames: (0..<classes).map(String.init), train: train, test: test,
                           mean: mean, std: std, source: path)
        }
        if ImageFolder.isDatasetFolder(path) {
            let folder = try ImageFolder.load(root: path, options: folderOptions, progress: progress)
            return Dataset(name: folderName, classNames: folder.classNames, train: folder.train, test: folder.test,
                           mean: folder.report.mean, std: folder.report.std, source: path, folder: folder.report)
        }
        throw DataError(path, "not a dataset: expected IDX files (train-images-idx3-ubyte.gz ...), CIFAR-10 .bin files "
            + "or \(CIFAR10.archiveName), or train/ and test/ folders of class folders")
    }

    private static func loadKnown(_ info: DatasetInfo, from location: String, name: String? = nil) throws -> Dataset {
        let train: ImageSet, test: ImageSet
        switch info.name {
        case "cifar10":
            (train, test) = try CIFAR10.load(from: CIFAR10.locate(in: location) ?? location)
        default:
            (train, test) = try IDX.loadFolder(location, classCount: info.classNames.count)
        }
        let shape = [train.channels, train.height, train.width]
        guard shape == info.shape else {
            throw DataError(location, "\(info.name) images should be \(info.shape) but these are \(shape)")
        }
        return Dataset(name: name ?? info.name, classNames: info.classNames, train: train, test: test,
                       mean: info.mean, std: info.std, source: location)
    }

    /// The kind of files a loaded dataset's `source` holds, as the readers above recognise them: what a tool reading
    /// the files on its own (the PyTorch export's data.py) needs to know. nil for anything else.
    public static func format(of source: String) -> DatasetFormat? {
        if CIFAR10.locate(in: source) != nil { return .cifar10 }
        if IDX.isDatasetFolder(source) { return .idx }
        if ImageFolder.isDatasetFolder(source) { return .imageFolder }
        return nil
    }

    /// Every known dataset (found or not) plus image folders in the search roots.
    public static func list(dataDir: String?) -> [DatasetListing] {
        var listings: [DatasetListing] = []
        for name in knownNames {
            guard let info = info(name) else { continue }
            guard let location = locate(name, dataDir: dataDir) else {
                listings.append(DatasetListing(name: name, found: false, path: nil, train: nil, test: nil,
                                               shape: info.shape, classes: info.classNames, howToGet: info.howToGet))
                continue
            }
            let counts: (train: Int, test: Int)
            if name == "cifar10" {
                counts = CIFAR10.counts(at: location)
            } else {
                counts = (IDX.headerCount(location, "train-labels-idx1-ubyte"), IDX.headerCount(location, "t10k-labels-idx1-ubyte"))
            }
            listings.append(DatasetListing(name: name, found: true, path: location, train: counts.train, test: counts.test,
                                           shape: info.shape, classes: info.classNames, howToGet: nil))
        }
        var seen = Set(knownNames)
        for root in searchRoots(dataDir: dataDir) {
            guard let entries = try? sortedEntries(root) else { continue }
            for entry in entries where !seen.contains(entry) {
                let path = joinPath(root, entry)
                guard ImageFolder.isDatasetFolder(path), let summary = try? ImageFolder.summary(root: path) else { continue }
                seen.insert(entry)
                listings.append(DatasetListing(name: entry, found: true, path: path, train: summary.trainPerClass.reduce(0, +),
                                               test: summary.testPerClass.reduce(0, +), shape: [3, 32, 32], classes: summary.classes,
                                               trainPerClass: summary.trainPerClass, testPerClass: summary.testPerClass,
                                               heldOutTest: summary.heldOut, howToGet: nil))
            }
        }
        return listings
    }

    /// Per-channel mean and standard deviation of a set's pixels, scaled to 0...1.
    static func channelStatistics(_ set: ImageSet) -> (mean: [Float], std: [Float]) {
        let plane = set.height * set.width
        var sums = [Double](repeating: 0, count: set.channels), squares = sums
        set.pixels.withUnsafeBufferPointer { pixels in
            for i in 0..<set.count {
                for c in 0..<set.channels {
                    var sum = 0, square = 0
                    let base = (i * set.channels + c) * plane
                    for p in 0..<plane { let v = Int(pixels[base + p]); sum += v; square += v * v }
                    sums[c] += Double(sum)
                    squares[c] += Double(square)
                }
            }
        }
        let n = Double(max(1, set.count * plane))
        let mean = sums.map { $0 / n / 255 }
        let std = zip(squares, mean).map { max(1e-3, ($0.0 / n / 65025 - $0.1 * $0.1).squareRoot()) }
        return (mean.map(Float.init), std.map(Float.init))
    }
}

func expandTilde(_ path: String) -> String { (path as NSString).expandingTildeInPath }
