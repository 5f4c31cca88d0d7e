import Foundation
@testable import Data

/// An IDX file (gzip or plain), read as images and as labels.
func fuzzIDX(_ data: Data) {
    let path = scratchFile("fuzz-idx", holding: data)
    _ = try? IDX.readImages(path: path)
    _ = try? IDX.readLabels(path: path, classCount: 10)
}

/// A CIFAR-10 batch file's bytes.
func fuzzCIFARBatch(_ data: Data) {
    var pixels: [UInt8] = [], labels: [Int32] = []
    try? CIFAR10.decode([UInt8](data), source: "fuzz.bin", into: &pixels, labels: &labels)
}

/// A tar archive over gzip: every member is read whole, as CIFAR-10's archive loader reads the ones it wants.
func fuzzTarGzip(_ data: Data) {
    let path = scratchFile("fuzz.tar.gz", holding: data)
    try? TarReader.forEachFile(in: path) { member, file in
        _ = try file.readBytes(member.size, what: "member \(member.name)")
        return true
    }
    // The CIFAR-10 archive loader on the same bytes: member checks, then the batches.
    _ = try? CIFAR10.load(from: path)
}

/// A picture file (PNG, JPEG or PGM/PPM, told apart by its first bytes), decoded, then prepared as a model input.
func fuzzImage(_ data: Data) {
    guard let image = try? ImageDecoder.decode([UInt8](data), path: "fuzz-image") else { return }
    _ = planarBytes(image, channels: 3, width: 8, height: 8)
}

/// An image folder's decode cache, made for a folder with a known fingerprint (the one the seed files carry).
func fuzzImageFolderCache(_ data: Data) {
    _ = ImageFolderCache.decode(data, fingerprint: fuzzCacheFingerprint)
}

let fuzzCacheFingerprint = "fuzz-fingerprint"
