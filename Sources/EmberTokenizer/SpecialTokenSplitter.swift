// Splits text around the literal text of special tokens (control, user-defined, unknown), as llama.cpp's
// `tokenizer_st_partition` does: tokens are tried longest text first, each claiming its occurrences,
// leftmost first, in the text the longer ones left. Control and unknown tokens are matched only when
// special parsing is on; user-defined tokens always are.

struct SpecialTokenSplitter: Sendable {
    enum Fragment: Equatable {
        /// Plain text, as byte offsets into the input.
        case text(Range<Int>)
        case token(Int32)
    }

    private struct Candidate: Sendable {
        let id: Int32
        let text: [UInt8]
        let needsParseSpecial: Bool
    }

    private let candidates: [Candidate]

    init(vocabulary: Vocabulary) {
        let tokenAttributes: TokenAttributes = [.control, .userDefined, .unknown]
        candidates = vocabulary.attributes.indices
            .filter { !vocabulary.attributes[$0].isDisjoint(with: tokenAttributes) }
            .map { Candidate(id: Int32($0), text: Array(vocabulary.tokens[$0].utf8),
                             needsParseSpecial: !vocabulary.attributes[$0].isDisjoint(with: .special)) }
            // llama.cpp sorts by length only (unstable); ties keep id order here.
            .sorted { $0.text.count > $1.text.count || ($0.text.count == $1.text.count && $0.id < $1.id) }
    }

    func split(_ text: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [Fragment] {
        guard !text.isEmpty else { return [] }
        var fragments: [Fragment] = [.text(0..<text.count)]
        var next: [Fragment] = []
        for candidate in candidates where parseSpecial || !candidate.needsParseSpecial {
            next.removeAll(keepingCapacity: true)
            var found = false
            for fragment in fragments {
                guard case let .text(range) = fragment else {
                    next.append(fragment)
                    continue
                }
                var start = range.lowerBound
                while let match = Self.find(candidate.text, in: text, from: start, to: range.upperBound) {
                    found = true
                    if match > start { next.append(.text(start..<match)) }
                    next.append(.token(candidate.id))
                    start = match + candidate.text.count
                }
                if start < range.upperBound { next.append(.text(start..<range.upperBound)) }
            }
            if found { swap(&fragments, &next) }
        }
        return fragments
    }

    /// The offset of the first occurrence of `needle` in `text[from..<to]`.
    private static func find(_ needle: [UInt8], in text: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Int? {
        guard let first = needle.first, to - from >= needle.count else { return nil }
        let last = to - needle.count
        var position = from
        while position <= last {
            if text[position] == first && zip(needle.indices, position...).allSatisfy({ needle[$0] == text[$1] }) {
                return position
            }
            position += 1
        }
        return nil
    }
}
