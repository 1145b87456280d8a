// One forward step's input: the tokens of one or more sequences side by side (the scheduler's decode
// steps, then a chunk of a starting prompt). Each sequence appends its tokens to its own KV cache; the
// ones that ask for logits get a row of logits for their last token. The rows fall into segments that
// the backend multiplies together, each computed as it would be alone. The engine keeps one batch and
// refills it every step, so no step allocates.

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

    /// Rows multiplied together: a run of single-token sequences (`singleSteps`: each row computed
    /// exactly as alone), or the rows of one sequence's prompt chunk (computed as that chunk alone).
    public struct Segment: Equatable {
        public let rows: Range<Int>
        public let singleSteps: Bool
    }

    public private(set) var tokens: [Int32] = []
    public private(set) var sequences: [Sequence] = []
    public private(set) var segments: [Segment] = []

    public init() {}

    public var isEmpty: Bool { tokens.isEmpty }

    /// Empties the batch, keeping its storage.
    public mutating func removeAll() {
        tokens.removeAll(keepingCapacity: true)
        sequences.removeAll(keepingCapacity: true)
        segments.removeAll(keepingCapacity: true)
    }

    /// Adds `tokens` for the sequence whose state is `cache`.
    public mutating func append<Tokens: Collection<Int32>>(_ newTokens: Tokens, cache: KVCache, wantsLogits: Bool) {
        let start = tokens.count
        tokens.append(contentsOf: newTokens)
        sequences.append(Sequence(cache: cache, rows: start ..< tokens.count, wantsLogits: wantsLogits))
        let single = tokens.count - start == 1
        if single, let last = segments.last, last.singleSteps {
            segments[segments.count - 1] = Segment(rows: last.rows.lowerBound ..< tokens.count, singleSteps: true)
        } else {
            segments.append(Segment(rows: start ..< tokens.count, singleSteps: single))
        }
    }

    /// How many rows of logits a forward pass of this batch returns.
    public var logitRowCount: Int { sequences.reduce(0) { $0 + ($1.wantsLogits ? 1 : 0) } }
}
