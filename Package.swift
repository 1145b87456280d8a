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
        .target(name: "EmberFormats"),
        .target(name: "EmberCompute", dependencies: ["EmberFormats"], swiftSettings: kernelSettings),
        .target(name: "EmberTokenizer", dependencies: ["EmberFormats"]),
        .target(name: "EmberModel", dependencies: ["EmberCompute", "EmberFormats"]),
        .target(name: "EmberEngine", dependencies: ["EmberModel", "EmberTokenizer"]),
        .target(name: "EmberStore", dependencies: [
            "EmberFormats",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "ember", dependencies: [
            "EmberEngine", "EmberStore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "EmberTestSupport", dependencies: ["EmberFormats"], path: "Tests/EmberTestSupport"),
        .testTarget(name: "EmberFormatsTests", dependencies: ["EmberFormats", "EmberStore", "EmberTestSupport"]),
        .testTarget(name: "EmberComputeTests", dependencies: ["EmberCompute"], resources: [.copy("Fixtures")]),
        .testTarget(name: "EmberTokenizerTests", dependencies: ["EmberTokenizer", "EmberStore", "EmberTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "EmberModelTests", dependencies: ["EmberModel", "EmberTestSupport"]),
        .testTarget(name: "EmberEngineTests", dependencies: ["EmberEngine", "EmberStore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "EmberStoreTests", dependencies: ["EmberStore"]),
        .testTarget(name: "EmberCLITests"),
    ]
)
