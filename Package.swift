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
        .package(url: "https://github.com/swift-server/async-http-client", exact: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "3.12.3"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types", exact: "1.8.0"),
    ],
    targets: [
        .target(name: "EmberTrace", dependencies: [.product(name: "Logging", package: "swift-log")],
                swiftSettings: traceSettings),
        .target(name: "EmberFormats", dependencies: ["EmberTrace"]),
        .target(name: "CEmberKernels"),
        .target(name: "EmberCompute", dependencies: ["CEmberKernels", "EmberFormats", "EmberTrace"], swiftSettings: kernelSettings),
        // The GPU path on Vulkan compute: the runtime in C (the loader opened with dlopen, never
        // linked), the shaders' SPIR-V as C arrays (scripts/gen-shaders), the Swift layer above them.
        .target(name: "CEmberVulkan", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "CEmberShaders"),
        .target(name: "EmberVulkan", dependencies: ["CEmberShaders", "CEmberVulkan", "EmberCompute", "EmberFormats", "EmberTrace"]),
        // The Jinja template engine of chat templates: no dependencies.
        .target(name: "EmberJinja"),
        .target(name: "EmberTokenizer", dependencies: ["EmberFormats", "EmberJinja", "EmberTrace"]),
        // Grammars (GBNF, JSON schemas) and the token masks of constrained decoding: no dependencies.
        .target(name: "EmberGrammar"),
        .target(name: "EmberModel", dependencies: ["EmberCompute", "EmberFormats", "EmberTrace"]),
        // Hugging Face checkpoints (config.json, tokenizer.json, safetensors) read as GGUF-named models.
        .target(name: "EmberCheckpoint", dependencies: ["EmberFormats", "EmberGrammar", "EmberTrace"],
                // Its readers are internal; the tests reach them in the optimised build they run on.
                swiftSettings: [.unsafeFlags(["-enable-testing"])]),
        .target(name: "EmberEngine", dependencies: [
            "EmberCheckpoint", "EmberCompute", "EmberFormats", "EmberGrammar", "EmberJinja", "EmberModel", "EmberStore", "EmberTokenizer", "EmberTrace",
            "EmberVulkan", .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "EmberStore", dependencies: [
            "EmberFormats", "EmberTrace",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "EmberServer", dependencies: [
            "EmberEngine", "EmberFormats", "EmberGrammar", "EmberJinja", "EmberStore", "EmberTokenizer", "EmberTrace",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Logging", package: "swift-log"),
        ],
        // The chat page is compiled into the binary (PackageResources.chat_html).
        resources: [.embedInCode("Resources/chat.html")],
        // Its request readers are internal; the tests reach them in the optimised build they run on.
        swiftSettings: [.unsafeFlags(["-enable-testing"])]),
        .executableTarget(name: "ember", dependencies: [
            "EmberCheckpoint", "EmberCompute", "EmberEngine", "EmberFormats", "EmberGrammar", "EmberModel", "EmberServer", "EmberStore", "EmberTokenizer", "EmberTrace", "EmberVulkan",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "EmberTestSupport", dependencies: ["EmberFormats", "EmberVulkan"], path: "Tests/EmberTestSupport"),
        .target(name: "EmberAllocationCounter", path: "Tests/EmberAllocationCounter"),
        // A loopback HTTP file server with injectable faults, for the store's tests and its benchmark.
        .target(name: "EmberTestServer", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
        ], path: "Tests/EmberTestServer"),
        .executableTarget(name: "ember-test-server", dependencies: ["EmberTestServer"], path: "Tools/TestServer"),
        .executableTarget(name: "ember-sampler-bench", dependencies: ["EmberCompute", "EmberEngine", "EmberFormats", "EmberModel", "EmberStore"],
                          path: "Tools/SamplerBench"),
        .executableTarget(name: "ember-download-bench", dependencies: ["EmberStore", "EmberTestSupport", "EmberTrace"], path: "Tools/DownloadBench"),
        .testTarget(name: "EmberJinjaTests", dependencies: ["EmberJinja"]),
        .testTarget(name: "EmberGrammarTests", dependencies: ["EmberGrammar"]),
        .testTarget(name: "EmberServerTests", dependencies: ["EmberGrammar", "EmberJinja", "EmberServer", "EmberTokenizer"]),
        .testTarget(name: "EmberVulkanTests", dependencies: ["EmberCompute", "EmberFormats", "EmberTestSupport", "EmberVulkan"]),
        .testTarget(name: "EmberTraceTests", dependencies: ["EmberTrace", "EmberTestSupport"]),
        .testTarget(name: "EmberCheckpointTests", dependencies: ["EmberCheckpoint", "EmberFormats", "EmberModel", "EmberTokenizer",
                                                                "EmberCompute", "EmberTestSupport"]),
        .testTarget(name: "EmberFormatsTests", dependencies: ["EmberFormats", "EmberStore", "EmberTestSupport"]),
        .testTarget(name: "EmberComputeTests", dependencies: ["EmberCompute", "EmberFormats", "EmberTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "EmberTokenizerTests", dependencies: ["EmberFormats", "EmberJinja", "EmberTokenizer", "EmberStore", "EmberTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "EmberModelTests", dependencies: ["EmberCheckpoint", "EmberCompute", "EmberFormats", "EmberModel", "EmberTestSupport", "EmberTokenizer",
                                                           "EmberVulkan"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "EmberEngineTests", dependencies: ["EmberCheckpoint", "EmberCompute", "EmberEngine", "EmberFormats", "EmberModel", "EmberStore",
                                                             "EmberTokenizer", "EmberAllocationCounter", "EmberTestSupport", "EmberVulkan"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "EmberStoreTests", dependencies: [
            "EmberFormats", "EmberStore", "EmberTestServer", "EmberTestSupport",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .testTarget(name: "EmberCLITests", dependencies: ["EmberStore", "EmberTestSupport", "EmberTrace"]),
    ]
)
