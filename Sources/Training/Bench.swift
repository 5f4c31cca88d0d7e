import Engine
import Foundation
import Models

// Speed measurements behind `cnntui bench`: this machine's sgemm, and a model's training or inference
// throughput on one fixed batch, timed the way the PyTorch yardstick times the same step
// (forward + cross-entropy + backward + SGD momentum 0.9 per step: `TrainingStep`, the step training runs).

/// What one model did in one mode, as `cnntui bench --json` prints it.
public struct BenchResult: Codable, Sendable {
    public var model: String
    public var input: String
    public var batch: Int
    public var mode: String
    public var threads: Int
    /// Best repeat's images per second (warm-up excluded).
    public var imagesPerSecond: Double
    public var medianImagesPerSecond: Double
    /// Images per second of every repeat, in run order.
    public var repeats: [Double]
    /// 6 (train) or 2 (infer) x multiply-adds per image x best images/s.
    public var gflops: Double
    /// gflops / the sgemm figure of the same run (filled in by the parent process).
    public var fractionOfPeak: Double?
    /// getrusage ru_maxrss of the worker process.
    public var peakRssMB: Double
    /// Resident memory after the timed steps less after warm-up: buffers reused means ~0.
    public var rssGrowthMB: Double
    public var steps: Int
    public var macsPerImage: Int
    public var blasCore: String

    enum CodingKeys: String, CodingKey {
        case model, input, batch, mode, threads, repeats, gflops, steps
        case imagesPerSecond = "images_per_second", medianImagesPerSecond = "median_images_per_second"
        case fractionOfPeak = "fraction_of_peak", peakRssMB = "peak_rss_mb", rssGrowthMB = "rss_growth_mb"
        case macsPerImage = "macs_per_image", blasCore = "blas_core"
    }
}

public enum BenchMode: String, Sendable, CaseIterable {
    case train, infer
}

public enum Bench {
    /// The models the PyTorch yardstick knows, under the zoo's names.
    public static let defaultModels = [
        "mycnn", "resnet", "se-resnet", "vgg11", "mobilenet-v1", "shufflenet-v1-g3-1.0x", "shufflenet-v2-0.5x",
        "efficientnet-v2-s",
    ]

    /// Best GFLOP/s of a square row-major sgemm (2*n^3 flops) over repeated calls for about `seconds`,
    /// on OpenBLAS's current thread count.
    public static func sgemmGFLOPs(size n: Int = 1024, seconds: Double = 1) -> Double {
        let a = Tensor(shape: [n, n]), b = Tensor(shape: [n, n]), c = Tensor(shape: [n, n])
        var random = RandomSource(seed: 1)
        for i in 0..<n * n {
            a[i] = random.uniform(-1, 1)
            b[i] = random.uniform(-1, 1)
        }
        var best = Double.infinity
        let start = LayerProfiler.now()
        var calls = 0
        while calls < 3 || Double(LayerProfiler.now() - start) * 1e-9 < seconds {
            let t0 = LayerProfiler.now()
            BLAS.sgemm(transA: false, transB: false, m: n, n: n, k: n, a: a.data, lda: n, b: b.data, ldb: n,
                       beta: 0, c: c.data, ldc: n)
            best = min(best, Double(LayerProfiler.now() - t0) * 1e-9)
            calls += 1
        }
        return 2 * Double(n * n * n) / best / 1e9
    }

    /// Resident memory now, from /proc/self/statm (0 where there is none).
    public static func residentMB() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Double(fields[1]) else { return 0 }
        return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
    }

    /// Peak resident memory of this process (getrusage; Linux reports kilobytes).
    public static func peakResidentMB() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }

    /// Builds `model` and times it on one fixed random batch: `warmup` untimed steps, then `repeats`
    /// timed runs of about seconds/repeats each (at least two steps each). With a profiler, every
    /// `Sequential` of the network times its children during the timed steps.
    public static func measure(
        model: String, input: [Int], classes: Int = 10, batch: Int, mode: BenchMode, threads: Int,
        seconds: Double, repeats: Int = 5, warmup: Int = 3, profiler: LayerProfiler? = nil, watchInterval: Double? = nil
    ) throws -> BenchResult {
        let network = try ModelZoo.build(model, inputShape: input, classes: classes, seed: 0)
        let macs = try ModelSummary.make(network: network, batchSize: batch).totals.macs
        let trainingStep = try TrainingStep.onRandomBatch(network, batchSize: batch)

        // The layers page's watch, as the engine thread runs it at a batch boundary: the middle layer's view
        // of one image every `watchInterval` seconds.
        let rows = TrainingLoop.layers(of: network)
        let watchedPath = rows.isEmpty ? "" : rows[rows.count / 2].path
        var random = RandomSource(seed: 3)
        let watchedImage = (0..<network.inputShape.reduce(1, *)).map { _ in random.uniform(-1, 1) }
        var lastView = LayerProfiler.now()
        func step() throws {
            if let watchInterval, Double(LayerProfiler.now() - lastView) * 1e-9 >= watchInterval {
                lastView = LayerProfiler.now()
                _ = try trainingStep.probe.layerView(path: watchedPath, image: watchedImage, testIndex: 0, globalStep: 0)
            }
            switch mode {
            case .train: _ = try trainingStep.train()
            case .infer: try trainingStep.infer()
            }
        }

        func timedRuns() throws -> (rates: [Double], steps: Int, rssAfterWarmup: Double) {
            for _ in 0..<warmup { try step() }
            let rssAfterWarmup = residentMB()
            if let profiler { attach(profiler, to: network.root) }
            var rates: [Double] = []
            var steps = 0
            let perRepeat = seconds / Double(max(repeats, 1))
            for _ in 0..<max(repeats, 1) {
                let start = LayerProfiler.now()
                var done = 0
                var elapsed = 0.0
                while done < 2 || elapsed < perRepeat {
                    try step()
                    done += 1
                    elapsed = Double(LayerProfiler.now() - start) * 1e-9
                }
                rates.append(Double(done * batch) / elapsed)
                steps += done
            }
            return (rates, steps, rssAfterWarmup)
        }
        // Inference is timed as an evaluation runs it: batch after batch through the same weights, each conv's
        // BatchNorm folded once.
        let (rates, steps, rssAfterWarmup) = try mode == .infer ? network.withFrozenWeights(timedRuns) : timedRuns()
        let best = rates.max() ?? 0
        let sorted = rates.sorted()
        let median = sorted.count % 2 == 1
            ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        let flopsPerMAC: Double = mode == .train ? 6 : 2
        return BenchResult(
            model: ModelZoo.canonicalName(model) ?? model, input: input.map(String.init).joined(separator: "x"),
            batch: batch, mode: mode.rawValue, threads: threads, imagesPerSecond: best, medianImagesPerSecond: median,
            repeats: rates, gflops: flopsPerMAC * Double(macs) * best / 1e9, fractionOfPeak: nil,
            peakRssMB: peakResidentMB(), rssGrowthMB: residentMB() - rssAfterWarmup, steps: steps,
            macsPerImage: macs, blasCore: BLAS.coreName)
    }

    /// Gives every `Sequential` in the tree the profiler.
    public static func attach(_ profiler: LayerProfiler, to root: any Layer) {
        forEachLayer(in: root) { ($0 as? Sequential)?.profiler = profiler }
    }

    /// The profile as text: per-step forward and backward milliseconds of each timed layer (exclusive of
    /// the timed layers inside it), largest first, then the totals.
    public static func profileTable(_ profiler: LayerProfiler, steps: Int, limit: Int = 40) -> String {
        let perStep = 1e-6 / Double(max(steps, 1))
        let rows = profiler.entries.sorted {
            $0.forwardExclusiveNanos + $0.backwardExclusiveNanos > $1.forwardExclusiveNanos + $1.backwardExclusiveNanos
        }
        let totalForward = Double(rows.reduce(0) { $0 + $1.forwardExclusiveNanos }) * perStep
        let totalBackward = Double(rows.reduce(0) { $0 + $1.backwardExclusiveNanos }) * perStep
        func ms(_ v: Double) -> String { String(format: "%9.3f", v) }
        var lines = [pad("layer", 34) + pad("type", 16) + "   fwd ms    bwd ms   share"]
        let total = max(totalForward + totalBackward, 1e-12)
        for e in rows.prefix(limit) {
            let f = Double(e.forwardExclusiveNanos) * perStep, b = Double(e.backwardExclusiveNanos) * perStep
            lines.append(pad(e.name, 34) + pad(e.typeName, 16) + ms(f) + " " + ms(b)
                         + String(format: "  %5.1f%%", 100 * (f + b) / total))
        }
        if rows.count > limit { lines.append("(\(rows.count - limit) more layers)") }
        lines.append(pad("total (timed layers)", 50) + ms(totalForward) + " " + ms(totalBackward))
        return lines.joined(separator: "\n")
    }
}

/// `text` left-aligned in a column `width` characters wide; text that fills the column gets one space
/// after it all the same, so columns never run together. For the plain-text tables of the CLI.
public func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}
