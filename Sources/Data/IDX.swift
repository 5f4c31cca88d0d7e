import Foundation

/// IDX files (MNIST, Fashion-MNIST), gzip-compressed or plain: a big-endian magic number
/// 0x000008DD (08 = unsigned bytes, DD = number of dimensions), the dimensions, then the bytes.
enum IDX {
    static let imagesMagic: UInt32 = 0x0000_0803
    static let labelsMagic: UInt32 = 0x0000_0801
    /// Refuse headers that would need more memory than any real IDX file (corrupt counts).
    static let maximumBytes = 1 << 31

    /// Reads an idx3-ubyte image file into one byte array, N x 1 x H x W.
    static func readImages(path: String) throws -> (count: Int, height: Int, width: Int, pixels: [UInt8]) {
        let file = try GzipFile(path: path)
        let header = try readHeader(file, expecting: imagesMagic, dimensions: 3, what: "images")
        let (count, height, width) = (header[0], header[1], header[2])
        guard height > 0, width > 0, height <= 4096, width <= 4096 else {
            throw DataError(path, "implausible image size \(height)x\(width) in the IDX header")
        }
        guard count.multipliedReportingOverflow(by: height * width).partialValue <= maximumBytes else {
            throw DataError(path, "implausible image count \(count) in the IDX header")
        }
        let pixels = try file.readBytes(count * height * width, what: "\(count) images of \(height)x\(width)")
        try file.expectEnd(what: "\(count) images")
        return (count, height, width, pixels)
    }

    /// Reads an idx1-ubyte label file; every label must be below `classCount`.
    static func readLabels(path: String, classCount: Int) throws -> [Int32] {
        let file = try GzipFile(path: path)
        let count = try readHeader(file, expecting: labelsMagic, dimensions: 1, what: "labels")[0]
        guard count <= maximumBytes else { throw DataError(path, "implausible label count \(count) in the IDX header") }
        let bytes = try file.readBytes(count, what: "\(count) labels")
        try file.expectEnd(what: "\(count) labels")
        var labels = [Int32](repeating: 0, count: count)
        for i in 0..<count {
            let label = Int(bytes[i])
            if label >= classCount {
                throw DataError(path, "label \(label) of item \(i) is out of range 0...\(classCount - 1)")
            }
            labels[i] = Int32(label)
        }
        return labels
    }

    private static func readHeader(_ file: GzipFile, expecting magic: UInt32, dimensions: Int, what: String) throws -> [Int] {
        let bytes = try file.readBytes(4 + 4 * dimensions, what: "the IDX header")
        func word(_ k: Int) -> UInt32 {
            bytes[4 * k..<4 * k + 4].reduce(0) { $0 << 8 | UInt32($1) }
        }
        let found = word(0)
        guard found == magic else {
            let hex = { (v: UInt32) in "0x" + String(repeating: "0", count: 8 - String(v, radix: 16).count) + String(v, radix: 16) }
            throw DataError(file.path, "wrong IDX magic number \(hex(found)), expected \(hex(magic)) for \(what)")
        }
        return (1...dimensions).map { Int(word($0)) }
    }

    /// File names of an IDX dataset folder, gzip or not (torchvision and the Debian package
    /// use the `-idx3-ubyte` spelling, some mirrors `.idx3-ubyte`).
    static func locate(_ base: String, in directory: String) -> String? {
        let dotted = base.replacingOccurrences(of: "-idx", with: ".idx")
        for name in [base + ".gz", base, dotted + ".gz", dotted] {
            let path = joinPath(directory, name)
            if fileExists(path) { return path }
        }
        return nil
    }

    static func isDatasetFolder(_ directory: String) -> Bool {
        locate("train-images-idx3-ubyte", in: directory) != nil
    }

    /// Loads the four files of an IDX dataset folder (train-*, t10k-*).
    static func loadFolder(_ directory: String, classCount: Int) throws -> (train: ImageSet, test: ImageSet) {
        func split(_ prefix: String) throws -> ImageSet {
            guard let imagesPath = locate("\(prefix)-images-idx3-ubyte", in: directory) else {
                throw DataError(joinPath(directory, "\(prefix)-images-idx3-ubyte.gz"), "missing file")
            }
            guard let labelsPath = locate("\(prefix)-labels-idx1-ubyte", in: directory) else {
                throw DataError(joinPath(directory, "\(prefix)-labels-idx1-ubyte.gz"), "missing file")
            }
            let images = try readImages(path: imagesPath)
            let labels = try readLabels(path: labelsPath, classCount: classCount)
            guard labels.count == images.count else {
                throw DataError(imagesPath, "holds \(images.count) images but \(labelsPath) holds \(labels.count) labels")
            }
            return ImageSet(channels: 1, height: images.height, width: images.width, pixels: images.pixels, labels: labels)
        }
        let train = try split("train")
        let test = try split("t10k")
        guard train.height == test.height, train.width == test.width else {
            throw DataError(directory, "train images are \(train.height)x\(train.width) but test images are \(test.height)x\(test.width)")
        }
        return (train, test)
    }
}

extension IDX {
    /// The item count in an IDX file's header (for listings; 0 when unreadable).
    static func headerCount(_ directory: String, _ base: String) -> Int {
        guard let path = locate(base, in: directory), let file = try? GzipFile(path: path),
              let header = try? file.readBytes(8, what: "the IDX header") else { return 0 }
        return header[4..<8].reduce(0) { $0 << 8 | Int($1) }
    }
}
