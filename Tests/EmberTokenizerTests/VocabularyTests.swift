// The vocabulary as read from metadata: special ids, flags and end-of-generation tokens as llama.cpp
// derives them, and typed errors that name what is wrong with a broken tokenizer.

import EmberTokenizer
import Testing

@Suite struct VocabularyTests {
    @Test func smolLM2SpecialTokens() throws {
        let vocabulary = try Fixtures.smolLM2Tokenizer().vocabulary
        #expect(vocabulary.model == .bytePairEncoding)
        #expect(vocabulary.preTokenizerName == "smollm")
        #expect(vocabulary.preTokenizer == .smollm)
        #expect(vocabulary.count == 49152)
        #expect(vocabulary.merges.count == 48900)
        #expect(vocabulary.tokens[0] == "<|endoftext|>")
        #expect(vocabulary.tokens[1] == "<|im_start|>")
        #expect(vocabulary.tokens[2] == "<|im_end|>")
        #expect(vocabulary.types[1] == .control)
        #expect(vocabulary.types[100] == .normal)
        #expect(vocabulary.bos == 1)
        #expect(vocabulary.eos == 2)
        #expect(vocabulary.unknown == 0)
        #expect(vocabulary.padding == 2)
        #expect(!vocabulary.addBOS)
        #expect(!vocabulary.addEOS)
        #expect(!vocabulary.addSpacePrefix)
        #expect(vocabulary.id(of: "<|im_end|>") == 2)
        #expect(vocabulary.id(of: "Hello") != nil)
        #expect(vocabulary.id(of: "no such token text") == nil)
    }

    /// llama.cpp stops at <|endoftext|> and <|im_end|> (end markers by text, eos) and at <reponame>,
    /// which it takes for the fill-in-the-middle repository marker.
    @Test func smolLM2EndOfGeneration() throws {
        let tokenizer = try Fixtures.smolLM2Tokenizer()
        #expect(tokenizer.vocabulary.endOfGeneration == [0, 2, 4])
        #expect(tokenizer.isEndOfGeneration(2))
        #expect(tokenizer.isEndOfGeneration(0))
        #expect(!tokenizer.isEndOfGeneration(1))
        #expect(!tokenizer.isEndOfGeneration(tokenizer.encode("Hello", addSpecial: false)[0]))
        #expect(tokenizer.vocabulary.eot == 0)
    }

    @Test func preTokenizerOverride() throws {
        let tokenizer = try Fixtures.smolLM2Tokenizer(preTokenizer: "llama-bpe")
        #expect(tokenizer.vocabulary.preTokenizerName == "llama-bpe")
        #expect(tokenizer.vocabulary.preTokenizer == .llama3)
        // The file's add_bos_token=false beats the BOS that llama-bpe implies.
        #expect(!tokenizer.vocabulary.addBOS)
        #expect(try Fixtures.tinyBPETokenizer().vocabulary.addBOS)
    }

    @Test func sentencePieceDefaults() throws {
        let vocabulary = try Fixtures.sentencePieceTokenizer().vocabulary
        #expect(vocabulary.model == .sentencePiece)
        #expect(vocabulary.preTokenizer == nil)
        #expect(vocabulary.addBOS)
        #expect(vocabulary.addSpacePrefix)
        #expect(vocabulary.bos == 1)
        #expect(vocabulary.eos == 2)
        #expect(vocabulary.unknown == 0)
        #expect(vocabulary.types[0] == .unknown)
        #expect(vocabulary.types[1] == .control)
        #expect(vocabulary.id(of: "<0x0A>").map { vocabulary.types[Int($0)] } == .byte)
        #expect(vocabulary.id(of: "<sep>").map { vocabulary.types[Int($0)] } == .userDefined)
        #expect(vocabulary.endOfGeneration == [2])
    }

    @Test func endMarkersBecomeControlAndEndGeneration() throws {
        let tokens = ["<unk>", "<s>", "</s>", "<|eot_id|>", "<|im_end|>", "<|fim_pad|>", "hello"]
        let vocabulary = try Vocabulary(metadata: metadata([
            ("tokenizer.ggml.model", .string("llama")),
            ("tokenizer.ggml.tokens", .strings(tokens)),
            ("tokenizer.ggml.token_type", .int32s([2, 3, 3, 1, 1, 1, 1])),
        ]))
        #expect(vocabulary.eot == 3)
        #expect(vocabulary.endOfGeneration == [2, 3, 4, 5])
        #expect(vocabulary.attributes[3].contains(.control))
        #expect(vocabulary.attributes[4].contains(.control))
        #expect(vocabulary.attributes[5].contains(.control))
        #expect(vocabulary.attributes[6] == .normal)
    }

    @Test func missingTokensIsATypedError() throws {
        let error = #expect(throws: TokenizerError.self) {
            try Vocabulary(metadata: metadata([("tokenizer.ggml.model", .string("gpt2"))]))
        }
        #expect(error == .missingKey("tokenizer.ggml.tokens"))
        #expect(error?.description.contains("tokenizer.ggml.tokens") == true)
    }

    @Test func missingModelIsATypedError() throws {
        let error = #expect(throws: TokenizerError.self) {
            try Vocabulary(metadata: metadata([("tokenizer.ggml.tokens", .strings(["a"]))]))
        }
        #expect(error == .missingKey("tokenizer.ggml.model"))
    }

    @Test func unknownModelIsATypedError() throws {
        let error = #expect(throws: TokenizerError.self) {
            try Vocabulary(metadata: metadata([
                ("tokenizer.ggml.model", .string("t5")),
                ("tokenizer.ggml.tokens", .strings(["a", "b"])),
            ]))
        }
        #expect(error == .unsupportedModel("t5"))
        #expect(error?.description.contains("\"t5\"") == true)
    }

    @Test func unknownPreTokenizerIsATypedError() throws {
        let error = #expect(throws: TokenizerError.self) {
            try Fixtures.smolLM2Tokenizer(preTokenizer: "no-such-pre")
        }
        #expect(error == .unsupportedPreTokenizer("no-such-pre"))
    }

    @Test func byteLevelVocabularyWithoutMergesIsATypedError() throws {
        let error = #expect(throws: TokenizerError.self) {
            try Vocabulary(metadata: metadata([
                ("tokenizer.ggml.model", .string("gpt2")),
                ("tokenizer.ggml.tokens", .strings(["a", "b"])),
            ]))
        }
        #expect(error == .missingKey("tokenizer.ggml.merges"))
    }

    @Test func malformedArraysAreTypedErrors() throws {
        let wrongType = #expect(throws: TokenizerError.self) {
            try Vocabulary(metadata: metadata([
                ("tokenizer.ggml.model", .string("llama")),
                ("tokenizer.ggml.tokens", .floats([1, 2])),
            ]))
        }
        #expect(wrongType == .wrongType(key: "tokenizer.ggml.tokens", expected: "an array of strings"))

        let short = #expect(throws: TokenizerError.self) {
            try Vocabulary(metadata: metadata([
                ("tokenizer.ggml.model", .string("llama")),
                ("tokenizer.ggml.tokens", .strings(["a", "b", "c"])),
                ("tokenizer.ggml.scores", .floats([0, 0])),
            ]))
        }
        #expect(short == .arrayTooShort(key: "tokenizer.ggml.scores", count: 2, tokens: 3))

        let empty = #expect(throws: TokenizerError.self) {
            try Vocabulary(metadata: metadata([
                ("tokenizer.ggml.model", .string("llama")),
                ("tokenizer.ggml.tokens", .strings([])),
            ]))
        }
        #expect(empty == .emptyVocabulary)

        let wrongScalar = #expect(throws: TokenizerError.self) {
            try Vocabulary(metadata: metadata([
                ("tokenizer.ggml.model", .uint32(2)),
            ]))
        }
        #expect(wrongScalar == .wrongType(key: "tokenizer.ggml.model", expected: "a string"))
    }
}
