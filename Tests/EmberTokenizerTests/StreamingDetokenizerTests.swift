// The streaming detokenizer emits only whole characters, holds back a character split across tokens
// until it completes, and ends with exactly the text `decode` gives.

import EmberTokenizer
import Testing

@Suite struct StreamingDetokenizerTests {
    @Test func multiByteCharactersSplitAcrossTokensComeOutWhole() throws {
        let tokenizer = try Fixtures.smolLM2Tokenizer()
        let text = "Emoji 👨‍👩‍👧‍👦 and 🇫🇷, CJK 你好世界, accents cafe\u{301}."
        let tokens = tokenizer.encode(text)
        var streamer = StreamingDetokenizer(tokenizer: tokenizer)
        var chunks: [String] = []
        var heldBack = 0
        for token in tokens {
            let piece = tokenizer.piece(token)
            let chunk = streamer.append(token)
            if String(validating: piece, as: UTF8.self) == nil { heldBack += 1 }
            #expect(!chunk.unicodeScalars.contains("\u{FFFD}"), "\(token) gave a broken character")
            chunks.append(chunk)
        }
        chunks.append(streamer.finish())
        // Some of these characters really do span tokens.
        #expect(heldBack > 0)
        #expect(chunks.contains(""))
        #expect(chunks.joined() == text)
        #expect(chunks.joined() == tokenizer.decode(tokens))
    }

    @Test func streamingEqualsDecodeForTheCorpus() throws {
        for tokenizer in [try Fixtures.smolLM2Tokenizer(), try Fixtures.sentencePieceTokenizer()] {
            for text in try Fixtures.corpus() {
                let tokens = tokenizer.encode(text, parseSpecial: false)
                var streamer = StreamingDetokenizer(tokenizer: tokenizer, stripsLeadingSpace: true)
                var streamed = tokens.map { streamer.append($0) }.joined()
                streamed += streamer.finish()
                #expect(streamed == tokenizer.decode(tokens), "\(text.debugDescription)")
            }
        }
    }

    @Test func generatedTokensKeepTheirLeadingSpace() throws {
        let tokenizer = try Fixtures.sentencePieceTokenizer()
        let tokens = tokenizer.encode("Hello world", addSpecial: false)
        var streamer = StreamingDetokenizer(tokenizer: tokenizer)
        let text = tokens.map { streamer.append($0) }.joined() + streamer.finish()
        #expect(text == " Hello world")
    }

    /// Byte tokens can spell anything, including sequences that are not UTF-8.
    @Test func invalidSequencesBecomeReplacementCharacters() throws {
        let tokenizer = try Fixtures.sentencePieceTokenizer()
        func byte(_ hex: String) throws -> Int32 { try #require(tokenizer.vocabulary.id(of: "<0x\(hex)>")) }

        var streamer = StreamingDetokenizer(tokenizer: tokenizer)
        #expect(streamer.append(try byte("E4")) == "")
        #expect(streamer.append(try byte("BD")) == "")
        #expect(streamer.append(try byte("A0")) == "你")

        // A stray continuation byte and an impossible lead byte cannot wait for anything.
        #expect(streamer.append(try byte("80")) == "\u{FFFD}")
        #expect(streamer.append(try byte("FF")) == "\u{FFFD}")

        // A lead byte followed by something else: the broken start is replaced, the rest kept.
        #expect(streamer.append(try byte("E4")) == "")
        #expect(streamer.append(try byte("41")) == "\u{FFFD}A")

        // An unfinished character at the end.
        #expect(streamer.append(try byte("F0")) == "")
        #expect(streamer.append(try byte("9F")) == "")
        #expect(streamer.finish() == "\u{FFFD}")
        #expect(streamer.finish() == "")
    }

    /// E0 80 can never start a character (overlong), so it is not held back.
    @Test func impossibleSecondBytesAreNotHeldBack() throws {
        let tokenizer = try Fixtures.sentencePieceTokenizer()
        let e0 = try #require(tokenizer.vocabulary.id(of: "<0xE0>"))
        let x80 = try #require(tokenizer.vocabulary.id(of: "<0x80>"))
        var streamer = StreamingDetokenizer(tokenizer: tokenizer)
        #expect(streamer.append(e0) == "")
        #expect(streamer.append(x80) == "\u{FFFD}\u{FFFD}")
        #expect(streamer.finish() == "")
    }

    @Test func controlTokensStreamOnlyWhenRendered() throws {
        let tokenizer = try Fixtures.smolLM2Tokenizer()
        var quiet = StreamingDetokenizer(tokenizer: tokenizer)
        var loud = StreamingDetokenizer(tokenizer: tokenizer, renderSpecial: true)
        #expect(quiet.append(2) == "")
        #expect(loud.append(2) == "<|im_end|>")
    }
}
