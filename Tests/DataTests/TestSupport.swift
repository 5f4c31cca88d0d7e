import Foundation
@testable import Data

/// A fresh temporary directory per test, removed when the value is released.
final class TempDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "cnntui-data-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }

    func makeDirectory(_ name: String) throws -> String {
        let dir = file(name)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    func write(_ bytes: [UInt8], to name: String) throws {
        let path = file(name)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
}

func bigEndian(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
}

func idxImages(count: Int, height: Int, width: Int, magic: UInt32 = 0x803, pixel: (Int, Int) -> UInt8) -> [UInt8] {
    var bytes = bigEndian(magic) + bigEndian(UInt32(count)) + bigEndian(UInt32(height)) + bigEndian(UInt32(width))
    for i in 0..<count { for p in 0..<height * width { bytes.append(pixel(i, p)) } }
    return bytes
}

func idxLabels(_ labels: [UInt8], magic: UInt32 = 0x801) -> [UInt8] {
    bigEndian(magic) + bigEndian(UInt32(labels.count)) + labels
}

/// Writes a tiny IDX dataset (train-*, t10k-*) as gzip files into `directory`.
func writeIDXDataset(in directory: String, train: Int = 12, test: Int = 5, side: Int = 4) throws {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let pixel = { (i: Int, p: Int) in UInt8((i * 7 + p * 3) % 256) }
    try writeGzipFile(idxImages(count: train, height: side, width: side, pixel: pixel), to: directory + "/train-images-idx3-ubyte.gz")
    try writeGzipFile(idxLabels((0..<train).map { UInt8($0 % 10) }), to: directory + "/train-labels-idx1-ubyte.gz")
    try writeGzipFile(idxImages(count: test, height: side, width: side, pixel: pixel), to: directory + "/t10k-images-idx3-ubyte.gz")
    try writeGzipFile(idxLabels((0..<test).map { UInt8($0 % 10) }), to: directory + "/t10k-labels-idx1-ubyte.gz")
}

/// A tiny ImageSet whose pixel values encode (image, channel, position).
func syntheticSet(count: Int, channels: Int, side: Int) -> ImageSet {
    var pixels: [UInt8] = []
    for i in 0..<count {
        for c in 0..<channels { for p in 0..<side * side { pixels.append(UInt8((i * 31 + c * 50 + p) % 256)) } }
    }
    return ImageSet(channels: channels, height: side, width: side, pixels: pixels, labels: (0..<count).map { Int32($0 % 10) })
}

/// Runs `body` and returns the DataError it throws (nil if it throws nothing or something else).
func dataError(_ body: () throws -> Void) -> DataError? {
    do {
        try body()
        return nil
    } catch let error as DataError {
        return error
    } catch {
        return nil
    }
}
