// swift-tools-version:6.0
// Ember: a local LLM inference engine. Target layout follows ../shared/ARCHITECTURE.md:
// lower targets never import higher ones.
import PackageDescription

// Without a target CPU, Swift emits SSE2 only (no FMA, no F16C): the numeric kernels would run
// 10-100x slower. `haswell` (AVX2, FMA, F16C; the x86-64-v3 level) runs on every x86 machine of the
// last decade.
#if arch(x86_64)
let kernelSettings: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
#else
let kernelSettings: [SwiftSetting] = []
#endif

// `EMBER_NO_TRACE=1 swift build` compiles every trace call site away: the baseline against which the
// cost of tracing is measured (BENCHMARKS.md). Use a separate --scratch-path for it.
let traceSettings: [SwiftSetting] = Context.environment["EMBER_NO_TRACE"] == "1" ? [.define("EMBER_NO_TRACE")] : []

let package = Package(
    name: "Ember",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ember", targets: ["ember"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
    ],
    targets: [
        .target(name: "EmberTrace", dependencies: [.product(name: "Logging", package: "swift-log")],
                swiftSettings: traceSettings),
        .target(name: "EmberFormats", dependencies: ["EmberTrace"]),
        .target(name: "CEmberKernels"),
        .target(name: "EmberCompute", dependencies: ["CEmberKernels", "EmberFormats", "EmberTrace"], swiftSettings: kernelSettings),
        .target(name: "EmberTokenizer", dependencies: ["EmberFormats", "EmberTrace"]),
        .target(name: "EmberModel", dependencies: ["EmberCompute", "EmberFormats", "EmberTrace"]),
        .target(name: "EmberEngine", dependencies: [
            "EmberModel", "EmberTokenizer", "EmberTrace",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "EmberStore", dependencies: [
            "EmberFormats", "EmberTrace",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "ember", dependencies: [
            "EmberEngine", "EmberStore", "EmberTrace",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "EmberTestSupport", dependencies: ["EmberFormats"], path: "Tests/EmberTestSupport"),
        .target(name: "EmberAllocationCounter", path: "Tests/EmberAllocationCounter"),
        .testTarget(name: "EmberTraceTests", dependencies: ["EmberTrace", "EmberTestSupport"]),
        .testTarget(name: "EmberFormatsTests", dependencies: ["EmberFormats", "EmberStore", "EmberTestSupport"]),
        .testTarget(name: "EmberComputeTests", dependencies: ["EmberCompute"], resources: [.copy("Fixtures")]),
        .testTarget(name: "EmberTokenizerTests", dependencies: ["EmberTokenizer", "EmberStore", "EmberTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "EmberModelTests", dependencies: ["EmberModel", "EmberTestSupport"]),
        .testTarget(name: "EmberEngineTests", dependencies: ["EmberEngine", "EmberStore", "EmberAllocationCounter"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "EmberStoreTests", dependencies: ["EmberStore"]),
        .testTarget(name: "EmberCLITests", dependencies: ["EmberTestSupport"]),
    ]
)
