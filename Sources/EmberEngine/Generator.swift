// Generation of one sequence: the prompt goes through the model in chunks of up to `promptChunkTokens`
// (matrix x matrix), then one token per step until the sequence ends. Text is streamed to a callback
// as it becomes safe to show. With a drafter (speculative decoding), a step feeds the next token and
// the drafted ones after it, with logits for each row: each draft is checked against what the model
// chooses there (SpeculativeCheck), and the step gives the accepted drafts and one token more; the
// cache then drops the rejected drafts' rows.

import EmberModel
import EmberTokenizer
import EmberTrace

public final class Generator {
    public let model: LanguageModel
    public let tokenizer: Tokenizer
    public let cache: KVCache
    /// The tokens whose keys and values `cache` holds, in order.
    public private(set) var cachedTokens: [Int32] = []
    private var batch = ForwardBatch()
    /// Proposes tokens for each step to check (speculative decoding); nil: one token per step.
    public var drafter: TokenDrafter?
    private let checkpoint = Checkpoints(label: "ember.engine")
    /// Every this many generated tokens, a log checkpoint.
    static let checkpointInterval = 16

    /// `contextLength` sizes the KV cache (the -c option).
    public init(model: LanguageModel, tokenizer: Tokenizer, contextLength: Int, cacheType: CacheType = .f16) {
        self.model = model
        self.tokenizer = tokenizer
        cache = model.makeCache(capacity: contextLength, type: cacheType)
    }

    /// Generates from `prompt`, calling `onText` with each piece of visible text. `isCancelled` is
    /// polled once per token (Ctrl-C); a cancelled run ends cleanly with what it has. With
    /// `reusingCache`, the longest prefix of `prompt` that the cache already holds (from the previous
    /// call: a conversation's earlier turns) is not computed again; at least the last prompt token is,
    /// for its logits.
    public func generate(prompt: [Int32], parameters: GenerationParameters, reusingCache: Bool = false,
                         isCancelled: () -> Bool = { false }, prefillProgress: ProgressCounter? = nil,
                         onText: (String) -> Void) throws(EngineError) -> GenerationStatistics {
        guard !prompt.isEmpty else { throw .emptyPrompt }
        guard prompt.count < cache.capacity else { throw .promptTooLong(tokens: prompt.count, context: cache.capacity) }
        let shared = reusingCache ? min(zip(cachedTokens, prompt).prefix { $0 == $1 }.count, prompt.count - 1) : 0
        let kept = cache.truncate(to: shared)
        cachedTokens.removeSubrange(kept...)
        var statistics = GenerationStatistics()
        statistics.promptTokens = prompt.count - kept
        statistics.reusedPromptTokens = kept
        let state = GenerationState(prompt: prompt, parameters: parameters, tokenizer: tokenizer,
                                    vocabularySize: model.vocabularySize)

        let clock = ContinuousClock()
        let promptStart = clock.now
        checkpoint("prefill start", ["tokens": "\(prompt.count - kept)", "reused": "\(kept)"])
        let logits = try prefill(prompt[kept...], progress: prefillProgress)
        statistics.promptSeconds = (clock.now - promptStart).seconds
        checkpoint("prefill end", ["seconds": "\(statistics.promptSeconds)"])

        let decodeStart = clock.now
        var stepStart = decodeStart
        // Plain greedy decoding takes each token as the model chose it where the logits are.
        let greedy = state.takesGreedyTokens
        var next = NextToken.logits(logits)
        var draftLimit = DraftLimit(maximum: drafter?.draftLength ?? 0)
        decoding: while true {
            if isCancelled() {
                onText(state.finish(.cancelled))
                break
            }
            let (accepted, text) = switch next {
            case let .token(token): state.accept(token: token)
            case let .logits(row): state.accept(row, threads: model.backend.hostThreads)
            }
            onText(text)
            guard let token = accepted else { break }
            if cache.length >= cache.capacity {
                onText(state.finish(.contextFull))
                break
            }
            let index = state.generated.count
            // Drafts fit the cache and the token budget (the token after them comes from the step too).
            let room = min(cache.capacity - cache.length - 1, (parameters.maxTokens ?? .max) - index - 1)
            var drafted: [Int32] = []
            if let drafter, room > 0 { drafted = try drafter.draft(after: state.history, count: min(draftLimit.current, room)) }
            statistics.draftedTokens += drafted.count
            batch.removeAll()
            if drafted.isEmpty {
                batch.append(CollectionOfOne(token), cache: cache, wantsLogits: true)
            } else {
                batch.appendSteps(CollectionOfOne(token) + drafted, cache: cache)
            }
            let rows = try Trace.span("decode", args: ["index": .int(index), "drafted": .int(drafted.count)]) { () throws(EngineError) in
                do throws(ModelError) { return try StepRows.run(batch, on: model, greedy: greedy) } catch { throw .model(error) }
            }
            cachedTokens.append(token)
            var row = 0
            let following = SpeculativeCheck.walk(drafted, against: rows, state: state, threads: model.backend.hostThreads) { draft in
                let (goesOn, text) = state.accept(token: draft)
                onText(text)
                statistics.acceptedDraftTokens += 1
                guard goesOn != nil else { return false }
                cachedTokens.append(draft)
                row += 1
                return true
            }
            guard let following else {
                _ = cache.truncate(to: cachedTokens.count)
                break decoding
            }
            next = following
            if !drafted.isEmpty { draftLimit.record(drafted: drafted.count, accepted: row) }
            if cache.length > cachedTokens.count {
                let kept = cache.truncate(to: cachedTokens.count)
                precondition(kept == cachedTokens.count, "a verification step is never longer than the cache can rewind")
            }
            if Trace.isOn(.phase) {
                let now = clock.now
                Trace.counter("tokens/s", Double(row + 1) / (now - stepStart).seconds)
                Trace.counter("kv_cache_fill", Double(cache.length) / Double(cache.capacity))
                stepStart = now
            }
            if index % Self.checkpointInterval == 0 { checkpoint("decoded \(index) tokens") }
        }
        statistics.generationSeconds = (clock.now - decodeStart).seconds
        statistics.generatedTokens = state.generated.count
        statistics.stopReason = state.stopReason ?? .cancelled
        return statistics
    }

    /// Runs `tokens` through the model in chunks after what the cache holds, and returns the logits
    /// of the last one; `progress` hears how many are done after each chunk.
    public func prefill(_ tokens: ArraySlice<Int32>, progress: ProgressCounter? = nil) throws(EngineError) -> UnsafeMutableBufferPointer<Float> {
        let logits = try Trace.span("prefill", args: ["tokens": .int(tokens.count)]) { () throws(EngineError) in
            try model.prefill(tokens, cache: cache, batch: &batch, progress: progress)
        }
        cachedTokens += tokens
        return logits
    }
}

extension LanguageModel {
    /// Runs `tokens` into `cache` in chunks of at most `promptChunkTokens` (reusing `batch`) and returns
    /// the logits of the last token; `progress` hears how many tokens are done after each chunk.
    func prefill<Tokens: Collection<Int32>>(_ tokens: Tokens, cache: KVCache, batch: inout ForwardBatch,
                                            progress: ProgressCounter? = nil) throws(EngineError) -> UnsafeMutableBufferPointer<Float> {
        guard cache.length + tokens.count <= cache.capacity else {
            throw .promptTooLong(tokens: cache.length + tokens.count, context: cache.capacity)
        }
        progress?.start(total: tokens.count)
        defer { progress?.advance(to: tokens.count) }
        var start = tokens.startIndex
        while true {
            let end = tokens.index(start, offsetBy: promptChunkTokens, limitedBy: tokens.endIndex) ?? tokens.endIndex
            batch.removeAll()
            batch.append(tokens[start ..< end], cache: cache, wantsLogits: end == tokens.endIndex)
            let logits: UnsafeMutableBufferPointer<Float>
            do throws(ModelError) { logits = try forward(batch) } catch { throw .model(error) }
            if end == tokens.endIndex { return logits }
            progress?.advance(to: tokens.distance(from: tokens.startIndex, to: end))
            start = end
        }
    }
}
