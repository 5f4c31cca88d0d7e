import Testing
@testable import Data

/// The one rule for how many batches an epoch has, checked against what the split and the loader do.
@Suite struct EpochSizeTests {
    @Test(arguments: [(97, 0.0), (97, 0.1), (60000, 0.1), (50, 0.05), (3, 0.5)])
    func heldOutCountIsWhatTheSplitHoldsOut(count: Int, fraction: Double) {
        let set = syntheticSet(count: count, channels: 1, side: 1)
        let dataset = Dataset(name: "t", classNames: (0..<10).map(String.init), train: set, test: set, mean: [0], std: [1], source: "")
        let validation = dataset.splitValidation(fraction: fraction, seed: 1).validation
        #expect(EpochSize.heldOut(of: count, fraction: fraction) == validation.count)
    }

    @Test func batchesCountTheLimitTheHeldOutPartAndTheLastBatch() {
        // 60000 less 6000 held out, 54000 images: 540 batches of 100, or 422 (421 full) of 128.
        #expect(EpochSize.batches(datasetSize: 60000, heldOutFraction: 0.1, limit: nil, batchSize: 100, dropLast: false) == 540)
        #expect(EpochSize.batches(datasetSize: 60000, heldOutFraction: 0.1, limit: nil, batchSize: 128, dropLast: false) == 422)
        #expect(EpochSize.batches(datasetSize: 60000, heldOutFraction: 0.1, limit: nil, batchSize: 128, dropLast: true) == 421)
        // The limit applies to what is left after holding out.
        #expect(EpochSize.trainingImages(datasetSize: 1000, heldOutFraction: 0.1, limit: 950) == 900)
        #expect(EpochSize.trainingImages(datasetSize: 1000, heldOutFraction: 0.1, limit: 250) == 250)
        #expect(EpochSize.batches(datasetSize: 1000, heldOutFraction: 0, limit: 250, batchSize: 100, dropLast: true) == 2)
    }

    @Test(arguments: [(10, 4, false), (10, 4, true), (8, 4, true), (3, 4, true)])
    func theLoaderDeliversThatManyBatches(images: Int, batchSize: Int, dropLast: Bool) {
        let loader = BatchLoader(set: syntheticSet(count: images, channels: 1, side: 2), batchSize: batchSize, shuffle: true,
                                 dropLast: dropLast, augmentation: .none, mean: [0], std: [1], seed: 1)
        let expected = EpochSize.batches(images: images, batchSize: batchSize, dropLast: dropLast)
        #expect(loader.batchesPerEpoch == expected)
        loader.startEpoch(1)
        var delivered = 0
        while let batch = loader.next() {
            delivered += 1
            loader.recycle(consume batch)
        }
        #expect(delivered == expected)
    }
}
