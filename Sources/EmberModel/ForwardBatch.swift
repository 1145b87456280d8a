// One forward step's input: the tokens of one or more sequences side by side. Each sequence appends
// its tokens to its own KV cache; the ones that ask for logits get a row of logits for their last
// token. The engine keeps one batch and refills it every step, so no step allocates.

public struct ForwardBatch {
    public struct Sequence {
        public let cache: KVCache
        /// Rows of `tokens` that belong to this sequence.
        public let rows: Range<Int>
        public let wantsLogits: Bool

        public init(cache: KVCache, rows: Range<Int>, wantsLogits: Bool) {
            self.cache = cache
            self.rows = rows
            self.wantsLogits = wantsLogits
        }
    }

    public private(set) var tokens: [Int32] = []
    public private(set) var sequences: [Sequence] = []

    public init() {}

    public var isEmpty: Bool { tokens.isEmpty }

    /// Empties the batch, keeping its storage.
    public mutating func removeAll() {
        tokens.removeAll(keepingCapacity: true)
        sequences.removeAll(keepingCapacity: true)
    }

    /// Adds `tokens` for the sequence whose state is `cache`.
    public mutating func append<Tokens: Collection<Int32>>(_ newTokens: Tokens, cache: KVCache, wantsLogits: Bool) {
        let start = tokens.count
        tokens.append(contentsOf: newTokens)
        sequences.append(Sequence(cache: cache, rows: start ..< tokens.count, wantsLogits: wantsLogits))
    }

    /// Whether every sequence has one token: decode steps, each computed as it would be alone.
    public var isSingleSteps: Bool { sequences.allSatisfy { $0.rows.count == 1 } }

    /// How many rows of logits a forward pass of this batch returns.
    public var logitRowCount: Int { sequences.reduce(0) { $0 + ($1.wantsLogits ? 1 : 0) } }
}
