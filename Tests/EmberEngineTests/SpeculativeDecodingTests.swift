// Speculative decoding: prompt lookup's drafts, the draft length that follows acceptance, the
// acceptance rule on fixed distributions (the output keeps the model's distribution), and, with the
// real default model, output that is the same token for token with and without drafts (greedy, and
// sampled with a seed) from prompt lookup and from a draft model.

import EmberCompute
import EmberEngine
import EmberFormats
import EmberModel
import EmberStore
import EmberTestSupport
import EmberTokenizer
import Foundation
import Testing

@Suite(.serialized) struct SpeculativeDecodingTests {
    private static let shared = Result { () throws -> (LanguageModel, Tokenizer) in
        let file = try GGUFFile(path: ModelStore.standard().resolve("smollm2"))
        return (try ModelLoader.load(file, backend: CPUBackend(threadCount: 2)), try Tokenizer(metadata: file.metadata))
    }

    @Test func promptLookupDraftsWhatFollowedTheLatestMatch() {
        let lookup = PromptLookup(draftLength: 8)
        let history: [Int32] = [1, 2, 3, 9, 4, 1, 2, 3, 7, 8, 5, 6, 1, 2, 3]
        // [5, 6, 1, 2] never came before; [1, 2, 3] did, latest at 5, followed by 7, 8, 5.
        #expect(lookup.draft(after: history, count: 3) == [7, 8, 5])
        #expect(lookup.draft(after: history, count: 100) == Array(history[8...]))
        // A match of two tokens when there is none of three or four.
        #expect(lookup.draft(after: [4, 5, 6, 1, 2, 9, 9, 5, 6], count: 2) == [1, 2])
        #expect(lookup.draft(after: [1, 2, 3, 4, 5], count: 4) == [])
        #expect(lookup.draft(after: [7], count: 4) == [])
    }

    @Test func theDraftLengthFollowsWhatWasAccepted() {
        var limit = DraftLimit(maximum: 8)
        #expect(limit.current == 8)
        limit.record(drafted: 8, accepted: 2)
        #expect(limit.current == 3)
        limit.record(drafted: 3, accepted: 0)
        #expect(limit.current == 1)
        limit.record(drafted: 1, accepted: 1)
        #expect(limit.current == 2)
        limit.record(drafted: 2, accepted: 2)
        limit.record(drafted: 4, accepted: 4)
        limit.record(drafted: 8, accepted: 8)
        #expect(limit.current == 8)
    }

    /// A row whose only finite logits are `logits` at tokens 10, 11, ...: each draft is accepted as
    /// often as the sampler's distribution gives it, and what comes out (the draft, or its
    /// replacement) is distributed as the sampler's distribution, whatever the draft.
    @Test(arguments: [(Float(1), 0), (Float(0.6), 3)])
    func theAcceptanceRuleKeepsTheDistribution(temperature: Float, topK: Int) throws {
        let (model, tokenizer) = try Self.shared.get()
        let logits: [Float] = [2, 1, 0.5, -1]
        var row = [Float](repeating: -.infinity, count: model.vocabularySize)
        for (index, logit) in logits.enumerated() { row[10 + index] = logit }
        var sampling = SamplingParameters()
        (sampling.temperature, sampling.topK, sampling.topP, sampling.minP) = (temperature, topK, 1, 0)
        let expected = Sampler(parameters: sampling, vocabularySize: model.vocabularySize).distribution(row)
        let probability = Dictionary(uniqueKeysWithValues: expected.map { ($0.token, Double($0.probability)) })
        let trials = 20_000
        for draft in [Int32(10), 11, 13, 500] {
            var counts: [Int32: Int] = [:], accepted = 0
            for trial in 0 ..< trials {
                sampling.seed = UInt64(trial) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(draft)
                let state = GenerationState(prompt: [1], parameters: GenerationParameters(maxTokens: 4, sampling: sampling),
                                            tokenizer: tokenizer, vocabularySize: model.vocabularySize)
                let outcome = row.withUnsafeMutableBufferPointer { SpeculativeCheck.check(draft, logits: $0, state: state) }
                if outcome == .accepted { accepted += 1 }
                counts[outcome == .accepted ? draft : outcome.token, default: 0] += 1
            }
            // Three standard deviations of a frequency estimated from 20,000 draws is at most 0.011.
            #expect(abs(Double(accepted) / Double(trials) - (probability[draft] ?? 0)) < 0.011, "draft \(draft)")
            for (token, count) in counts {
                #expect(abs(Double(count) / Double(trials) - (probability[token] ?? 0)) < 0.011, "draft \(draft), token \(token)")
            }
            #expect(Set(counts.keys).isSubset(of: Set(probability.keys)))
        }
    }

    static let codeEdit = """
        <|im_start|>system
        You are a code editor. Reply with the complete edited file and nothing else.<|im_end|>
        <|im_start|>user
        Rename the function `area` to `rectangle_area` in this code.

        ```python
        def area(width, height):
            \"\"\"Return the area of a rectangle.\"\"\"
            if width < 0 or height < 0:
                raise ValueError("sides must not be negative")
            return width * height


        def perimeter(width, height):
            \"\"\"Return the perimeter of a rectangle.\"\"\"
            return 2 * (width + height)
        ```<|im_end|>
        <|im_start|>assistant
        ```python

        """

    private func generate(_ drafter: TokenDrafter?, temperature: Float, seed: UInt64 = 0) throws -> (String, GenerationStatistics) {
        let (model, tokenizer) = try Self.shared.get()
        let generator = Generator(model: model, tokenizer: tokenizer, contextLength: 1024)
        generator.drafter = drafter
        var sampling = SamplingParameters()
        sampling.temperature = temperature
        sampling.seed = seed
        var text = ""
        let statistics = try generator.generate(prompt: tokenizer.encode(Self.codeEdit, addSpecial: true, parseSpecial: true),
                                                parameters: GenerationParameters(maxTokens: 96, sampling: sampling)) { text += $0 }
        return (text, statistics)
    }

    /// The rows that check drafts are single-token steps of one cache in one pass: each row's logits
    /// are, bit for bit, those of the same token run alone (past 128 positions, where a lone step's
    /// attention splits its positions across the threads).
    @Test func realModelCheckingRowsComputeAsSingleSteps() throws {
        let (model, tokenizer) = try Self.shared.get()
        let prompt = tokenizer.encode(Self.codeEdit, addSpecial: true, parseSpecial: true)
        #expect(prompt.count > 128)
        let following: [Int32] = Array(prompt[40 ..< 46])
        var batch = ForwardBatch()
        let alone = model.makeCache(capacity: 512), together = model.makeCache(capacity: 512)
        func prefill(_ cache: KVCache) throws {
            batch.removeAll()
            batch.append(prompt, cache: cache, wantsLogits: false)
            _ = try model.forward(batch)
        }
        try prefill(alone)
        var expected: [Float] = []
        for token in following {
            batch.removeAll()
            batch.append(CollectionOfOne(token), cache: alone, wantsLogits: true)
            expected += try model.forward(batch)
        }
        try prefill(together)
        batch.removeAll()
        batch.appendSteps(following, cache: together)
        let rows = Array(try model.forward(batch))
        #expect(rows.count == expected.count)
        #expect(rows == expected)
        #expect(together.length == alone.length)
    }

    @Test func realModelGreedyOutputIsTheSameWithDrafts() throws {
        let (model, tokenizer) = try Self.shared.get()
        let (plain, _) = try generate(nil, temperature: 0)
        let (lookedUp, lookup) = try generate(PromptLookup(draftLength: 8), temperature: 0)
        #expect(lookedUp == plain)
        // The answer repeats the prompt's code: most drafts are right.
        #expect(lookup.acceptedDraftTokens > 40 && lookup.acceptedDraftTokens <= lookup.draftedTokens, "\(lookup)")
        // The model as its own draft: every draft is what the model chooses.
        let drafter = try DraftModel(model: model, tokenizer: tokenizer, target: tokenizer, contextLength: 1024, draftLength: 4)
        let (drafted, statistics) = try generate(drafter, temperature: 0)
        #expect(drafted == plain)
        #expect(statistics.draftedTokens > 50 && statistics.acceptedDraftTokens == statistics.draftedTokens, "\(statistics)")
    }

    /// Each token comes from one draw of the sampler, with or without drafts: with the same seed, the
    /// same text.
    @Test func realModelSampledOutputIsTheSameWithDraftsForOneSeed() throws {
        for seed in [UInt64(1), 2, 3] {
            let (plain, _) = try generate(nil, temperature: 0.8, seed: seed)
            let (lookedUp, statistics) = try generate(PromptLookup(draftLength: 8), temperature: 0.8, seed: seed)
            #expect(lookedUp == plain, "seed \(seed)")
            #expect(statistics.acceptedDraftTokens > 0)
        }
    }

    /// `ember serve`: a request that runs alone checks drafts in its steps, and gets what it gets
    /// without them; requests that run together batch as before.
    @Test func realModelSchedulerSpeculatesForARequestAlone() async throws {
        let (model, tokenizer) = try Self.shared.get()
        let prompt = tokenizer.encode(Self.codeEdit, addSpecial: true, parseSpecial: true)
        let scheduler = Scheduler(model: model, tokenizer: tokenizer, configuration: .init(parallel: 2, contextLength: 1024),
                                  drafter: PromptLookup(draftLength: 8))
        defer { scheduler.shutdown() }
        for (temperature, seed) in [(Float(0), UInt64(0)), (0.8, 5)] {
            let (alone, _) = try generate(nil, temperature: temperature, seed: seed)
            var sampling = SamplingParameters()
            sampling.temperature = temperature
            sampling.seed = seed
            let parameters = GenerationParameters(maxTokens: 96, sampling: sampling)
            let served = await SchedulerTests.collect(try scheduler.submit(prompt: prompt, parameters: parameters))
            #expect(served.text == alone, "temperature \(temperature)")
            #expect((served.statistics?.acceptedDraftTokens ?? 0) > 20, "\(String(describing: served.statistics))")
            // Two at once: no drafts, the same text each.
            let handles = [try scheduler.submit(prompt: prompt, parameters: parameters), try scheduler.submit(prompt: prompt, parameters: parameters)]
            async let first = SchedulerTests.collect(handles[0])
            async let second = SchedulerTests.collect(handles[1])
            let (one, two) = await (first, second)
            #expect(one.text == alone && two.text == alone)
        }
        #expect(scheduler.snapshot.active == 0)
    }

    /// Log-probabilities come from the rows that checked the drafts: the same as without drafts.
    @Test func realModelLogprobsAreTheSameWithDrafts() async throws {
        let (model, tokenizer) = try Self.shared.get()
        let prompt = tokenizer.encode(Self.codeEdit, addSpecial: true, parseSpecial: true)
        var parameters = GenerationParameters(maxTokens: 48, sampling: SamplingParameters())
        parameters.sampling.temperature = 0
        parameters.logprobs = 3
        func run(_ drafter: TokenDrafter?) async throws -> ([TokenLogprobs], Scheduler.SequenceStatistics?) {
            let scheduler = Scheduler(model: model, tokenizer: tokenizer, configuration: .init(parallel: 1, contextLength: 1024), drafter: drafter)
            defer { scheduler.shutdown() }
            var entries: [TokenLogprobs] = [], statistics: Scheduler.SequenceStatistics?
            for await event in try scheduler.submit(prompt: prompt, parameters: parameters).events {
                if case let .text(_, _, logprobs?) = event { entries.append(logprobs) }
                if case let .finished(done) = event { statistics = done }
            }
            return (entries, statistics)
        }
        let (plain, _) = try await run(nil)
        let (drafted, statistics) = try await run(PromptLookup(draftLength: 8))
        #expect(plain.count == 48 && drafted == plain)
        #expect((statistics?.acceptedDraftTokens ?? 0) > 10)
    }

    @Test func aDraftModelOfAnotherVocabularyIsRefused() throws {
        let (_, tokenizer) = try Self.shared.get()
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("EmberModelTests/Fixtures/tiny_llama.json")
        let path = try GGUFJSON.modelFile(json: fixture)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try GGUFFile(path: path)
        let tiny = try ModelLoader.load(file, backend: CPUBackend(threadCount: 1))
        #expect(throws: EngineError.self) {
            _ = try DraftModel(model: tiny, tokenizer: try Tokenizer(metadata: file.metadata), target: tokenizer, contextLength: 64, draftLength: 4)
        }
    }
}
