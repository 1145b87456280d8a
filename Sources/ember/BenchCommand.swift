// `ember bench`: llama-bench for Ember. For each model, thread count, depth and size: prompt processing
// (`ppN`) and generation (`tgN`, greedy and with a sampler chain) tokens/s as mean ± stddev over the
// repetitions, time to first token of a 32-token prompt; per model the load time of a cold and a warm
// start in fresh processes; and the peak RSS. A markdown table, or with --json one object for tools.

import ArgumentParser
import EmberCompute
import EmberEngine
import EmberFormats
import EmberModel
import EmberStore
import EmberTrace
import Foundation

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure prompt processing, generation, time to first token, load time and memory.")

    @Option(name: .customShort("m"), help: ArgumentHelp(modelHelp + " Repeatable."))
    var models: [String] = [ModelAliases.defaultModel]

    @Option(name: .customShort("p"), parsing: .unconditional, help: "Prompt sizes to process, comma-separated (0: no prompt test).",
            transform: { try BenchCommand.sizes($0, allowingZero: true).filter { $0 > 0 } })
    var promptSizes: [Int] = [512]

    @Option(name: .customShort("n"), parsing: .unconditional, help: "Token counts to generate, comma-separated (0: no generation test).",
            transform: { try BenchCommand.sizes($0, allowingZero: true).filter { $0 > 0 } })
    var generationSizes: [Int] = [128]

    @Option(name: .customShort("s"), parsing: .unconditional, help: "Sequences decoded together in the generation test, comma-separated (the server's --parallel).",
            transform: BenchCommand.sizes)
    var sequences: [Int] = [1]

    @Option(name: .customShort("d"), parsing: .unconditional, help: "Depths: tokens already in the KV cache when each test starts, comma-separated.",
            transform: { try BenchCommand.sizes($0, allowingZero: true) })
    var depths: [Int] = [0]

    @Option(name: .customLong("sampler"), help: ArgumentHelp(
        "How generation picks each token, comma-separated: greedy, default (temperature 0.8, top-k 40, top-p 0.95, min-p 0.05), "
            + "temp (temperature 0.8 alone, as OpenAI clients send).", valueName: "greedy,default,temp"),
            transform: BenchCommand.samplers)
    var samplers: [SamplingParameters] = [.greedy, SamplingParameters()]

    @Option(name: .customShort("t"), parsing: .unconditional, help: "Thread counts, comma-separated (default: the physical cores).",
            transform: BenchCommand.sizes)
    var threads: [Int] = [ThreadPool.defaultThreadCount]

    @Option(name: .customShort("r"), parsing: .unconditional, help: "Repetitions of each test, after one warm-up run.")
    var repetitions = 5

    @Option(name: .customLong("cache-type"), help: "KV cache element type: f16, f32 or q8_0.")
    var cacheType = CacheType.f16

    @Option(name: .customLong("quantize"), help: "Quantize a Hugging Face checkpoint's weights while loading: q8_0, q4_k, q4_0 or f16.")
    var quantize: TensorType?

    @Flag(help: "Print one JSON object instead of tables.")
    var json = false

    @OptionGroup var device: DeviceOptions
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var global: GlobalOptions

    static let ttftPromptTokens = 32

    static func sizes(_ text: String) throws -> [Int] { try sizes(text, allowingZero: false) }

    static func sizes(_ text: String, allowingZero: Bool) throws -> [Int] {
        let values = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? -1) > (allowingZero ? -1 : 0) }) else {
            throw ValidationError("expected \(allowingZero ? "non-negative" : "positive") numbers separated by commas, not \(text)")
        }
        return values.map { $0! }
    }

    static func samplers(_ text: String) throws -> [SamplingParameters] {
        try text.split(separator: ",", omittingEmptySubsequences: false).map { name in
            switch name.trimmingCharacters(in: .whitespaces) {
            case "greedy": return .greedy
            case "default": return SamplingParameters()
            case "temp":
                var temperatureOnly = SamplingParameters()
                (temperatureOnly.topK, temperatureOnly.topP, temperatureOnly.minP) = (0, 1, 0)
                return temperatureOnly
            default: throw ValidationError("--sampler takes greedy, default and temp, not \(name)")
            }
        }
    }

    func validate() throws {
        if repetitions < 1 { throw ValidationError("-r must be at least 1") }
    }

    func run() throws {
        try global.apply(command: "bench")
        let threadCounts = threads.map { RuntimeOptions.usableThreads($0, option: "-t") }
        var report = BenchReport()
        for reference in models {
            // Load times first, in fresh processes, before this one maps the file (a mapped file's
            // pages cannot be evicted for the cold start).
            let store = try storeOptions.store
            let path = try Blocking.run { () throws(StoreError) in try await store.pull(reference) }
            let checkpoint = FileManager.default.fileExists(atPath: path + "/config.json")
            if !checkpoint { _ = try GGUFFile(path: path) }  // a file that is not a model fails here, before the probes
            let cold = try LoadProbe.measure(path: path, cold: true, quantize: quantize)
            let warm = try LoadProbe.measure(path: path, cold: false, quantize: quantize)
            let loaded = try LoadedModel(reference: path, threads: threadCounts[0], store: store, device: device.computeDevice,
                                         quantize: quantize)
            let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
            var entry = BenchReport.Model(name: name, path: path, loadMillisecondsCold: cold, loadMillisecondsWarm: warm,
                                          description: ModelDescription(loaded.source))
            let context = depths.max()! + (promptSizes + generationSizes + [Self.ttftPromptTokens]).max()! + 1
            try checkContext(context, for: loaded)
            for threadCount in threadCounts {
                let model = threadCount == threadCounts[0] ? loaded.model
                    : try ModelLoader.load(loaded.source, backend: device.computeDevice.makeBackend(threads: threadCount))
                var benchmark = Benchmark(model: model, contextLength: context, sequences: sequences.max()!,
                                          repetitions: repetitions, cacheType: cacheType)
                let runs = benchmark.progress
                /// Runs one test with a heartbeat naming it and counting its runs.
                func test<T>(_ name: String, depth: Int, _ body: () throws -> T) throws -> T {
                    let what = "bench \(name)\(depth > 0 ? " at depth \(depth)" : ""), \(threadCount) threads"
                    return try Heartbeat.around(what, progress: { runs.describe("runs") }, body)
                }
                for depth in depths {
                    for size in promptSizes {
                        let result = try test("pp\(size)", depth: depth) { try benchmark.promptProcessing(size, depth: depth) }
                        entry.results.append(.init(threads: threadCount, result: result))
                    }
                    for size in generationSizes {
                        for count in sequences {
                            for sampling in samplers {
                                let result = try test("tg\(size)", depth: depth) {
                                    try benchmark.generation(size, sequences: count, depth: depth, sampling: sampling)
                                }
                                entry.results.append(.init(threads: threadCount, result: result))
                            }
                        }
                    }
                }
                let ttft = try benchmark.timeToFirstToken(promptTokens: Self.ttftPromptTokens)
                entry.timeToFirstToken.append(.init(threads: threadCount, result: ttft))
            }
            report.models.append(entry)
        }
        report.peakResidentMegabytes = Self.peakResidentMegabytes()
        FileHandle.standardOutput.write(Data((json ? try report.json() : report.markdown()).utf8))
    }

    /// Refuses a context (the deepest depth plus the largest test) beyond the one `loaded` was trained
    /// for, or one whose KV caches do not fit in memory: such a run would take hours or fail late.
    private func checkContext(_ context: Int, for loaded: LoadedModel) throws {
        let trained = loaded.model.trainedContextLength
        guard context <= trained else {
            throw CommandFailure("-p, -n and -d ask for a context of \(context) tokens (the deepest -d plus the largest test, "
                + "and 1), beyond the \(trained) tokens this model was trained on; use sizes whose sum stays within \(trained)")
        }
        try loaded.model.checkCache(cacheType)
        try loaded.checkFits(contextLength: context, slots: sequences.max()!, cacheType: cacheType)
    }

    /// The most memory this process has held resident, in MB (1e6 bytes).
    static func peakResidentMegabytes() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) * 1024 / 1e6  // ru_maxrss is in KiB on Linux
    }
}

/// What a GGUF file is, for the report: its dominant tensor type, size and parameter count.
struct ModelDescription {
    let type: String
    let bytes: Int
    let parameters: Int

    init(_ file: any ModelSource) {
        var bytesByType: [String: Int] = [:]
        var bytes = 0, parameters = 0
        for tensor in file.tensors {
            bytesByType["\(tensor.type)", default: 0] += tensor.byteCount
            bytes += tensor.byteCount
            parameters += tensor.elementCount
        }
        type = bytesByType.max { $0.value < $1.value }?.key ?? "?"
        self.bytes = bytes
        self.parameters = parameters
    }
}
