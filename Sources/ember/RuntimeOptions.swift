// The options that size a model's run, shared by the commands that generate (`run`, `chat`,
// `serve`): context, KV cache element type, threads, the device and a checkpoint's quantization; the engine checks that a run so
// sized fits the machine before anything is allocated.

import ArgumentParser
import EmberCompute
import EmberEngine
import EmberFormats
import EmberModel
import Foundation

struct RuntimeOptions: ParsableArguments {
    @Option(name: .customShort("c"), parsing: .unconditional, help: "Context size in tokens, per sequence (default: the model's, at most 4096).")
    var context: Int?

    @Option(name: .customLong("cache-type"), help: "KV cache element type: f16, f32 or q8_0 (about half of f16's memory).")
    var cacheType = CacheType.f16

    @Option(name: .customShort("t"), parsing: .unconditional, help: "Threads (default: one per core; at most the CPUs the process may use).")
    var threads: Int?

    @Option(name: .customLong("quantize"), help: "Quantize a Hugging Face checkpoint's weights while loading: q8_0, q4_k, q4_0 or f16.")
    var quantize: TensorType?

    @OptionGroup var device: DeviceOptions

    func validate() throws {
        if let context, context < 1 { throw ValidationError("-c must be at least 1, not \(context)") }
        if let threads, threads < 1 { throw ValidationError("-t must be at least 1, not \(threads)") }
    }

    /// The threads to run with: `-t`, clamped with a warning to the CPUs this process may use.
    var threadCount: Int? { threads.map { Self.usableThreads($0, option: "-t") } }

    /// `threads`, clamped with a warning naming `option` to the CPUs this process may use.
    static func usableThreads(_ threads: Int, option: String) -> Int {
        let usable = CPUTopology.usableCPUs()
        guard threads > usable else { return threads }
        warn("\(option) \(threads) is more than the \(usable) CPUs this process may use; using \(usable)")
        return usable
    }

    /// The context size for `loaded`: -c, or the model's default.
    func contextLength(for loaded: LoadedModel) -> Int { context ?? loaded.defaultContextLength }

    /// The context size for `loaded`, once `slots` KV caches of it, the activations and the weights
    /// are known to fit in the memory this process may use (else an error naming the numbers and the
    /// way out); a context beyond the trained one is warned about.
    func checkedContextLength(for loaded: LoadedModel, slots: Int = 1) throws -> Int {
        let contextLength = contextLength(for: loaded)
        try loaded.model.checkCache(cacheType)
        try loaded.checkFits(contextLength: contextLength, slots: slots, cacheType: cacheType)
        if let warning = loaded.contextWarning(contextLength) { Self.warn(warning) }
        return contextLength
    }

    static func warn(_ line: String) {
        FileHandle.standardError.write(Data("ember: \(line)\n".utf8))
    }
}

extension CacheType: ExpressibleByArgument {}

extension TensorType: ExpressibleByArgument {
    /// A type by the name ggml prints, in any case (`q8_0`, `Q4_K`, `f16`).
    public init?(argument: String) {
        guard let type = TensorType.allCases.first(where: { $0.description.lowercased() == argument.lowercased() }) else { return nil }
        self = type
    }
}
