// EmberTokenizer against llama.cpp: the ids of every corpus string, with special parsing on and off,
// for SmolLM2's vocabulary and a small trained BPE vocabulary under each pre-tokenizer, and for a
// SentencePiece vocabulary.

import EmberTokenizer
import Testing

@Suite struct GoldenTests {
    @Test(arguments: ["smollm", "llama-bpe", "qwen2", "default", "gpt-2"])
    func byteLevelBPEMatchesLlamaCpp(preTokenizer: String) throws {
        let golden = try Fixtures.goldens(preTokenizer)
        let tokenizer = try Fixtures.smolLM2Tokenizer(preTokenizer: preTokenizer == "smollm" ? nil : preTokenizer)
        try #require(golden.cases.count >= 200)
        expectMatches(tokenizer, golden)
    }

    /// A vocabulary whose merges cross digit and punctuation boundaries, so every pre-tokenizer gives
    /// different ids (on SmolLM2's, which has no multi-digit tokens, llama3 and qwen2 agree).
    @Test(arguments: ["smollm", "llama-bpe", "qwen2", "default", "gpt-2"])
    func smallByteLevelBPEMatchesLlamaCpp(preTokenizer: String) throws {
        let golden = try Fixtures.goldens("tiny-\(preTokenizer)")
        let tokenizer = try Fixtures.tinyBPETokenizer(preTokenizer: preTokenizer == "llama-bpe" ? nil : preTokenizer)
        try #require(golden.cases.count >= 200)
        expectMatches(tokenizer, golden)
    }

    @Test func sentencePieceMatchesLlamaCpp() throws {
        let golden = try Fixtures.goldens("spm")
        let tokenizer = try Fixtures.sentencePieceTokenizer()
        try #require(golden.cases.count >= 200)
        expectMatches(tokenizer, golden)
    }

    @Test func goldensCoverTheWholeCorpus() throws {
        let corpus = try Fixtures.corpus()
        #expect(corpus.count >= 200)
        let names = ["smollm", "llama-bpe", "qwen2", "default", "gpt-2"]
        for name in names + names.map({ "tiny-\($0)" }) + ["spm"] {
            #expect(try Fixtures.goldens(name).cases.map(\.text) == corpus, "\(name)")
        }
    }

    private func expectMatches(_ tokenizer: Tokenizer, _ golden: GoldenFile) {
        #expect(tokenizer.vocabulary.count == golden.vocabularySize)
        #expect(tokenizer.vocabulary.bos == golden.bos)
        #expect(tokenizer.vocabulary.eos == golden.eos)
        #expect(tokenizer.vocabulary.addBOS == golden.addBOS)
        #expect(tokenizer.vocabulary.endOfGeneration.sorted() == golden.endOfGeneration)
        for item in golden.cases {
            #expect(tokenizer.encode(item.text, addSpecial: true, parseSpecial: true) == item.special,
                    "\(golden.name) #\(item.index) special: \(item.text.debugDescription)")
            #expect(tokenizer.encode(item.text, addSpecial: true, parseSpecial: false) == item.plain,
                    "\(golden.name) #\(item.index) plain: \(item.text.debugDescription)")
            #expect(tokenizer.encode(item.text, addSpecial: false, parseSpecial: false) == item.raw,
                    "\(golden.name) #\(item.index) raw: \(item.text.debugDescription)")
        }
    }
}
