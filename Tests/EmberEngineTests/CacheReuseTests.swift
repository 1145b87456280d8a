// A conversation's later turns reuse the KV cache of the earlier ones: only the tokens after the
// prefix the cache already holds are computed, and the output is the same as from a fresh cache.
// Real default model, greedy.

import EmberCompute
import EmberEngine
import EmberFormats
import EmberModel
import EmberStore
import EmberTokenizer
import Testing

@Suite(.serialized) struct CacheReuseTests {
    private static let shared = Result { () throws -> (LanguageModel, Tokenizer) in
        let file = try GGUFFile(path: ModelStore.standard().resolve("smollm2"))
        return (try ModelLoader.load(file, backend: CPUBackend(threadCount: 2)), try Tokenizer(metadata: file.metadata))
    }

    private func generate(_ generator: Generator, _ text: String, reusing: Bool) throws -> (text: String, statistics: GenerationStatistics) {
        var output = ""
        let prompt = generator.tokenizer.encode(text, addSpecial: true, parseSpecial: true)
        var sampling = SamplingParameters()
        sampling.temperature = 0
        let statistics = try generator.generate(prompt: prompt, parameters: GenerationParameters(maxTokens: 12, sampling: sampling),
                                                reusingCache: reusing) { output += $0 }
        return (output, statistics)
    }

    @Test func realModelSecondTurnComputesOnlyTheNewTokens() throws {
        let (model, tokenizer) = try Self.shared.get()
        let first = "<|im_start|>user\nName a colour.<|im_end|>\n<|im_start|>assistant\n"
        let chatting = Generator(model: model, tokenizer: tokenizer, contextLength: 512)
        let turn1 = try generate(chatting, first, reusing: true)
        #expect(turn1.statistics.reusedPromptTokens == 0)
        let second = first + turn1.text + "<|im_end|>\n<|im_start|>user\nAnd another one?<|im_end|>\n<|im_start|>assistant\n"
        let turn2 = try generate(chatting, second, reusing: true)

        let fresh = Generator(model: model, tokenizer: tokenizer, contextLength: 512)
        let alone = try generate(fresh, second, reusing: false)
        #expect(turn2.text == alone.text)
        let secondTokens = tokenizer.encode(second, addSpecial: true, parseSpecial: true)
        // The first turn's prompt and reply were in the cache; only the rest was computed.
        #expect(turn2.statistics.reusedPromptTokens >= tokenizer.encode(first, addSpecial: true, parseSpecial: true).count)
        #expect(turn2.statistics.reusedPromptTokens + turn2.statistics.promptTokens == secondTokens.count)
        #expect(turn2.statistics.promptTokens < secondTokens.count / 2)
        #expect(chatting.cachedTokens.count == chatting.cache.length)

        // A different conversation shares only its first tokens: the rest is recomputed, same output.
        let other = "<|im_start|>user\nName a country.<|im_end|>\n<|im_start|>assistant\n"
        let switched = try generate(chatting, other, reusing: true)
        #expect(switched.text == (try generate(fresh, other, reusing: false)).text)
        #expect(switched.statistics.reusedPromptTokens < tokenizer.encode(other, addSpecial: true, parseSpecial: true).count)
    }
}
