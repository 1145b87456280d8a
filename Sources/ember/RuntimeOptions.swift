// The options that size a model's run, shared by the commands that generate (`run`, `chat`,
// `serve`): context, KV cache element type and threads.

import ArgumentParser
import EmberModel

struct RuntimeOptions: ParsableArguments {
    @Option(name: .customShort("c"), help: "Context size in tokens, per sequence (default: the model's, at most 4096).")
    var context: Int?

    @Option(name: .customLong("cache-type"), help: "KV cache element type: f16 or f32.")
    var cacheType = CacheType.f16

    @Option(name: .customShort("t"), help: "Threads (default: one per core).")
    var threads: Int?

    func validate() throws {
        if let context, context < 1 { throw ValidationError("-c must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("-t must be at least 1") }
    }

    /// The context size for `model`.
    func contextLength(for model: LanguageModel) -> Int { context ?? min(model.trainedContextLength, 4096) }
}

extension CacheType: ExpressibleByArgument {}
