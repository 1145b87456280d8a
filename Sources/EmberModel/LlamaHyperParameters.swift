// Llama-family hyper-parameters read from GGUF metadata (`<arch>.embedding_length`, ...), with the
// defaults llama.cpp applies when a key is absent.

#if canImport(Glibc)
import Glibc
#endif
import EmberCompute
import EmberFormats

public struct LlamaHyperParameters: Sendable, Equatable {
    public enum RopeScaling: Sendable, Equatable {
        case none
        case linear(factor: Float)
        /// Llama 3.1's frequency-dependent scaling.
        case llama3(factor: Float, lowFrequencyFactor: Float, highFrequencyFactor: Float, originalContext: Int)
    }

    public var embeddingLength: Int
    public var blockCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDimension: Int
    public var feedForwardLength: Int
    public var contextLength: Int
    public var rmsEpsilon: Float
    public var ropeDimensions: Int
    public var ropeBase: Float
    public var ropeScaling: RopeScaling
    /// The context the RoPE was first trained for, before a long-context extension (LongRoPE's rule
    /// for its long and short factors); the trained context when the file does not say.
    public var originalContextLength: Int
    /// Multiplies RoPE's cosines and sines (LongRoPE's attention factor); 1 when absent.
    public var ropeAttentionFactor: Float
    public var vocabularySize: Int

    public init(metadata: GGUFMetadata, architecture: String, vocabularyFallback: Int) throws(ModelError) {
        self = try ModelError.decodingMetadata {
            try Self(reading: metadata, architecture: architecture, vocabularyFallback: vocabularyFallback)
        }
        try validate(architecture)
    }

    private init(reading metadata: GGUFMetadata, architecture: String, vocabularyFallback: Int) throws {
        let key = { (name: String) in "\(architecture).\(name)" }
        embeddingLength = try metadata.int(key("embedding_length"))
        blockCount = try metadata.int(key("block_count"))
        headCount = try metadata.int(key("attention.head_count"))
        kvHeadCount = try metadata.intIfPresent(key("attention.head_count_kv")) ?? headCount
        feedForwardLength = try metadata.int(key("feed_forward_length"))
        contextLength = try metadata.intIfPresent(key("context_length")) ?? 2048
        rmsEpsilon = try metadata.floatIfPresent(key("attention.layer_norm_rms_epsilon")) ?? 1e-5
        guard headCount > 0 else { throw ModelError.invalidHyperParameter(key: key("attention.head_count"), reason: "must be positive") }
        headDimension = try metadata.intIfPresent(key("attention.key_length")) ?? embeddingLength / headCount
        ropeDimensions = try metadata.intIfPresent(key("rope.dimension_count")) ?? headDimension
        ropeBase = try metadata.floatIfPresent(key("rope.freq_base")) ?? 10000
        vocabularySize = try metadata.intIfPresent(key("vocab_size")) ?? vocabularyFallback
        ropeScaling = try Self.ropeScaling(metadata, key: key)
        originalContextLength = try metadata.intIfPresent(key("rope.scaling.original_context_length")) ?? contextLength
        ropeAttentionFactor = try metadata.floatIfPresent(key("rope.scaling.attn_factor")) ?? 1
    }

    private static func ropeScaling(_ metadata: GGUFMetadata, key: (String) -> String) throws -> RopeScaling {
        let type = try metadata.stringIfPresent(key("rope.scaling.type")) ?? "none"
        let factor = try metadata.floatIfPresent(key("rope.scaling.factor"))
            ?? metadata.floatIfPresent(key("rope.scale_linear")) ?? 1
        switch type {
        case "none":
            return factor == 1 ? .none : .linear(factor: factor)
        case "linear":
            return .linear(factor: factor)
        case "llama3":
            return .llama3(factor: factor,
                           lowFrequencyFactor: try metadata.floatIfPresent(key("rope.scaling.low_freq_factor")) ?? 1,
                           highFrequencyFactor: try metadata.floatIfPresent(key("rope.scaling.high_freq_factor")) ?? 4,
                           originalContext: try metadata.intIfPresent(key("rope.scaling.original_context_length")) ?? 8192)
        default:
            throw ModelError.invalidHyperParameter(key: key("rope.scaling.type"), reason: "\"\(type)\" scaling is not supported (none, linear, llama3 are)")
        }
    }

    private func validate(_ architecture: String) throws(ModelError) {
        func check(_ ok: Bool, _ name: String, _ reason: String) throws(ModelError) {
            if !ok { throw .invalidHyperParameter(key: "\(architecture).\(name)", reason: reason) }
        }
        try check(embeddingLength > 0 && embeddingLength % 32 == 0, "embedding_length", "\(embeddingLength) is not a positive multiple of 32")
        try check(blockCount > 0, "block_count", "must be positive")
        try check(kvHeadCount > 0 && headCount % kvHeadCount == 0, "attention.head_count_kv", "\(kvHeadCount) does not divide the head count \(headCount)")
        try check(headDimension > 0 && headDimension % 8 == 0, "attention.key_length", "head dimension \(headDimension) is not a positive multiple of 8")
        try check(ropeDimensions > 0 && ropeDimensions <= headDimension && ropeDimensions % 2 == 0, "rope.dimension_count", "\(ropeDimensions) does not fit the head dimension \(headDimension)")
        try check(feedForwardLength > 0 && feedForwardLength % 32 == 0, "feed_forward_length", "\(feedForwardLength) is not a positive multiple of 32")
        try check(contextLength > 0, "context_length", "must be positive")
        try check(vocabularySize > 0, "vocab_size", "must be positive")
    }

    public var attentionShape: AttentionShape {
        AttentionShape(headCount: headCount, kvHeadCount: kvHeadCount, headDimension: headDimension)
    }

    /// Per-pair angle divisors of llama3 scaling (llama.cpp computes the same from these parameters
    /// when converting a Llama 3.1 checkpoint into the `rope_freqs.weight` tensor).
    public var llama3FrequencyFactors: [Float]? {
        guard case let .llama3(factor, low, high, original) = ropeScaling else { return nil }
        let lowWavelength = Float(original) / low, highWavelength = Float(original) / high
        return (0 ..< ropeDimensions / 2).map { pair in
            let frequency = 1 / Float(pow(Double(ropeBase), Double(2 * pair) / Double(ropeDimensions)))
            let wavelength = 2 * Float.pi / frequency
            if wavelength < highWavelength { return 1 }
            if wavelength > lowWavelength { return factor }
            let smooth = (Float(original) / wavelength - low) / (high - low)
            return 1 / ((1 - smooth) / factor + smooth)
        }
    }
}
