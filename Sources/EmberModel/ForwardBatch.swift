// One forward step's input: the tokens of one or more sequences side by side (the scheduler's decode
// steps, then a chunk of a starting prompt), as the backend's `StepInputs`, and each sequence's KV
// cache. Each sequence appends its tokens to its own cache; the ones that ask for logits get a row of
// logits for their last token; drafted tokens to check go in as single-token steps of one cache.
// The engine keeps one batch and refills it every step, so no step allocates.

import EmberCompute

public struct ForwardBatch {
    /// What the backend receives once per step: the tokens, each sequence's rows and position, the
    /// rows that want logits.
    public private(set) var step = StepInputs()
    /// Each sequence's cache, in the order of `step.sequences`.
    public private(set) var caches: [KVCache] = []

    public init() {}

    public var tokens: [Int32] { step.tokens }
    public var isEmpty: Bool { step.isEmpty }
    /// How many rows of logits a forward pass of this batch returns.
    public var logitRowCount: Int { step.logitRows.count }

    /// Empties the batch, keeping its storage.
    public mutating func removeAll() {
        step.removeAll()
        caches.removeAll(keepingCapacity: true)
    }

    /// Adds `tokens` for the sequence whose state is `cache`, at the positions after what it holds.
    public mutating func append<Tokens: Collection<Int32>>(_ newTokens: Tokens, cache: KVCache, wantsLogits: Bool) {
        step.append(newTokens, start: cache.length, wantsLogits: wantsLogits)
        caches.append(cache)
    }

    /// Adds `tokens` for the sequence of `cache` as consecutive single-token steps, each with its
    /// logits and each computed exactly as it would be alone (the rows that check drafted tokens):
    /// every step of the batch stores its keys and values before any attends, so each sees the ones
    /// before it.
    public mutating func appendSteps<Tokens: Collection<Int32>>(_ newTokens: Tokens, cache: KVCache) {
        for (offset, token) in newTokens.enumerated() {
            step.append(CollectionOfOne(token), start: cache.length + offset, wantsLogits: true)
            caches.append(cache)
        }
    }
}
