// The per-sequence side of generation, apart from the forward pass: sampling the next token, ending on
// end-of-generation tokens, stop strings and the token budget, and turning tokens into text that is
// safe to show (whole UTF-8 characters, no part of a stop string). The single-sequence `Generator` and
// the batching scheduler both drive their sequences through it.

import EmberCompute
import EmberTokenizer
import EmberTrace

public final class GenerationState {
    public let parameters: GenerationParameters
    let tokenizer: Tokenizer
    let sampler: Sampler
    private var detokenizer: StreamingDetokenizer
    private var stopMatcher: StopMatcher
    /// Prompt and generated tokens, for the repetition penalties.
    public private(set) var history: [Int32]
    public private(set) var generated: [Int32] = []
    public private(set) var stopReason: StopReason?

    public init(prompt: [Int32], parameters: GenerationParameters, tokenizer: Tokenizer, vocabularySize: Int) {
        self.parameters = parameters
        self.tokenizer = tokenizer
        sampler = Sampler(parameters: parameters.sampling, vocabularySize: vocabularySize)
        detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        stopMatcher = StopMatcher(stops: parameters.stopStrings)
        history = prompt
        history.reserveCapacity(prompt.count + (parameters.maxTokens ?? 256))
    }

    public var isFinished: Bool { stopReason != nil }

    /// Whether the next token needs no logits on the host: greedy with nothing to adjust and no log
    /// probabilities to report, so the model's own greedy choice (`forwardGreedy`) is the token.
    public var takesGreedyTokens: Bool { sampler.choosesLargestLogit && parameters.logprobs == nil }

    /// Samples the next token from `logits` (on `threads`, for a long row) and returns it with the
    /// text it makes visible. After an end of generation the token is nil: the sequence needs no
    /// further forward pass.
    public func accept(_ logits: UnsafeMutableBufferPointer<Float>, threads: ThreadPool?) -> (token: Int32?, text: String) {
        accept(token: choose(from: logits, threads: threads))
    }

    /// The next token from `logits` (the sampling alone, which sequences of one step may do on
    /// different threads; `accept(token:)` then takes it).
    public func choose(from logits: UnsafeMutableBufferPointer<Float>, threads: ThreadPool?) -> Int32 {
        Trace.span("sample") { sampler.sample(logits, recent: history, threads: threads) }
    }

    /// Takes `token` as the next one and returns it with the text it makes visible, or nil after an
    /// end of generation.
    public func accept(token: Int32) -> (token: Int32?, text: String) {
        if !parameters.ignoresEndOfGeneration && tokenizer.isEndOfGeneration(token) {
            return (nil, finish(.endOfGeneration))
        }
        history.append(token)
        generated.append(token)
        var text = Trace.span("detokenize") { stopMatcher.append(detokenizer.append(token)) }
        if stopMatcher.matched != nil {
            stopReason = .stopString
            return (nil, text)
        }
        if let limit = parameters.maxTokens, generated.count >= limit {
            text += finish(.maxTokens)
            return (nil, text)
        }
        return (token, text)
    }

    /// Ends the sequence for `reason` and returns the text still held back.
    public func finish(_ reason: StopReason) -> String {
        guard stopReason == nil else { return "" }
        stopReason = reason
        return stopMatcher.append(detokenizer.finish()) + stopMatcher.finish()
    }
}
