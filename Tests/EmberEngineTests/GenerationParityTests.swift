// Ember against an independent reference on the real default model (SmolLM2-135M Q4_1, and the
// same weights as a Hugging Face checkpoint): transformers with torch in float64 on the same weights, i.e. the model's exact output, with llama.cpp's logits
// beside it for comparison (scripts/goldens/make_generation_goldens.py). CI checks against the
// goldens without installing either. Needs the default model in the store, which scripts/test
// fetches first.

import EmberCheckpoint
import EmberCompute
import EmberEngine
import EmberFormats
import EmberModel
import EmberStore
import EmberTestSupport
import EmberTokenizer
import EmberVulkan
import Foundation
import Testing

private struct GenerationGoldens: Decodable {
    struct Case: Decodable {
        let prompt: String
        let prompt_tokens: [Int32]
        let greedy_tokens: [Int32]
        let top2_margins: [Float]
        let reference_text: String
    }
    let vocabulary_size: Int
    let steps: Int
    let cases: [Case]
}

@Suite(.serialized) struct GenerationParityTests {
    /// Reference margins below this mean the two top tokens are a near tie: a tiny numeric difference
    /// may pick either, so a divergence there is allowed (issue 2, item 6).
    static let nearTieMargin: Float = 0.1
    /// The same for a Q8_0 cache, whose 8-bit keys and values move this model's logits by up to 0.29
    /// (F16's: 0.025): a margin within that is a tie for it.
    static func nearTieMargin(_ cacheType: CacheType) -> Float { cacheType == .q8_0 ? 0.3 : nearTieMargin }
    static let requiredCosine = 0.999

    private static func fixture(_ name: String) throws -> URL {
        try #require(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures"))
    }

    private static func loadGoldens() throws -> GenerationGoldens {
        try JSONDecoder().decode(GenerationGoldens.self, from: Data(contentsOf: fixture("generation_goldens.json")))
    }

    /// One row of `width` logits per prompt, stored as little-endian float16.
    private static func loadLogits(_ name: String, prompts: Int, width: Int) throws -> [[Float]] {
        let raw = try Data(contentsOf: fixture(name))
        try #require(raw.count == prompts * width * 2, "\(name) holds \(raw.count) bytes")
        let halves = raw.withUnsafeBytes { Array($0.bindMemory(to: Float16.self)) }
        return (0 ..< prompts).map { index in halves[index * width ..< (index + 1) * width].map(Float.init) }
    }

    /// The model and tokenizer, loaded once for the whole (serialized) suite.
    private static func loadModel() throws -> (LanguageModel, Tokenizer) { try sharedModel.get() }

    private static let sharedModel = Result { () throws -> (LanguageModel, Tokenizer) in
        let file = try GGUFFile(path: ModelStore.standard().resolve("smollm2"))
        return (try ModelLoader.load(file, backend: CPUBackend(threadCount: 2)), try Tokenizer(metadata: file.metadata))
    }

    private static func argmax(_ logits: UnsafeBufferPointer<Float>) -> Int32 {
        var best = 0
        for index in 1 ..< logits.count where logits[index] > logits[best] { best = index }
        return Int32(best)
    }

    private static func cosine(_ a: UnsafeBufferPointer<Float>, _ b: [Float]) -> Double {
        var dot = 0.0, normA = 0.0, normB = 0.0
        for index in 0 ..< b.count {
            dot += Double(a[index]) * Double(b[index])
            normA += Double(a[index]) * Double(a[index])
            normB += Double(b[index]) * Double(b[index])
        }
        return dot / (normA.squareRoot() * normB.squareRoot())
    }

    /// Last-position logits of every golden prompt, from a fresh cache of `type`.
    private static func promptLogits(_ goldens: GenerationGoldens, cacheType: CacheType) throws -> [[Float]] {
        let (model, _) = try loadModel()
        let cache = model.makeCache(capacity: 512, type: cacheType)
        var batch = ForwardBatch()
        return try goldens.cases.map { golden in
            cache.reset()
            batch.removeAll()
            batch.append(golden.prompt_tokens, cache: cache, wantsLogits: true)
            return Array(try model.forward(batch))
        }
    }

    /// The same on the GPU (lavapipe in CI, where a step takes seconds: the first prompt, six greedy
    /// steps, the last-position logits within the same cosine of the reference).
    @Test(.enabled(if: usableVulkanDevice || requireVulkan))
    func realModelGreedyGenerationOnTheGPUMatchesTheReference() throws {
        let goldens = try Self.loadGoldens()
        let referenceLogits = try Self.loadLogits("reference_logits.f16", prompts: goldens.cases.count, width: goldens.vocabulary_size)
        let file = try GGUFFile(path: ModelStore.standard().resolve("smollm2"))
        let model = try ModelLoader.load(file, backend: try VulkanBackend(threadCount: 2))
        let cache = model.makeCache(capacity: 64)
        let golden = goldens.cases[0]
        var batch = ForwardBatch()
        batch.append(golden.prompt_tokens, cache: cache, wantsLogits: true)
        var logits = try model.forward(batch)
        let similarity = Self.cosine(UnsafeBufferPointer(logits), referenceLogits[0])
        #expect(similarity >= Self.requiredCosine, "last-position logits cosine \(similarity)")
        for step in 0 ..< 6 {
            let token = Self.argmax(UnsafeBufferPointer(logits))
            guard token == golden.greedy_tokens[step] else {
                #expect(golden.top2_margins[step] < Self.nearTieMargin, "diverges at step \(step) (ours \(token), reference \(golden.greedy_tokens[step]))")
                break
            }
            batch.removeAll()
            batch.append(CollectionOfOne(token), cache: cache, wantsLogits: true)
            logits = try model.forward(batch)
        }
    }

    /// With the default F16 cache, and with a Q8_0 one, which must stay as close.
    @Test(arguments: [CacheType.f16, .q8_0])
    func realModelGreedyGenerationMatchesTheReference(cacheType: CacheType) throws {
        let (model, tokenizer) = try Self.loadModel()
        try Self.checkGreedyGeneration(model: model, tokenizer: tokenizer, cacheType: cacheType, label: "\(cacheType) cache")
    }

    /// The same model saved by transformers as a Hugging Face checkpoint (F32 safetensors, its
    /// tokenizer.json and chat template; scripts/smollm2-checkpoint, which the test command runs where
    /// torch's CPU wheel is at hand): read by Ember's checkpoint loader, it gives the reference's
    /// prompt tokens and greedy tokens.
    @Test(.enabled(if: smolLM2Checkpoint != nil, "EMBER_SMOLLM2_CHECKPOINT names the checkpoint (the test command sets it)"))
    func realModelCheckpointGreedyGenerationMatchesTheReference() throws {
        let checkpoint = try Checkpoint(directory: Self.smolLM2Checkpoint!)
        let model = try ModelLoader.load(checkpoint, backend: CPUBackend(threadCount: 2))
        let tokenizer = try Tokenizer(metadata: checkpoint.metadata)
        try Self.checkGreedyGeneration(model: model, tokenizer: tokenizer, cacheType: .f16, label: "checkpoint")
    }

    static let smolLM2Checkpoint = ProcessInfo.processInfo.environment["EMBER_SMOLLM2_CHECKPOINT"].flatMap { $0.isEmpty ? nil : $0 }

    static func checkGreedyGeneration(model: LanguageModel, tokenizer: Tokenizer, cacheType: CacheType, label: String) throws {
        let goldens = try Self.loadGoldens()
        #expect(goldens.cases.count >= 8)
        let referenceLogits = try Self.loadLogits("reference_logits.f16", prompts: goldens.cases.count,
                                                  width: goldens.vocabulary_size)
        let cache = model.makeCache(capacity: 512, type: cacheType)
        var similarities: [Double] = [], largestError: Float = 0
        var batch = ForwardBatch()
        var divergences: [String] = []

        for (index, golden) in goldens.cases.enumerated() {
            let prompt = tokenizer.encode(golden.prompt, addSpecial: true, parseSpecial: true)
            #expect(prompt == golden.prompt_tokens, "\(label): tokens of prompt \(index)")

            cache.reset()
            batch.removeAll()
            batch.append(golden.prompt_tokens, cache: cache, wantsLogits: true)
            var logits = try model.forward(batch)
            let similarity = Self.cosine(UnsafeBufferPointer(logits), referenceLogits[index])
            similarities.append(similarity)
            largestError = max(largestError, zip(logits, referenceLogits[index]).map { abs($0 - $1) }.max()!)
            #expect(similarity >= Self.requiredCosine, "\(label), prompt \(index): last-position logits cosine \(similarity)")

            // Greedy, without stopping at end-of-generation, exactly as the reference ran.
            for step in 0 ..< goldens.steps {
                let token = Self.argmax(UnsafeBufferPointer(logits))
                if token != golden.greedy_tokens[step] {
                    let margin = golden.top2_margins[step]
                    divergences.append("prompt \(index) step \(step): margin \(margin)")
                    #expect(margin < Self.nearTieMargin(cacheType),
                            "\(label), prompt \(index) diverges at step \(step) (ours \(token), reference \(golden.greedy_tokens[step])) where the reference margin is \(margin)")
                    break  // after a divergence the two continuations are no longer comparable
                }
                batch.removeAll()
                batch.append(CollectionOfOne(token), cache: cache, wantsLogits: true)
                logits = try model.forward(batch)
            }
        }
        // Recorded for the issue note; the expectations above decide pass or fail.
        print("\(label): lowest cosine \(similarities.min()!), largest logit error \(largestError), divergences from the reference: "
              + (divergences.isEmpty ? "none" : "\(divergences)"))
    }

    /// llama.cpp quantizes activations to 8 bits, which on this model costs up to ~0.004 of cosine with
    /// the exact output at sensitive positions; Ember's 16-bit activations must be closer on every
    /// prompt, with the default F16 cache and with an F32 one.
    @Test(arguments: [CacheType.f16, .f32])
    func realModelLogitsAreCloserToTheReferenceThanLlamaCpp(cacheType: CacheType) throws {
        let goldens = try Self.loadGoldens()
        let count = goldens.cases.count, width = goldens.vocabulary_size
        let reference = try Self.loadLogits("reference_logits.f16", prompts: count, width: width)
        let llamaCpp = try Self.loadLogits("llamacpp_logits.f16", prompts: count, width: width)
        let ours = try Self.promptLogits(goldens, cacheType: cacheType)
        var report: [String] = []
        for index in 0 ..< count {
            let emberCosine = ours[index].withUnsafeBufferPointer { Self.cosine($0, reference[index]) }
            let llamaCosine = llamaCpp[index].withUnsafeBufferPointer { Self.cosine($0, reference[index]) }
            #expect(emberCosine >= Self.requiredCosine, "prompt \(index): cosine \(emberCosine)")
            #expect(emberCosine >= llamaCosine, "prompt \(index): Ember \(emberCosine), llama.cpp \(llamaCosine)")
            report.append(String(format: "prompt %d: ember %.7f llama.cpp %.7f", index, emberCosine, llamaCosine))
        }
        print("cosine with the reference, \(cacheType) cache: \(report)")
    }

    @Test func realModelChatPromptStopsAtEndOfTurn() throws {
        let (model, tokenizer) = try Self.loadModel()
        let generator = Generator(model: model, tokenizer: tokenizer, contextLength: 512)
        let prompt = tokenizer.encode("<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
                                      addSpecial: true, parseSpecial: true)
        var sampling = SamplingParameters.greedy
        sampling.seed = 1
        var text = ""
        let statistics = try generator.generate(prompt: prompt, parameters: GenerationParameters(maxTokens: 100, sampling: sampling)) {
            text += $0
        }
        #expect(statistics.stopReason == .endOfGeneration)
        #expect(statistics.generatedTokens < 100)
        #expect(text.contains("4"))
        #expect(!text.contains("<|im_end|>"))

        // Benchmarks generate through the end token.
        let through = try generator.generate(prompt: prompt, parameters: GenerationParameters(
            maxTokens: 100, sampling: sampling, ignoresEndOfGeneration: true)) { _ in }
        #expect(through.stopReason == .maxTokens && through.generatedTokens == 100)
    }

    @Test func realModelStopStringEndsGenerationAndIsNotEmitted() throws {
        let golden = try #require(try Self.loadGoldens().cases.first)
        let (model, tokenizer) = try Self.loadModel()
        let generator = Generator(model: model, tokenizer: tokenizer, contextLength: 512)
        // The reference continues "The capital of France is" with " Paris.\n\nThe answer is: ...".
        let stop = "answer"
        let expected = try #require(golden.reference_text.range(of: stop).map { String(golden.reference_text[..<$0.lowerBound]) })
        var text = ""
        let statistics = try generator.generate(
            prompt: golden.prompt_tokens, parameters: GenerationParameters(maxTokens: 64, sampling: .greedy, stopStrings: [stop])
        ) { text += $0 }
        #expect(statistics.stopReason == .stopString)
        #expect(text == expected)
    }

    @Test func realModelMaxTokensAndTooLongPrompt() throws {
        let (model, tokenizer) = try Self.loadModel()
        let generator = Generator(model: model, tokenizer: tokenizer, contextLength: 16)
        let prompt = tokenizer.encode("The capital of France is", addSpecial: true, parseSpecial: true)
        let statistics = try generator.generate(prompt: prompt, parameters: GenerationParameters(maxTokens: 3, sampling: .greedy)) { _ in }
        #expect(statistics.generatedTokens == 3)
        #expect(statistics.stopReason == .maxTokens)

        let long = tokenizer.encode(String(repeating: "word ", count: 40), addSpecial: true, parseSpecial: true)
        #expect(throws: EngineError.self) {
            try generator.generate(prompt: long, parameters: GenerationParameters(maxTokens: 3, sampling: .greedy)) { _ in }
        }
    }

    @Test func realModelCancellationEndsCleanly() throws {
        let (model, tokenizer) = try Self.loadModel()
        let generator = Generator(model: model, tokenizer: tokenizer, contextLength: 512)
        let prompt = tokenizer.encode("Once upon a time", addSpecial: true, parseSpecial: true)
        var polls = 0
        let statistics = try generator.generate(prompt: prompt, parameters: GenerationParameters(maxTokens: 64, sampling: .greedy),
                                                isCancelled: { polls += 1; return polls > 5 }) { _ in }
        #expect(statistics.stopReason == .cancelled)
        #expect(statistics.generatedTokens == 5)
    }
}
