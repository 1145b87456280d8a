// Grammar-constrained decoding over a model's vocabulary. `GrammarVocabulary` holds every token's
// bytes in a trie, built once per tokenizer; `TokenConstraint` follows one generation through its
// grammar: whether a token may come next, the mask of every token that may (a walk of the trie that
// advances the grammar once per shared prefix and drops a subtree as soon as its prefix fails),
// remembered per grammar state since structured output revisits the same states, and the state after
// each accepted token. An end-of-generation token may come only where the text is a whole sentence.

public final class GrammarVocabulary: Sendable {
    let pieces: [[UInt8]]
    let endsGeneration: [Bool]
    /// Trie nodes: per node its children (byte, node) and the tokens whose bytes end there.
    let children: [[(byte: UInt8, node: Int32)]]
    let tokensEnding: [[Int32]]

    /// `pieces[t]`: token t's bytes as text (empty for control tokens, which never match a grammar).
    public init(pieces: [[UInt8]], endsGeneration: (Int32) -> Bool) {
        self.pieces = pieces
        self.endsGeneration = pieces.indices.map { endsGeneration(Int32($0)) }
        var children: [[(byte: UInt8, node: Int32)]] = [[]], tokensEnding: [[Int32]] = [[]]
        for (token, piece) in pieces.enumerated() where !piece.isEmpty {
            var node = 0
            for byte in piece {
                if let child = children[node].first(where: { $0.byte == byte }) {
                    node = Int(child.node)
                } else {
                    children[node].append((byte, Int32(children.count)))
                    node = children.count
                    children.append([])
                    tokensEnding.append([])
                }
            }
            tokensEnding[node].append(Int32(token))
        }
        self.children = children
        self.tokensEnding = tokensEnding
    }

    public var count: Int { pieces.count }
}

public final class TokenConstraint {
    public let grammar: Grammar
    public let vocabulary: GrammarVocabulary
    public private(set) var state: GrammarState
    /// Masks already computed, by state (bit t of word t / 64: token t may come next).
    private var masks: [GrammarState: [UInt64]] = [:]
    private static let maskLimit = 512
    /// The stack sets the trie walks have met, numbered, and each one's successor by code point (-1:
    /// dead): inside a JSON string every character leads back to the same set, so a walk over the
    /// whole vocabulary advances the grammar only a few times.
    private var stackSets: [[[Int32]]] = []
    private var stackSetNumbers: [[[Int32]]: Int32] = [:]
    private var successors: [[UInt32: Int32]] = []
    private static let stackSetLimit = 1 << 16

    public init(grammar: Grammar, vocabulary: GrammarVocabulary) {
        self.grammar = grammar
        self.vocabulary = vocabulary
        state = grammar.initialState
    }

    /// Whether the text so far is a whole sentence of the grammar.
    public var isComplete: Bool { state.isComplete }
    /// Whether the grammar allows more text after what came so far.
    public var canContinue: Bool { state.canContinue }

    public func allows(_ token: Int32) -> Bool {
        if vocabulary.endsGeneration[Int(token)] { return state.isComplete }
        let piece = vocabulary.pieces[Int(token)]
        return !piece.isEmpty && !grammar.advance(state, by: piece).isDead
    }

    /// Takes `token` as the next one (which `allows` must have said may come).
    public func accept(_ token: Int32) {
        guard !vocabulary.endsGeneration[Int(token)] else { return }
        state = grammar.advance(state, by: vocabulary.pieces[Int(token)])
    }

    /// Bit t says whether token t may come next.
    public func mask() -> [UInt64] {
        if let known = masks[state] { return known }
        var mask = [UInt64](repeating: 0, count: (vocabulary.count + 63) / 64)
        if stackSets.count > Self.stackSetLimit {
            stackSets.removeAll()
            stackSetNumbers.removeAll()
            successors.removeAll()
        }
        visit(node: 0, stacks: number(state.stacks), pending: state.pending, into: &mask)
        if state.isComplete {
            for (token, ends) in vocabulary.endsGeneration.enumerated() where ends { mask[token / 64] |= 1 << (token % 64) }
        }
        if masks.count >= Self.maskLimit { masks.removeAll(keepingCapacity: true) }
        masks[state] = mask
        return mask
    }

    private func number(_ stacks: [[Int32]]) -> Int32 {
        if let known = stackSetNumbers[stacks] { return known }
        let number = Int32(stackSets.count)
        stackSets.append(stacks)
        stackSetNumbers[stacks] = number
        successors.append([:])
        return number
    }

    /// Stack set `stacks` after `scalar` (-1: dead), advanced once and remembered.
    private func successor(_ stacks: Int32, _ scalar: UInt32) -> Int32 {
        if let known = successors[Int(stacks)][scalar] { return known }
        let next = grammar.advance(stackSets[Int(stacks)], by: scalar)
        let number = next.isEmpty ? -1 : self.number(next)
        successors[Int(stacks)][scalar] = number
        return number
    }

    private func visit(node: Int, stacks: Int32, pending: [UInt8], into mask: inout [UInt64]) {
        for token in vocabulary.tokensEnding[node] where !vocabulary.endsGeneration[Int(token)] {
            mask[Int(token) / 64] |= 1 << (UInt64(token) % 64)
        }
        for (byte, child) in vocabulary.children[node] {
            if pending.isEmpty && byte < 0x80 {
                // ASCII, the common case, without building a byte sequence.
                let next = successor(stacks, UInt32(byte))
                if next >= 0 { visit(node: Int(child), stacks: next, pending: [], into: &mask) }
                continue
            }
            let bytes = pending + [byte]
            switch UTF8Prefix(bytes) {
            case .invalid: continue
            case let .complete(scalar):
                let next = successor(stacks, scalar)
                if next >= 0 { visit(node: Int(child), stacks: next, pending: [], into: &mask) }
            case let .partial(low, high):
                if grammar.accepts(stackSets[Int(stacks)], between: low, and: high) {
                    visit(node: Int(child), stacks: stacks, pending: bytes, into: &mask)
                }
            }
        }
    }
}
