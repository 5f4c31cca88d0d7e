/// Builds one batch from bytes: gather, augment, normalise. Runs on the loader's producer thread.
/// N batch, C channels, H x W image; bytes [N_set, C, H, W] in, floats [N, C, H, W] out.
struct BatchMaker: Sendable {
    let set: ImageSet
    let batchSize: Int
    let augmentation: Augmentation
    /// `table[c * 256 + v]` = (v/255 - mean[c]) / std[c]: normalising is one lookup per pixel.
    let table: [Float]
    let seed: UInt64

    static func normalisationTable(channels: Int, mean: [Float], std: [Float]) -> [Float] {
        var table = [Float](repeating: 0, count: channels * 256)
        for c in 0..<channels {
            let m = mean.count == 1 ? mean[0] : mean[c]
            let s = std.count == 1 ? std[0] : std[c]
            for v in 0..<256 { table[c * 256 + v] = (Float(v) / 255 - m) / s }
        }
        return table
    }

    func emptyBatch() -> Batch {
        Batch(images: [Float](repeating: 0, count: batchSize * set.imageSize),
              labels: [Int32](repeating: 0, count: batchSize),
              indices: [Int32](repeating: 0, count: batchSize), count: batchSize)
    }

    /// Fills `batch` with batch `batchIndex` of an epoch whose sample order is `order`.
    /// The augmentation draws of a sample depend only on (seed, epoch, its position in the epoch).
    func fill(_ batch: inout Batch, order: [Int32], epoch: Int, batchIndex: Int) {
        let start = batchIndex * batchSize
        let n = max(0, min(batchSize, order.count - start))
        let size = set.imageSize
        resize(&batch.images, to: n * size)
        resize(&batch.labels, to: n)
        resize(&batch.indices, to: n)
        batch.count = n
        let (C, H, W) = (set.channels, set.height, set.width)
        let pad = augmentation.padCrop
        let flips = augmentation.horizontalFlip
        set.pixels.withUnsafeBufferPointer { pixelBuffer in
            table.withUnsafeBufferPointer { tableBuffer in
                batch.images.withUnsafeMutableBufferPointer { imageBuffer in
                    guard let pixels = pixelBuffer.baseAddress, let lut = tableBuffer.baseAddress,
                          let out = imageBuffer.baseAddress else { return }
                    for k in 0..<n {
                        let index = Int(order[start + k])
                        batch.indices[k] = Int32(index)
                        batch.labels[k] = set.labels[index]
                        let src = pixels + index * size
                        let dst = out + k * size
                        if augmentation.isIdentity {
                            for c in 0..<C {
                                let plane = c * H * W
                                let channelTable = lut + c * 256
                                for p in 0..<H * W { dst[plane + p] = channelTable[Int(src[plane + p])] }
                            }
                            continue
                        }
                        var rng = SplitMix64(seed: seed, stream: UInt64(truncatingIfNeeded: epoch) &+ 1,
                                             index: UInt64(start + k))
                        let dy = pad > 0 ? rng.below(2 * pad + 1) - pad : 0
                        let dx = pad > 0 ? rng.below(2 * pad + 1) - pad : 0
                        let flip = flips && rng.next() & 1 == 1
                        augmentImage(src: src, dst: dst, lut: lut, C: C, H: H, W: W, dy: dy, dx: dx, flip: flip)
                    }
                }
            }
        }
    }

    /// dst[c, y, x] = src[c, y + dy, x' + dx] with x' = W-1-x when flipped, zero bytes outside:
    /// RandomCrop(padding) followed by RandomHorizontalFlip, as in the seeds.
    private func augmentImage(src: UnsafePointer<UInt8>, dst: UnsafeMutablePointer<Float>, lut: UnsafePointer<Float>,
                              C: Int, H: Int, W: Int, dy: Int, dx: Int, flip: Bool) {
        for c in 0..<C {
            let channelTable = lut + c * 256
            let padValue = channelTable[0]
            for y in 0..<H {
                let row = dst + (c * H + y) * W
                let sy = y + dy
                if sy < 0 || sy >= H {
                    for x in 0..<W { row[x] = padValue }
                    continue
                }
                let srcRow = src + (c * H + sy) * W
                if flip {
                    for x in 0..<W {
                        let sx = W - 1 - x + dx
                        row[x] = (sx >= 0 && sx < W) ? channelTable[Int(srcRow[sx])] : padValue
                    }
                } else {
                    // Valid columns are those with 0 <= x + dx < W.
                    let lo = max(0, -dx), hi = min(W, W - dx)
                    for x in 0..<lo { row[x] = padValue }
                    if lo < hi { for x in lo..<hi { row[x] = channelTable[Int(srcRow[x + dx])] } }
                    for x in max(hi, lo)..<W { row[x] = padValue }
                }
            }
        }
    }

    /// Changes the length without giving up capacity, so a short last batch never reallocates.
    private func resize<T: Numeric>(_ array: inout [T], to count: Int) {
        if array.count > count {
            array.removeLast(array.count - count)
        } else if array.count < count {
            array.append(contentsOf: repeatElement(0, count: count - array.count))
        }
    }
}

/// Images per second the loader delivers for `set` (consuming and recycling every batch), over
/// roughly `seconds` of wall time. For the bench: it must far outpace a training step.
public func measureLoaderThroughput(set: ImageSet, batchSize: Int, augmentation: Augmentation, seconds: Double) -> Double {
    let loader = BatchLoader(set: set, batchSize: batchSize, shuffle: true, dropLast: true, augmentation: augmentation,
                             mean: [0.5], std: [0.25], seed: 1)
    guard loader.batchesPerEpoch > 0 else { return 0 }
    let clock = ContinuousClock()
    let start = clock.now
    var images = 0
    var epoch = 0
    var checksum: Float = 0
    while true {
        loader.startEpoch(epoch)
        while let batch = loader.next() {
            images += batch.count
            checksum += batch.images[0]
            loader.recycle(batch)
            let elapsed = clock.now - start
            if elapsed >= .seconds(seconds) {
                let secondsTaken = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
                return checksum.isNaN ? 0 : Double(images) / secondsTaken
            }
        }
        epoch += 1
    }
}
