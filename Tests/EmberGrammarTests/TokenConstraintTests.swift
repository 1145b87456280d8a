// Token masks over a vocabulary: the trie walk gives exactly the tokens that one-by-one checks allow,
// in every state of a generation, with multi-byte characters split across tokens, control tokens
// never allowed and end-of-generation only where the text is complete.

import EmberGrammar
import Testing

struct TokenConstraintTests {
    /// Pieces of a small vocabulary: single characters, words, JSON pieces, halves of "é" and "😀",
    /// a control token (empty) and an end-of-generation token (index 1).
    static let pieces: [[UInt8]] = {
        var pieces: [[UInt8]] = [[], []]
        for text in ["{", "}", "[", "]", ",", ":", " ", "\n", "\"", "\":", "\",", "a", "b", "ab", "name", "\"name", "true", "false", "null",
                     "1", "12", "-", ".", "5", "e", "x", "é", "😀", "\"}", "{\"", "  ", "\\", "\\n", "ok"] {
            pieces.append(Array(text.utf8))
        }
        pieces += [[0xC3], [0xA9], [0xF0, 0x9F], [0x98, 0x80], [0xFF]]
        return pieces
    }()

    static func vocabulary() -> GrammarVocabulary { GrammarVocabulary(pieces: pieces, endsGeneration: { $0 == 1 }) }

    static func allowed(_ mask: [UInt64]) -> [Int32] {
        (0 ..< Int32(pieces.count)).filter { mask[Int($0) / 64] >> (UInt64($0) % 64) & 1 == 1 }
    }

    @Test func masksEqualOneByOneChecksAlongAGeneration() throws {
        let grammar = try JSONSchemaGrammar.grammar(schema: #"{"type":"object","properties":{"name":{"type":"string"},"ok":{"type":"boolean"}},"required":["name"]}"#)
        let constraint = TokenConstraint(grammar: grammar, vocabulary: Self.vocabulary())
        // {"name":"é😀 split across tokens", then the end.
        let text: [[UInt8]] = [Array("{\"".utf8), Array("name".utf8), Array("\":".utf8), Array("\"".utf8), [0xC3], [0xA9], [0xF0, 0x9F],
                               [0x98, 0x80], Array("ab".utf8), Array("\"}".utf8)]
        for piece in text {
            let mask = constraint.mask()
            let oneByOne = (0 ..< Int32(Self.pieces.count)).filter { constraint.allows($0) }
            #expect(Self.allowed(mask) == oneByOne)
            #expect(!oneByOne.contains(0), "the control token is never allowed")
            #expect(!oneByOne.contains(1), "no end before the object closes")
            let token = Int32(Self.pieces.firstIndex(of: piece)!)
            #expect(oneByOne.contains(token), "\(piece) should be allowed")
            constraint.accept(token)
        }
        #expect(constraint.isComplete)
        #expect(constraint.allows(1), "the end may come once the object is whole")
        #expect(Self.allowed(constraint.mask()).contains(1))
    }

    @Test func theMaskOfAStateIsRemembered() throws {
        let grammar = try JSONSchemaGrammar.grammar(schema: #"{"type":"string"}"#)
        let constraint = TokenConstraint(grammar: grammar, vocabulary: Self.vocabulary())
        constraint.accept(Int32(Self.pieces.firstIndex(of: Array("\"".utf8))!))
        let first = constraint.mask()
        constraint.accept(Int32(Self.pieces.firstIndex(of: Array("ab".utf8))!))
        #expect(constraint.mask() == first, "inside a string, every position allows the same tokens")
        #expect(Self.allowed(first).contains(Int32(Self.pieces.firstIndex(of: Array("\"}".utf8))!)) == false,
                "a string's close followed by '}' does not fit a lone string")
    }
}
