// What the engine needs of any model, whatever its architecture, and the registry that builds the
// right one from a model's `general.architecture` (a GGUF file's, or a checkpoint's read as one).

import EmberCompute
import EmberFormats
import EmberTrace

public protocol LanguageModel: AnyObject, Sendable {
    var architecture: String { get }
    var vocabularySize: Int { get }
    /// Context length the model was trained for.
    var trainedContextLength: Int { get }
    /// How positions are encoded, in words, for the warning about contexts beyond the trained one
    /// (e.g. "RoPE base 10000 without scaling").
    var positionEncoding: String { get }
    /// Bytes of the activation buffers of one forward pass, allocated with the model.
    var activationBytes: Int { get }
    /// Most tokens of one prompt a forward pass takes: longer prompts are fed in chunks of this size.
    var promptChunkTokens: Int { get }
    /// Most tokens one forward pass takes: a prompt chunk and the decode steps of other sequences.
    var maxBatchTokens: Int { get }
    var backend: Backend { get }

    /// Throws unless this model on its backend can keep its KV cache in `type` (the block types need
    /// heads as wide as a multiple of 32, and a backend whose attention reads them).
    func checkCache(_ type: CacheType) throws(ModelError)
    /// A KV cache of `capacity` positions for one sequence.
    func makeCache(capacity: Int, type: CacheType) -> KVCache
    /// Bytes of keys and values each further position of such a cache costs (its layers that keep
    /// every position).
    func cacheBytesPerPosition(type: CacheType) -> Int
    /// Bytes of a cache of `capacity` positions (saturating at Int.max).
    func cacheBytes(capacity: Int, type: CacheType) -> Int
    /// Runs the batch, appends its tokens to each sequence's cache, and returns one row of
    /// `vocabularySize` logits per sequence that asked for them, in batch order. The rows are valid,
    /// and the caller's to change (the sampler adjusts them in place), until the next call.
    func forward(_ batch: ForwardBatch) throws(ModelError) -> UnsafeMutableBufferPointer<Float>
    /// Runs the batch as `forward` does, but returns each logit row's greedy token (its largest
    /// logit, the lowest on ties) instead of the row: chosen where the logits are, so that a GPU sends
    /// back only token ids. Valid until the next call.
    func forwardGreedy(_ batch: ForwardBatch) throws(ModelError) -> UnsafeBufferPointer<Int32>
}

extension LanguageModel {
    /// A KV cache in the default F16.
    public func makeCache(capacity: Int) -> KVCache { makeCache(capacity: capacity, type: .f16) }
}

public enum ModelLoader {
    public static let architectures = ["gemma3", "llama", "phi3", "qwen2", "qwen3"]

    /// Builds the model of `file` on `backend`. When the trace records ops, the model gets the backend
    /// wrapped in a `TracingBackend`.
    public static func load(_ file: any ModelSource, backend: Backend, promptChunkTokens: Int = 512) throws(ModelError) -> LanguageModel {
        let architecture: String
        do { architecture = try file.metadata.string("general.architecture") } catch { throw .metadata(error) }
        let backend = Trace.isOn(.op) ? TracingBackend(wrapping: backend) : backend
        return try Trace.span("load.weights", args: ["architecture": "\(architecture)", "tensors": .int(file.tensors.count)]) {
            () throws(ModelError) -> LanguageModel in
            switch architecture {
            case "llama": return try Llama(file: file, backend: backend, promptChunkTokens: promptChunkTokens, traits: .llama)
            case "qwen2": return try Llama(file: file, backend: backend, promptChunkTokens: promptChunkTokens, traits: .qwen2)
            case "qwen3": return try Llama(file: file, backend: backend, promptChunkTokens: promptChunkTokens, traits: .qwen3)
            case "phi3": return try Llama(file: file, backend: backend, promptChunkTokens: promptChunkTokens, traits: .phi3)
            case "gemma3": return try Gemma3(file: file, backend: backend, promptChunkTokens: promptChunkTokens)
            default: throw .unsupportedArchitecture(architecture)
            }
        }
    }
}
