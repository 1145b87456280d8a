// The options that size a model's run, shared by the commands that generate (`run`, `chat`,
// `serve`): context, KV cache element type and threads; and the checks that a run so sized fits the
// machine before anything is allocated.

import ArgumentParser
import EmberCompute
import EmberModel
import Foundation

struct RuntimeOptions: ParsableArguments {
    @Option(name: .customShort("c"), parsing: .unconditional, help: "Context size in tokens, per sequence (default: the model's, at most 4096).")
    var context: Int?

    @Option(name: .customLong("cache-type"), help: "KV cache element type: f16 or f32.")
    var cacheType = CacheType.f16

    @Option(name: .customShort("t"), parsing: .unconditional, help: "Threads (default: one per core; at most the CPUs the process may use).")
    var threads: Int?

    func validate() throws {
        if let context, context < 1 { throw ValidationError("-c must be at least 1, not \(context)") }
        if let threads, threads < 1 { throw ValidationError("-t must be at least 1, not \(threads)") }
    }

    /// The threads to run with: `-t`, clamped with a warning to the CPUs this process may use.
    var threadCount: Int? {
        guard let threads else { return nil }
        let usable = CPUTopology.usableCPUs()
        guard threads > usable else { return threads }
        FileHandle.standardError.write(Data("ember: -t \(threads) is more than the \(usable) CPUs this process may use; using \(usable)\n".utf8))
        return usable
    }

    /// The context size for `model`.
    func contextLength(for model: LanguageModel) -> Int { context ?? min(model.trainedContextLength, 4096) }

    /// The context size for `loaded`, once `slots` KV caches of it and the weights are known to fit in
    /// the memory this process may use; else an error naming the numbers and the way out.
    func checkedContextLength(for loaded: LoadedModel, slots: Int = 1) throws -> Int {
        let contextLength = contextLength(for: loaded.model)
        try checkMemory(model: loaded.model, contextLength: contextLength, slots: slots, weightBytes: loaded.file.file.count)
        return contextLength
    }

    private func checkMemory(model: LanguageModel, contextLength: Int, slots: Int, weightBytes: Int) throws {
        let perPosition = model.cacheBytesPerPosition(type: cacheType)
        let (positions, overflow) = contextLength.multipliedReportingOverflow(by: slots)
        let (cacheBytes, overflowBytes) = positions.multipliedReportingOverflow(by: perPosition)
        let usable = MemoryLimit.usableBytes()
        guard overflow || overflowBytes || cacheBytes > usable - weightBytes else { return }
        let fitting = max(0, (usable - weightBytes) / max(1, perPosition * slots))
        let slotText = slots > 1 ? " for each of \(slots) slots" : ""
        throw MemoryShortfall(description:
            "a context of \(contextLength) tokens\(slotText) needs \(overflow || overflowBytes ? "more than \(Self.gigabytes(Int.max))" : Self.gigabytes(cacheBytes)) "
                + "of KV cache (\(perPosition) bytes per position in \(cacheType.rawValue)), and the weights \(Self.gigabytes(weightBytes)), "
                + "but this process may use \(Self.gigabytes(usable)): use -c \(fitting) or less"
                + (slots > 1 ? ", fewer --parallel slots" : "") + (cacheType == .f32 ? ", or --cache-type f16" : ""))
    }

    static func gigabytes(_ bytes: Int) -> String { String(format: "%.1f GB", Double(bytes) / 1e9) }
}

/// A run sized beyond the memory this process may use (exit status 1, one line, no usage text).
struct MemoryShortfall: Error, CustomStringConvertible {
    let description: String
}

extension CacheType: ExpressibleByArgument {}
