import Foundation

// One libFuzzer binary for every reader of files cnntui did not write: CNNTUI_FUZZ_TARGET picks the target
// (`scripts/fuzz` sets it; one build, so the modules under test are compiled once). Each target feeds the bytes
// to a reader and only checks that it returns or throws: a crash, a sanitizer report, a hang or an allocation
// beyond libFuzzer's limits is the finding.

/// The targets by name; each is also a folder of seed files under Tests/Fuzz/Corpus/.
let fuzzTargets: [String: (Data) -> Void] = [
    "safetensors": fuzzSafetensors,
    "idx": fuzzIDX,
    "cifar": fuzzCIFARBatch,
    "tar-gzip": fuzzTarGzip,
    "png": fuzzImage,
    "jpeg": fuzzImage,
    "session-json": fuzzSessionJSON,
    "metrics-line": fuzzMetricsLines,
    "events": fuzzEvents,
    "control": fuzzControlRequest,
    "spec": fuzzNetworkSpec,
    "image-cache": fuzzImageFolderCache,
]

/// Looked up once: libFuzzer calls the entry point millions of times.
let selectedTarget: (Data) -> Void = {
    let name = ProcessInfo.processInfo.environment["CNNTUI_FUZZ_TARGET"] ?? ""
    guard let target = fuzzTargets[name] else {
        let known = fuzzTargets.keys.sorted().joined(separator: ", ")
        FileHandle.standardError.write(Data("set CNNTUI_FUZZ_TARGET to one of: \(known)\n".utf8))
        exit(2)
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    selectedTarget(Data(bytes: bytes, count: size))
    return 0
}

/// A scratch file for readers that take a path (gzip goes through zlib's gzopen), rewritten for each input.
/// In the process's own directory, so two fuzzers never share it. `scripts/fuzz` gives it one in
/// CNNTUI_FUZZ_SCRATCH and removes it after the run: a crashed fuzzer never reaches `atexit`.
let scratchDirectory: URL = {
    let environment = ProcessInfo.processInfo.environment
    let base = environment["CNNTUI_FUZZ_SCRATCH"]
        ?? (FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory())
    let url = URL(fileURLWithPath: base).appendingPathComponent("cnntui-fuzz-\(getpid())")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(atPath: scratchDirectory.path) }
    return url
}()

func scratchFile(_ name: String, holding data: Data) -> String {
    let url = scratchDirectory.appendingPathComponent(name)
    try? data.write(to: url)
    return url.path
}
