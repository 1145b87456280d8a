// llama.cpp's own tokenizer tests (its test-tokenizer-0 inputs and expected ids, shipped beside its
// vocab-only GGUFs): Ember's ids must be llama.cpp's for every input. Phi-3's SentencePiece
// vocabulary (32k tokens, byte fallback, a space prefix).

import EmberTokenizer
import Testing

@Suite struct LlamaCppVocabularyTests {
    @Test(arguments: ["phi-3"])
    func idsEqualLlamaCpps(vocabulary: String) throws {
        let (tokenizer, cases) = try Fixtures.llamaCppVocabularyTest(vocabulary)
        #expect(cases.count > 30)
        for (text, expected) in cases {
            let ids = tokenizer.encode(text, addSpecial: false, parseSpecial: false)
            #expect(ids == expected, "\(vocabulary): \(text.debugDescription)")
        }
    }
}
