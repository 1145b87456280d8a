// Where a matcher stands in a grammar: every way the text so far can continue, as a set of stacks
// (llama.cpp's pushdown form). A stack's top is the character set the next code point must match;
// the entries below are where each enclosing rule resumes once the one above it ends. An empty stack
// means the text so far is a whole sentence of the grammar; no stack at all, that it cannot be one.
// Bytes of a code point split across tokens wait in `pending`.

public struct GrammarState: Hashable, Sendable {
    /// Sorted, without repeats.
    var stacks: [[Int32]]
    /// The leading bytes of a code point not yet complete.
    var pending: [UInt8] = []

    /// Whether the text so far cannot continue into a sentence of the grammar.
    public var isDead: Bool { stacks.isEmpty }
    /// Whether the text so far is a whole sentence (and may end here).
    public var isComplete: Bool { pending.isEmpty && stacks.contains { $0.isEmpty } }
    /// Whether more text may follow.
    public var canContinue: Bool { stacks.contains { !$0.isEmpty } }
}

extension Grammar {
    /// The state before any text.
    public var initialState: GrammarState {
        var stacks: [[Int32]] = []
        for start in alternatives[root] { expand([Int32(start)], into: &stacks) }
        return GrammarState(stacks: Self.normalized(stacks))
    }

    /// The state after `scalar`.
    func advance(_ stacks: [[Int32]], by scalar: UInt32) -> [[Int32]] {
        var next: [[Int32]] = []
        for stack in stacks {
            guard let top = stack.last, case let .characters(set) = elements[Int(top)], set.contains(scalar) else { continue }
            var moved = stack
            moved[moved.count - 1] = top + 1
            expand(moved, into: &next)
        }
        return Self.normalized(next)
    }

    /// Whether some stack's next character set has a code point in `low ... high` (the code points a
    /// partial UTF-8 sequence can still become).
    func accepts(_ stacks: [[Int32]], between low: UInt32, and high: UInt32) -> Bool {
        stacks.contains { stack in
            guard let top = stack.last, case let .characters(set) = elements[Int(top)] else { return false }
            return set.intersects(low, high)
        }
    }

    /// The state after `bytes` of UTF-8 (which may end inside a code point); dead when they do not
    /// fit the grammar or are not UTF-8.
    public func advance(_ state: GrammarState, by bytes: some Sequence<UInt8>) -> GrammarState {
        var state = state
        for byte in bytes {
            state.pending.append(byte)
            switch UTF8Prefix(state.pending) {
            case .invalid: return GrammarState(stacks: [])
            case let .complete(scalar):
                state.stacks = advance(state.stacks, by: scalar)
                state.pending.removeAll()
            case let .partial(low, high):
                guard accepts(state.stacks, between: low, and: high) else { return GrammarState(stacks: []) }
            }
            if state.stacks.isEmpty { return state }
        }
        return state
    }

    /// Adds to `out` every stack `stack` can become with a character set on top (or empty): rules on
    /// top are replaced by their alternatives, ended alternatives popped.
    func expand(_ stack: [Int32], into out: inout [[Int32]]) {
        var work = [stack]
        while var stack = work.popLast() {
            guard let top = stack.last else {
                out.append(stack)
                continue
            }
            switch elements[Int(top)] {
            case .end:
                stack.removeLast()
                work.append(stack)
            case .characters:
                out.append(stack)
            case let .rule(rule):
                // Where this frame resumes, unless the rule is its last element (no growth for x*).
                stack.removeLast()
                if elements[Int(top) + 1] != .end { stack.append(top + 1) }
                for start in alternatives[rule] { work.append(stack + [Int32(start)]) }
            }
        }
    }

    static func normalized(_ stacks: [[Int32]]) -> [[Int32]] {
        var sorted = stacks.sorted { $0.lexicographicallyPrecedes($1) }
        var index = 1
        while index < sorted.count {
            if sorted[index] == sorted[index - 1] { sorted.remove(at: index) } else { index += 1 }
        }
        return sorted
    }
}

/// What the leading bytes of a UTF-8 sequence are.
enum UTF8Prefix {
    case complete(UInt32)
    /// More bytes to come; the code points they can still make.
    case partial(low: UInt32, high: UInt32)
    case invalid

    init(_ bytes: [UInt8]) {
        let lead = bytes[0]
        let length: Int, bits: UInt32
        switch lead {
        case 0x00 ..< 0x80: length = 1; bits = UInt32(lead)
        case 0xC2 ..< 0xE0: length = 2; bits = UInt32(lead & 0x1F)
        case 0xE0 ..< 0xF0: length = 3; bits = UInt32(lead & 0x0F)
        case 0xF0 ..< 0xF5: length = 4; bits = UInt32(lead & 0x07)
        default: self = .invalid; return
        }
        var value = bits
        for byte in bytes.dropFirst() {
            guard byte & 0xC0 == 0x80 else { self = .invalid; return }
            value = value << 6 | UInt32(byte & 0x3F)
        }
        // Overlong forms (E0 81 AF is not "o"), surrogates and code points past U+10FFFF are not UTF-8.
        let least: UInt32 = [0, 0, 0x80, 0x800, 0x10000][length]
        let missing = length - bytes.count
        let shift = UInt32(6 * missing)
        let low = max(value << shift, least), high = min(value << shift | (1 << shift - 1), 0x10FFFF)
        guard low <= high, !(low >= 0xD800 && high <= 0xDFFF) else {
            self = .invalid
            return
        }
        self = missing == 0 ? .complete(value) : .partial(low: low, high: high)
    }
}
