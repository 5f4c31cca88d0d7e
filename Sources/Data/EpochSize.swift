/// How many images and batches one epoch of training has. One rule for the loader, the run that prepares
/// it and the setup screen's estimate, so the batches per epoch the pickers show are the ones training runs.
public enum EpochSize {
    /// How many of `count` training images `ImageSet.splitValidation` holds out for `fraction`.
    public static func heldOut(of count: Int, fraction: Double) -> Int {
        max(0, min(count, Int((Double(count) * fraction).rounded())))
    }

    /// The training images left of a training set of `datasetSize` once `heldOutFraction` is held out and
    /// at most `limit` are kept.
    public static func trainingImages(datasetSize: Int, heldOutFraction: Double, limit: Int?) -> Int {
        let kept = datasetSize - heldOut(of: datasetSize, fraction: heldOutFraction)
        return limit.map { min(kept, $0) } ?? kept
    }

    /// Batches of `batchSize` in an epoch of `images`; with `dropLast` a last, smaller batch is left out.
    public static func batches(images: Int, batchSize: Int, dropLast: Bool) -> Int {
        dropLast ? images / batchSize : (images + batchSize - 1) / batchSize
    }

    /// Batches per epoch of a training set of `datasetSize` trained with these settings.
    public static func batches(datasetSize: Int, heldOutFraction: Double, limit: Int?, batchSize: Int, dropLast: Bool) -> Int {
        batches(images: trainingImages(datasetSize: datasetSize, heldOutFraction: heldOutFraction, limit: limit),
                batchSize: batchSize, dropLast: dropLast)
    }
}
