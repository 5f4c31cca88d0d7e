// swift-tools-version:6.0
// cnntui: train convolutional networks on the CPU and watch them learn in the terminal.
// One target per layer of the system; data flows Data -> Training <- Models <- Engine, then TUI/CLI.
// Every target lists each module it imports, not only the ones the others would drag in.
import PackageDescription

// The engine's own vector kernels (direct convolution) need fused multiply-add: at the default x86-64
// target Swift lowers SIMD `addingProduct` to a libm call per lane. Haswell (AVX2 + FMA, 2013) is the
// oldest x86 CPU the engine is built for; OpenBLAS still picks its own kernels at run time.
#if arch(x86_64)
let engineSettings: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
#else
let engineSettings: [SwiftSetting] = []
#endif

let package = Package(
    name: "cnntui",
    platforms: [.macOS(.v14)],
    products: [.executable(name: "cnntui", targets: ["cnntui"])],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
    ],
    targets: [
        // C libraries, each behind a small shim header.
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CNcursesw", providers: [.apt(["libncursesw5-dev"])]),
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CPNG", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", providers: [.apt(["libjpeg62-turbo-dev"])]),

        // Tensors, kernels, layers with forward and backward, optimizers, schedules, safetensors.
        .target(name: "Engine", dependencies: ["COpenBLAS"], swiftSettings: engineSettings),
        // The zoo: one file per family (a variant table and a builder), the registry, the summary.
        .target(name: "Models", dependencies: ["Engine"]),
        // Dataset readers, transforms, splits, the loader thread, downloads.
        .target(name: "Data", dependencies: ["CZlib", "CPNG", "CJPEG"]),
        // The engine thread, its command/event channel, recipes, evaluation, sessions and their exports.
        .target(name: "Training", dependencies: ["Engine", "Models", "Data", "CZlib"]),
        // Cell grid, widgets, screens, view model, and the one curses painter.
        .target(name: "TUI", dependencies: ["Training", "Data", "Models", "Engine", "CNcursesw"]),
        .executableTarget(
            name: "cnntui",
            dependencies: ["TUI", "Training", "Data", "Models", "Engine",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        // What more than one test target needs: running a test's layers on a thread of its own.
        .target(name: "TestThreads", path: "Tests/TestThreads"),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "TestThreads"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Engine", "TestThreads"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DataTests", dependencies: ["Data"]),
        // Golden/: exported files the export tests compare against (read by path, not bundled).
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Data", "Engine", "Models"], exclude: ["Golden"],
                    resources: [.copy("Fixtures")]),
        // Snapshots/: whole-screen text files the snapshot tests compare against (read by path, not bundled).
        .testTarget(name: "TUITests", dependencies: ["TUI", "Training", "Data"], exclude: ["Snapshots"]),
        // Runs the built binary; imports none of its modules.
        .testTarget(name: "CLITests", dependencies: ["cnntui"]),
    ]
)
