import ArgumentParser
import Data
import Engine
import Foundation
import Models
import Training

/// `cnntui bench`: this machine's sgemm, then each model's training and inference speed, each model and
/// mode in a fresh worker process (this binary re-run as `bench-worker`) so that its peak memory is its own.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure training and inference images/s of the zoo's models on this machine.",
        discussion: """
            Each model and mode runs in its own process: warm-up steps, then --repeats timed runs; the best \
            and the median are reported (the two vCPUs of some machines are sometimes placed far apart, which \
            slows synchronised work for a while). A train step is forward + cross-entropy + backward + SGD \
            momentum on one fixed random batch, the step PyTorch comparisons time.
            """)

    @Option(help: "Models: all, or a comma list of zoo names.") var models = "all"
    @Option(help: "Input size CxHxW, e.g. 3x32x32 or 1x28x28.") var input = "3x32x32"
    @Option(help: "Batch size.") var batch = 64
    @Option(help: "Threads (OpenBLAS and the engine's own kernels; default: one per processor, at most 16).")
    var threads = Parallel.defaultThreads
    @Option(help: "Timed seconds per model and mode, split over the repeats.") var seconds = 6.0
    @Option(help: "Timed runs per model and mode.") var repeats = 5
    @Option(help: "Modes: train,infer, or one of them.") var modes = "train,infer"
    @Option(help: "Dataset whose loader throughput is measured beside MyCNN's training (none to skip).")
    var loaderDataset = "fashion-mnist"
    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @Flag(help: "Print forward (and, training, backward) milliseconds per layer (to stderr) for each model and mode.")
    var profile = false
    @Flag(help: "Train with the layers page's watch on: one test image's layer view (the middle layer) once a second between steps.")
    var watch = false

    func validate() throws {
        _ = try BenchOptions.parseInput(input)
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
        guard (1...64).contains(threads) else { throw ValidationError("--threads must be 1...64, got \(threads)") }
        guard seconds > 0 else { throw ValidationError("--seconds must be positive, got \(seconds)") }
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1, got \(repeats)") }
        _ = try BenchOptions.parseModes(modes)
        for name in try modelList() where ModelZoo.canonicalName(name) == nil {
            throw ValidationError("--models: unknown model '\(name)'; valid: " + ModelZoo.acceptedNames.joined(separator: ", "))
        }
    }

    private func modelList() throws -> [String] {
        models == "all" ? Bench.defaultModels : models.split(separator: ",").map { String($0) }
    }

    func run() throws {
        // The peak figure is OpenBLAS's own threading on one big GEMM; the workers' engine instead splits
        // each op over its threads and runs OpenBLAS single-threaded inside each part.
        BLAS.setLibraryThreads(threads)
        let core = BLAS.coreName
        let peak = Bench.sgemmGFLOPs()
        let coreType = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"]
        if !json {
            print(String(format: "sgemm 1024^3: %.1f GFLOP/s on %d threads, OpenBLAS kernel ", peak, threads) + core
                  + (coreType.map { " (OPENBLAS_CORETYPE=\($0))" } ?? " (OPENBLAS_CORETYPE unset)"))
            print("model                   mode    img/s best  img/s median  GFLOP/s  of sgemm  peak RSS MB  RSS growth MB  steps")
        }
        var results: [BenchResult] = []
        var loader: LoaderThroughput?
        for model in try modelList() {
            if ModelZoo.canonicalName(model) == "mycnn" && loaderDataset != "none" {
                loader = measureLoader()
                if !json, let loader {
                    print(pad("loader " + loader.dataset, 30) + (loader.imagesPerSecond.map { String(format: "%11.0f img/s (batch %d, augmentation none)", $0, batch) }
                        ?? "  not measured: " + (loader.error ?? "")))
                }
            }
            for mode in try BenchOptions.parseModes(modes) {
                var result = try runWorker(model: model, mode: mode)
                result.fractionOfPeak = result.gflops / peak
                results.append(result)
                if !json {
                    print(pad(result.model, 22) + "  " + pad(result.mode, 6) + String(format: "  %11.1f  %12.1f  %7.1f  %7.1f%%  %11.0f  %13.1f  %5d",
                                 result.imagesPerSecond, result.medianImagesPerSecond,
                                 result.gflops, 100 * (result.fractionOfPeak ?? 0), result.peakRssMB, result.rssGrowthMB,
                                 result.steps))
                }
            }
        }
        if json {
            let report = BenchReport(sgemmGflops: peak, blasCore: core, openblasCoretype: coreType, threads: threads,
                                     loader: loader, results: results)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        }
    }

    /// The data loader's images/s on the training split, which must outpace MyCNN's training by far.
    private func measureLoader() -> LoaderThroughput {
        do {
            let dataset = try DatasetCatalog.load(loaderDataset, dataDir: nil)
            let rate = measureLoaderThroughput(set: dataset.train, batchSize: batch, augmentation: .none, seconds: 2)
            return LoaderThroughput(dataset: loaderDataset, imagesPerSecond: rate, error: nil)
        } catch {
            return LoaderThroughput(dataset: loaderDataset, imagesPerSecond: nil, error: "\(error)")
        }
    }

    /// Re-runs this binary as `bench-worker` with glibc told to keep its heap (as the PyTorch yardstick runs),
    /// and reads the one JSON line it prints.
    private func runWorker(model: String, mode: BenchMode) throws -> BenchResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        var arguments = ["bench-worker", "--model", model, "--input", input, "--batch", String(batch),
                         "--threads", String(threads), "--seconds", String(seconds), "--repeats", String(repeats),
                         "--mode", mode.rawValue]
        if profile { arguments.append("--profile") }
        if watch && mode == .train { arguments.append("--watch") }
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["MALLOC_MMAP_MAX_"] = "0"
        environment["MALLOC_TRIM_THRESHOLD_"] = "68719476736"
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let line = String(decoding: output, as: UTF8.self).split(separator: "\n").last
        else {
            throw ValidationError("bench worker for \(model) (\(mode.rawValue)) failed with status \(process.terminationStatus)")
        }
        return try JSONDecoder().decode(BenchResult.self, from: Data(line.utf8))
    }
}

/// The hidden worker `bench` starts: measures one model in one mode and prints one JSON line.
struct BenchWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-worker", abstract: "One model's measurement for `cnntui bench`.", shouldDisplay: false)

    @Option var model: String
    @Option var input = "3x32x32"
    @Option var batch = 64
    @Option var threads = 2
    @Option var seconds = 6.0
    @Option var repeats = 5
    @Option var mode = "train"
    @Flag var profile = false
    @Flag var watch = false

    func run() throws {
        Parallel.setThreads(threads)
        guard let benchMode = BenchMode(rawValue: mode) else { throw ValidationError("--mode: train or infer, got \(mode)") }
        let profiler = profile ? LayerProfiler() : nil
        let result = try Bench.measure(
            model: model, input: try BenchOptions.parseInput(input), batch: batch, mode: benchMode, threads: threads,
            seconds: seconds, repeats: repeats, profiler: profiler, watchInterval: watch ? 1 : nil)
        if let profiler {
            FileHandle.standardError.write(Data(("\n\(result.model) \(benchMode == .train ? "training" : "inference"), per step:\n"
                + Bench.profileTable(profiler, steps: result.steps) + "\n\n").utf8))
        }
        print(String(decoding: try JSONEncoder().encode(result), as: UTF8.self))
    }
}

struct BenchReport: Codable {
    var sgemmGflops: Double
    var blasCore: String
    var openblasCoretype: String?
    var threads: Int
    var loader: LoaderThroughput?
    var results: [BenchResult]
    enum CodingKeys: String, CodingKey {
        case sgemmGflops = "sgemm_gflops", blasCore = "blas_core", openblasCoretype = "openblas_coretype", threads, loader
        case results
    }
}

struct LoaderThroughput: Codable {
    var dataset: String
    var imagesPerSecond: Double?
    var error: String?
    enum CodingKeys: String, CodingKey { case dataset, imagesPerSecond = "images_per_second", error }
}

enum BenchOptions {
    static func parseInput(_ text: String) throws -> [Int] {
        let parts = text.split(separator: "x").compactMap { Int($0) }
        guard parts.count == 3, parts.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--input must be CxHxW with positive sizes (3x32x32, 1x28x28), got '\(text)'")
        }
        return parts
    }

    static func parseModes(_ text: String) throws -> [BenchMode] {
        try text.split(separator: ",").map { part in
            guard let mode = BenchMode(rawValue: String(part)) else {
                throw ValidationError("--modes: train and/or infer, got '\(part)'")
            }
            return mode
        }
    }
}
