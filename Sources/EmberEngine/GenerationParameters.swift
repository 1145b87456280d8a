// What one generation request asks for, how it ended, and what it cost.

import EmberGrammar

public struct GenerationParameters: Sendable {
    /// Most tokens to generate (-n); nil generates until an end token, a stop string or a full context.
    public var maxTokens: Int? = 256
    public var sampling = SamplingParameters()
    /// Generation ends at the first of these strings, which is not emitted.
    public var stopStrings: [String] = []
    /// Generate through end-of-generation tokens as if they were text (for benchmarks, as llama.cpp's
    /// --ignore-eos).
    public var ignoresEndOfGeneration = false
    /// Report each generated token's log-probability and this many most likely alternatives (nil: none).
    public var logprobs: Int? = nil
    /// The text generated must be a sentence of this grammar (structured output: a JSON schema or
    /// GBNF); generation ends when the grammar allows nothing more.
    public var grammar: Grammar? = nil

    public init(maxTokens: Int? = 256, sampling: SamplingParameters = SamplingParameters(), stopStrings: [String] = [],
                ignoresEndOfGeneration: Bool = false) {
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.stopStrings = stopStrings
        self.ignoresEndOfGeneration = ignoresEndOfGeneration
    }
}

public enum StopReason: String, Sendable, Equatable {
    /// The model produced an end-of-generation token (EOS, EOT, <|im_end|>...).
    case endOfGeneration
    case stopString
    case maxTokens
    case contextFull
    case cancelled
    /// The request's time limit passed.
    case timedOut
}

public struct GenerationStatistics: Sendable {
    /// Prompt tokens computed on this call.
    public var promptTokens = 0
    /// Prompt tokens whose keys and values the cache already held (earlier turns of a conversation).
    public var reusedPromptTokens = 0
    public var promptSeconds = 0.0
    public var generatedTokens = 0
    public var generationSeconds = 0.0
    public var stopReason = StopReason.maxTokens
    /// Tokens a drafter proposed (speculative decoding), and how many of them the model accepted.
    public var draftedTokens = 0
    public var acceptedDraftTokens = 0

    public var promptTokensPerSecond: Double { promptSeconds > 0 ? Double(promptTokens) / promptSeconds : 0 }
    /// Decode speed: tokens after the first (the first comes from the prompt pass) per second of decoding.
    public var generationTokensPerSecond: Double {
        generationSeconds > 0 ? Double(max(generatedTokens - 1, 0)) / generationSeconds : 0
    }
}
