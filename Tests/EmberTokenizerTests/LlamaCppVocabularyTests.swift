// llama.cpp's own tokenizer tests (its test-tokenizer-0 inputs and expected ids, shipped beside its
// vocab-only GGUFs): Ember's ids must be llama.cpp's for every input. Phi-3's SentencePiece
// vocabulary (32k tokens, byte fallback, a space prefix) is a committed fixture. The large
// vocabularies (Llama 3's 128k BPE, Qwen2's 151k, GPT-2's) are read from llama.cpp's models/
// directory where EMBER_LLAMACPP_MODELS names it: the test command fetches it (scripts/llamacpp-vocab).

import EmberTokenizer
import Foundation
import Testing

@Suite struct LlamaCppVocabularyTests {
    static let modelsDirectory = ProcessInfo.processInfo.environment["EMBER_LLAMACPP_MODELS"]

    func check(_ vocabulary: String, _ tokenizer: Tokenizer, _ cases: [(text: String, ids: [Int32])]) {
        #expect(cases.count > 30)
        for (text, expected) in cases {
            let ids = tokenizer.encode(text, addSpecial: false, parseSpecial: false)
            #expect(ids == expected, "\(vocabulary): \(text.debugDescription)")
        }
    }

    @Test(arguments: ["phi-3"])
    func idsEqualLlamaCpps(vocabulary: String) throws {
        let (tokenizer, cases) = try Fixtures.llamaCppVocabularyTest(vocabulary)
        check(vocabulary, tokenizer, cases)
    }

    @Test(.enabled(if: modelsDirectory != nil, "EMBER_LLAMACPP_MODELS names llama.cpp's models/ (the test command sets it)"),
          arguments: ["llama-bpe", "qwen2", "gpt-2", "llama-spm"])
    func largeVocabularyIdsEqualLlamaCpps(vocabulary: String) throws {
        let (tokenizer, cases) = try Fixtures.llamaCppVocabularyTest(vocabulary, directory: Self.modelsDirectory!)
        check(vocabulary, tokenizer, cases)
    }
}
