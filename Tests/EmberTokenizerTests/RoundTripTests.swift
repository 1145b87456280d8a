// decode(encode(text)) gives the text back for every corpus string, and special tokens render only on request.

import EmberTokenizer
import Testing

@Suite struct RoundTripTests {
    @Test func byteLevelBPERoundTrips() throws {
        let tokenizer = try Fixtures.smolLM2Tokenizer()
        for text in try Fixtures.corpus() {
            #expect(tokenizer.decode(tokenizer.encode(text, parseSpecial: false)) == text, "\(text.debugDescription)")
            #expect(tokenizer.decode(tokenizer.encode(text, parseSpecial: true), renderSpecial: true) == text,
                    "\(text.debugDescription)")
        }
    }

    /// SentencePiece puts a space before every text that follows a special token, so strings with the
    /// user-defined `<sep>` (split out even without special parsing) do not come back verbatim.
    @Test func sentencePieceRoundTrips() throws {
        let tokenizer = try Fixtures.sentencePieceTokenizer()
        for text in try Fixtures.corpus() where !text.contains("<sep>") {
            #expect(tokenizer.decode(tokenizer.encode(text, parseSpecial: false)) == text, "\(text.debugDescription)")
            #expect(tokenizer.decode(tokenizer.encode(text, addSpecial: false, parseSpecial: false)) == text,
                    "\(text.debugDescription)")
        }
    }

    @Test func controlTokensRenderOnlyOnRequest() throws {
        let tokenizer = try Fixtures.smolLM2Tokenizer()
        let tokens = tokenizer.encode("<|im_start|>user\nhi<|im_end|>")
        #expect(tokens.first == 1)
        #expect(tokens.last == 2)
        #expect(tokenizer.decode(tokens) == "user\nhi")
        #expect(tokenizer.decode(tokens, renderSpecial: true) == "<|im_start|>user\nhi<|im_end|>")
        #expect(tokenizer.piece(2) == [])
        #expect(tokenizer.piece(2, renderSpecial: true) == Array("<|im_end|>".utf8))
    }

    @Test func specialTextIsPlainWithoutParsing() throws {
        let tokenizer = try Fixtures.smolLM2Tokenizer()
        let parsed = tokenizer.encode("<|im_end|>", parseSpecial: true)
        let plain = tokenizer.encode("<|im_end|>", parseSpecial: false)
        #expect(parsed == [2])
        #expect(plain.count > 1)
        #expect(!plain.contains(2))
        #expect(tokenizer.decode(plain) == "<|im_end|>")
    }

    @Test func sentencePieceSpellsUnknownCharactersInBytes() throws {
        let tokenizer = try Fixtures.sentencePieceTokenizer()
        let vocabulary = tokenizer.vocabulary
        let tokens = tokenizer.encode("🙂", addSpecial: false)
        // ▁ then the four bytes of U+1F642.
        let bytes = tokens.dropFirst().map { vocabulary.tokens[Int($0)] }
        #expect(bytes == ["<0xF0>", "<0x9F>", "<0x99>", "<0x82>"])
        #expect(tokenizer.decode(tokens) == "🙂")
    }

    @Test func outOfRangeIDsDecodeToNothing() throws {
        let tokenizer = try Fixtures.smolLM2Tokenizer()
        let hello = tokenizer.encode("Hello")
        #expect(tokenizer.decode([-1] + hello + [Int32(tokenizer.vocabulary.count)]) == "Hello")
    }
}
