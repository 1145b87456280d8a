// One forward step's inputs, as a backend receives them once per step (`Backend.beginStep`): the
// token ids of every sequence side by side, and per sequence its rows, the position of its first new
// row (its cache's length) and whether it wants logits for its last row. Every operation of the step
// then works on these rows. The caller keeps one value and refills it every step, so no step allocates.

public struct StepInputs: Sendable {
    public struct Sequence: Sendable, Equatable {
        /// Rows of `tokens` that belong to this sequence.
        public let rows: Range<Int>
        /// The position of its first row: how many positions its cache held before the step.
        public let start: Int
        public let wantsLogits: Bool
    }

    public private(set) var tokens: [Int32] = []
    public private(set) var sequences: [Sequence] = []
    /// The last row of each sequence that wants logits, in sequence order: the rows of the step's logits.
    public private(set) var logitRows: [Int] = []

    public init() {}

    public var rowCount: Int { tokens.count }
    public var isEmpty: Bool { tokens.isEmpty }

    /// Empties the step, keeping its storage.
    public mutating func removeAll() {
        tokens.removeAll(keepingCapacity: true)
        sequences.removeAll(keepingCapacity: true)
        logitRows.removeAll(keepingCapacity: true)
    }

    /// Adds a sequence's `newTokens` at positions `start ...`.
    public mutating func append<Tokens: Collection<Int32>>(_ newTokens: Tokens, start: Int, wantsLogits: Bool) {
        let first = tokens.count
        tokens.append(contentsOf: newTokens)
        sequences.append(Sequence(rows: first ..< tokens.count, start: start, wantsLogits: wantsLogits))
        if wantsLogits && tokens.count > first { logitRows.append(tokens.count - 1) }
    }
}
