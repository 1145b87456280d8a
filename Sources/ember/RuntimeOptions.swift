// The options that size a model's run, shared by the commands that generate (`run`, `chat`,
// `serve`): context, KV cache element type and threads; and the checks that a run so sized fits the
// machine before anything is allocated.

import ArgumentParser
import EmberCompute
import EmberEngine
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
        try Self.checkMemory(model: loaded.model, contextLength: contextLength, slots: slots, cacheType: cacheType,
                             weightBytes: loaded.file.file.count)
        if contextLength > loaded.model.trainedContextLength {
            Self.warn("-c \(contextLength) is beyond the \(loaded.model.trainedContextLength) tokens this model was trained on; "
                + "its \(loaded.model.positionEncoding) is applied as is past them, and output usually degrades there")
        }
        return contextLength
    }

    /// Throws `CommandFailure` unless `slots` KV caches of `contextLength` positions, the model's
    /// activations and its weights fit in the memory this process may use.
    static func checkMemory(model: LanguageModel, contextLength: Int, slots: Int, cacheType: CacheType, weightBytes: Int) throws {
        let perPosition = model.cacheBytesPerPosition(type: cacheType)
        let (positions, overflow) = contextLength.multipliedReportingOverflow(by: slots)
        let (cacheBytes, overflowBytes) = positions.multipliedReportingOverflow(by: perPosition)
        let usable = MemoryLimit.usableBytes(), fixed = weightBytes + model.activationBytes
        guard overflow || overflowBytes || cacheBytes > usable - fixed else { return }
        let fitting = max(0, (usable - fixed) / max(1, perPosition * slots))
        let slotText = slots > 1 ? " for each of \(slots) slots" : ""
        throw CommandFailure(
            "a context of \(contextLength) tokens\(slotText) needs \(overflow || overflowBytes ? "more than \(gigabytes(Int.max))" : gigabytes(cacheBytes)) "
                + "of KV cache (\(perPosition) bytes per position in \(cacheType.rawValue)), the weights \(gigabytes(weightBytes)) and the "
                + "activations \(gigabytes(model.activationBytes)), but this process may use \(gigabytes(usable)): use -c \(fitting) or less"
                + (slots > 1 ? ", fewer --parallel slots" : "") + (cacheType == .f32 ? ", or --cache-type f16" : ""))
    }

    static func gigabytes(_ bytes: Int) -> String { String(format: "%.1f GB", Double(bytes) / 1e9) }

    static func warn(_ line: String) {
        FileHandle.standardError.write(Data("ember: \(line)\n".utf8))
    }
}

extension CacheType: ExpressibleByArgument {}
