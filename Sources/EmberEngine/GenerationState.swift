// The per-sequence side of generation, apart from the forward pass: sampling the next token, ending on
// end-of-generation tokens, stop strings and the token budget, and turning tokens into text that is
// safe to show (whole UTF-8 characters, no part of a stop string). The single-sequence `Generator` and
// the batching scheduler both drive their sequences through it.

import EmberCompute
import EmberGrammar
import EmberTokenizer
import EmberTrace

public final class GenerationState {
    public let parameters: GenerationParameters
    let tokenizer: Tokenizer
    let sampler: Sampler
    /// The grammar the output follows, with where it stands (nil: free text).
    let constraint: TokenConstraint?
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
        constraint = parameters.grammar.map { TokenConstraint(grammar: $0, vocabulary: GrammarVocabularies.vocabulary(for: tokenizer)) }
        detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        stopMatcher = StopMatcher(stops: parameters.stopStrings)
        history = prompt
        history.reserveCapacity(prompt.count + (parameters.maxTokens ?? 256))
    }

    public var isFinished: Bool { stopReason != nil }

    /// Whether the next token needs no logits on the host: greedy with nothing to adjust and no log
    /// probabilities to report, so the model's own greedy choice (`forwardGreedy`) is the token.
    public var takesGreedyTokens: Bool { sampler.choosesLargestLogit && parameters.logprobs == nil && constraint == nil }

    /// Samples the next token from `logits` (on `threads`, for a long row) and returns it with the
    /// text it makes visible. After an end of generation the token is nil: the sequence needs no
    /// further forward pass.
    public func accept(_ logits: UnsafeMutableBufferPointer<Float>, threads: ThreadPool?) -> (token: Int32?, text: String) {
        accept(token: choose(from: logits, threads: threads))
    }

    /// The next token from `logits` (the sampling alone, which sequences of one step may do on
    /// different threads; `accept(token:)` then takes it).
    /// Under a grammar, the token drawn is checked; when the grammar does not allow it, every token it
    /// does not allow is masked out of the row and the draw is made again (llama.cpp's order), so that
    /// the mask, remembered per grammar state, is computed only where needed.
    public func choose(from logits: UnsafeMutableBufferPointer<Float>, threads: ThreadPool?) -> Int32 {
        Trace.span("sample") {
            let token = sampler.sample(logits, recent: history, threads: threads)
            guard let constraint, !constraint.allows(token) else { return token }
            let mask = Trace.span("grammar_mask") { constraint.mask() }
            var allowed = 0
            for index in logits.indices {
                if mask[index / 64] >> (UInt64(index) % 64) & 1 == 0 { logits[index] = -.infinity } else { allowed += 1 }
            }
            // No token can continue the grammar (a grammar that needs text no token spells): the end.
            guard allowed > 0 else { return tokenizer.vocabulary.endOfGeneration.min() ?? token }
            return sampler.sample(logits, recent: history, threads: threads)
        }
    }

    /// Takes `token` as the next one and returns it with the text it makes visible, or nil after an
    /// end of generation.
    public func accept(token: Int32) -> (token: Int32?, text: String) {
        if !parameters.ignoresEndOfGeneration && tokenizer.isEndOfGeneration(token) {
            return (nil, finish(.endOfGeneration))
        }
        history.append(token)
        generated.append(token)
        constraint?.accept(token)
        var text = Trace.span("detokenize") { stopMatcher.append(detokenizer.append(token)) }
        if stopMatcher.matched != nil {
            stopReason = .stopString
            return (nil, text)
        }
        // A whole sentence of the grammar that allows nothing more: done, without another pass.
        if let constraint, !constraint.canContinue {
            text += finish(.endOfGeneration)
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
