/// A growing (x, y) history that never holds more than `capacity` points: when full, neighbouring pairs are
/// averaged and later points are averaged in buckets of the same width, so the density stays uniform.
public struct BoundedSeries: Equatable, Sendable {
    public let capacity: Int
    public private(set) var stored: [ChartPoint] = []
    /// Raw points averaged into one stored point.
    public private(set) var bucketSize = 1
    private var pendingX = 0.0, pendingY = 0.0, pendingCount = 0

    public init(capacity: Int = 1024) { self.capacity = max(4, capacity - capacity % 2) }

    /// Everything to plot: the stored points plus the partly filled bucket, so the newest value always shows.
    public var points: [ChartPoint] {
        pendingCount == 0 ? stored : stored + [ChartPoint(x: pendingX / Double(pendingCount), y: pendingY / Double(pendingCount))]
    }
    public var last: ChartPoint? { points.last }
    public var isEmpty: Bool { stored.isEmpty && pendingCount == 0 }

    public mutating func append(x: Double, y: Double) {
        guard x.isFinite, y.isFinite else { return }
        pendingX += x; pendingY += y; pendingCount += 1
        guard pendingCount == bucketSize else { return }
        stored.append(ChartPoint(x: pendingX / Double(bucketSize), y: pendingY / Double(bucketSize)))
        pendingX = 0; pendingY = 0; pendingCount = 0
        if stored.count >= capacity {
            stored = stride(from: 0, to: stored.count - 1, by: 2).map {
                ChartPoint(x: (stored[$0].x + stored[$0 + 1].x) / 2, y: (stored[$0].y + stored[$0 + 1].y) / 2)
            }
            bucketSize *= 2
        }
    }
}
