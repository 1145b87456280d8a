// The batching scheduler on the real default model: several requests at once give each exactly the
// output it gets alone (greedy and seeded sampling), a cancelled or timed-out request ends at once and
// frees its slot, a full queue and an impossible prompt are refused up front.

import EmberCompute
import EmberEngine
import EmberFormats
import EmberModel
import EmberStore
import EmberTokenizer
import Foundation
import Testing

@Suite(.serialized) struct SchedulerTests {
    private static let shared = Result { () throws -> (LanguageModel, Tokenizer) in
        let file = try GGUFFile(path: ModelStore.standard().resolve("smollm2"))
        return (try ModelLoader.load(file, backend: CPUBackend(threadCount: 2)), try Tokenizer(metadata: file.metadata))
    }

    static let prompts = [
        "The capital of France is",
        "<|im_start|>user\nWrite a haiku about the sea.<|im_end|>\n<|im_start|>assistant\n",
        "def fibonacci(n):",
        "Once upon a time",
        "<|im_start|>user\nList three colours.<|im_end|>\n<|im_start|>assistant\n",
        "1, 2, 3, 4,",
    ]

    static func parameters(_ index: Int, tokens: Int = 24) -> GenerationParameters {
        var sampling = SamplingParameters()
        // Half greedy, half sampled with a seed of their own.
        if index % 2 == 1 {
            sampling.temperature = 0.9
            sampling.seed = UInt64(100 + index)
        } else {
            sampling.temperature = 0
        }
        return GenerationParameters(maxTokens: tokens, sampling: sampling)
    }

    /// Every event of a request, as text, statistics or error.
    static func collect(_ handle: Scheduler.Handle) async -> (text: String, tokens: [Int32], statistics: Scheduler.SequenceStatistics?, error: EngineError?) {
        var text = "", tokens: [Int32] = [], statistics: Scheduler.SequenceStatistics?, error: EngineError?
        for await event in handle.events {
            switch event {
            case let .text(piece, token, _):
                text += piece
                if let token { tokens.append(token) }
            case let .finished(done): statistics = done
            case let .failed(failure): error = failure
            }
        }
        return (text, tokens, statistics, error)
    }

    @Test func realModelOutputUnderLoadEqualsOutputAlone() async throws {
        let (model, tokenizer) = try Self.shared.get()
        var alone: [String] = []
        for (index, prompt) in Self.prompts.enumerated() {
            let generator = Generator(model: model, tokenizer: tokenizer, contextLength: 512)
            var text = ""
            _ = try generator.generate(prompt: tokenizer.encode(prompt), parameters: Self.parameters(index)) { text += $0 }
            alone.append(text)
        }
        // Six requests on four slots: two wait, then join while the others generate.
        let scheduler = Scheduler(model: model, tokenizer: tokenizer, configuration: .init(parallel: 4, contextLength: 512))
        defer { scheduler.shutdown() }
        let handles = try Self.prompts.enumerated().map { index, prompt in
            try scheduler.submit(prompt: tokenizer.encode(prompt), parameters: Self.parameters(index))
        }
        let results = await withTaskGroup(of: (Int, String, Scheduler.SequenceStatistics?).self) { group in
            for (index, handle) in handles.enumerated() {
                group.addTask { let result = await Self.collect(handle); return (index, result.text, result.statistics) }
            }
            var results: [(Int, String, Scheduler.SequenceStatistics?)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }
        }
        for (index, text, statistics) in results {
            #expect(text == alone[index], "prompt \(index)")
            #expect(statistics?.promptTokens == tokenizer.encode(Self.prompts[index]).count)
            #expect(statistics?.generatedTokens ?? 0 > 0)
        }
        #expect(results.contains { ($0.2?.queueTime ?? .zero) > .zero })  // some waited for a slot
        #expect(scheduler.snapshot.active == 0)
    }

    /// Two chat preambles (system prompts) and questions asked after them in turn.
    static let preambles = ["<|im_start|>system\nYou are a careful assistant. " + String(repeating: "Answer briefly and plainly. ", count: 12),
                            "<|im_start|>system\nYou write poems about the weather, always in rhyme, " + String(repeating: "with joy. ", count: 12)]
    static let questions = [(0, "What is the capital of France?"), (1, "Describe rain."), (0, "Name a large ocean."), (1, "Describe snow."),
                            (0, "What is two plus two?")]

    /// Asks the questions in turn on `scheduler`; each answer must be the one a fresh cache gives, and
    /// each request from the third on must find `reuses` its preamble (and what its question shares
    /// with the one two before) already computed.
    static func askInTurn(_ scheduler: Scheduler, reuses: Bool) async throws {
        let (model, tokenizer) = try Self.shared.get()
        func chat(_ preamble: Int, _ question: String) -> [Int32] {
            tokenizer.encode(preambles[preamble] + "<|im_end|>\n<|im_start|>user\n\(question)<|im_end|>\n<|im_start|>assistant\n")
        }
        for (index, (preamble, question)) in questions.enumerated() {
            let prompt = chat(preamble, question)
            let result = await Self.collect(try scheduler.submit(prompt: prompt, parameters: Self.parameters(index)))
            let generator = Generator(model: model, tokenizer: tokenizer, contextLength: 512)
            var cold = ""
            _ = try generator.generate(prompt: prompt, parameters: Self.parameters(index)) { cold += $0 }
            #expect(result.text == cold, "request \(index)")
            let shared = index < 2 || !reuses ? 0 : zip(prompt, chat(preamble, questions[index - 2].1)).prefix { $0 == $1 }.count
            #expect(result.statistics?.cachedPromptTokens == shared, "request \(index)")
            #expect(index < 2 || !reuses || shared > 40)
        }
    }

    /// A request whose prompt starts like one a free slot served computes only the rest, in the slot
    /// that shares the most (the preambles share too little for one to take the other's slot).
    @Test func realModelSharedPrefixIsReusedAndChangesNothing() async throws {
        let (model, tokenizer) = try Self.shared.get()
        let scheduler = Scheduler(model: model, tokenizer: tokenizer, configuration: .init(parallel: 2, contextLength: 512))
        defer { scheduler.shutdown() }
        try await Self.askInTurn(scheduler, reuses: true)
    }

    /// With one slot, a prompt's keys and values go to host memory when another request takes the slot,
    /// and come back for a later request that starts the same way; without that memory, they are gone.
    @Test(arguments: [0, 64 << 20])
    func realModelPrefixesOutliveTheirSlotInHostMemory(memory: Int) async throws {
        let (model, tokenizer) = try Self.shared.get()
        let scheduler = Scheduler(model: model, tokenizer: tokenizer, configuration: .init(parallel: 1, contextLength: 512, prefixMemory: memory))
        defer { scheduler.shutdown() }
        try await Self.askInTurn(scheduler, reuses: memory > 0)
    }

    @Test func moreSequencesThanOnePassHoldsAllGetWhatTheyGetAlone() async throws {
        // 70 slots, prompts joining one per step and each generating 72 tokens, so that 64 and more
        // decode at once: a step's decode rows go over two forward passes (a pass holds 63 and a prompt
        // chunk, whose logits make 64), and every request still gets the text it gets alone.
        let (model, tokenizer) = try Self.shared.get()
        let count = 70, tokens = 72
        let prompts = (0 ..< count).map { Self.prompts[$0 % Self.prompts.count] }
        var parameters = Self.parameters(0, tokens: tokens)
        parameters.ignoresEndOfGeneration = true  // every request decodes all its tokens
        var alone: [String] = []
        for index in 0 ..< Self.prompts.count {
            let generator = Generator(model: model, tokenizer: tokenizer, contextLength: 128)
            var text = ""
            _ = try generator.generate(prompt: tokenizer.encode(Self.prompts[index]), parameters: parameters) { text += $0 }
            alone.append(text)
        }
        let scheduler = Scheduler(model: model, tokenizer: tokenizer, configuration: .init(parallel: count, contextLength: 128, queueLimit: count))
        defer { scheduler.shutdown() }
        let handles = try prompts.map { try scheduler.submit(prompt: tokenizer.encode($0), parameters: parameters) }
        for (index, handle) in handles.enumerated() {
            let result = await Self.collect(handle)
            #expect(result.error == nil && result.text == alone[index % Self.prompts.count], "request \(index)")
        }
    }

    @Test func realModelCancelledRequestFreesItsSlotAtOnce() async throws {
        let (model, tokenizer) = try Self.shared.get()
        let scheduler = Scheduler(model: model, tokenizer: tokenizer, configuration: .init(parallel: 1, contextLength: 512))
        defer { scheduler.shutdown() }
        let long = try scheduler.submit(prompt: tokenizer.encode("Once upon a time"), parameters: Self.parameters(0, tokens: 400))
        let next = try scheduler.submit(prompt: tokenizer.encode("The capital of France is"), parameters: Self.parameters(0, tokens: 4))
        var pieces = 0
        var statistics: Scheduler.SequenceStatistics?
        for await event in long.events {
            if case .text = event {
                pieces += 1
                if pieces == 3 { long.cancel() }
            }
            if case let .finished(done) = event { statistics = done }
        }
        #expect(statistics?.stopReason == .cancelled)
        #expect((statistics?.generatedTokens ?? 400) < 400)
        // The waiting request got the slot.
        let second = await Self.collect(next)
        #expect(second.text.hasPrefix(" Paris"))
    }

    @Test func realModelDroppedConsumerCancelsTheRequest() async throws {
        let (model, tokenizer) = try Self.shared.get()
        let scheduler = Scheduler(model: model, tokenizer: tokenizer, configuration: .init(parallel: 1, contextLength: 512))
        defer { scheduler.shutdown() }
        let task = Task {
            let handle = try scheduler.submit(prompt: tokenizer.encode("Once upon a time"), parameters: Self.parameters(0, tokens: 400))
            for await _ in handle.events {}
        }
        try await Task.sleep(for: .milliseconds(300))
        task.cancel()  // as a client that disconnects: the stream's consumer goes away
        _ = await task.result
        let after = try scheduler.submit(prompt: tokenizer.encode("The capital of France is"), parameters: Self.parameters(0, tokens: 4))
        let result = await Self.collect(after)
        #expect(result.text.hasPrefix(" Paris"))
        #expect((result.statistics?.queueTime ?? .seconds(10)) < .seconds(1))
    }

    @Test func realModelTimeoutEndsTheRequest() async throws {
        let (model, tokenizer) = try Self.shared.get()
        let scheduler = Scheduler(model: model, tokenizer: tokenizer, configuration: .init(parallel: 2, contextLength: 512))
        defer { scheduler.shutdown() }
        let handle = try scheduler.submit(prompt: tokenizer.encode("Once upon a time"), parameters: Self.parameters(0, tokens: 400),
                                          timeout: .milliseconds(300))
        let result = await Self.collect(handle)
        #expect(result.statistics?.stopReason == .timedOut)
        #expect((result.statistics?.generatedTokens ?? 400) < 400)
    }

    @Test func realModelRefusesAFullQueueAndImpossiblePrompts() async throws {
        let (model, tokenizer) = try Self.shared.get()
        let scheduler = Scheduler(model: model, tokenizer: tokenizer,
                                  configuration: .init(parallel: 1, contextLength: 64, queueLimit: 1))
        defer { scheduler.shutdown() }
        #expect(throws: SchedulerError.engine(.emptyPrompt)) { try scheduler.submit(prompt: [], parameters: Self.parameters(0)) }
        let tooLong = [Int32](repeating: 100, count: 64)
        #expect(throws: SchedulerError.engine(.promptTooLong(tokens: 64, context: 64))) {
            try scheduler.submit(prompt: tooLong, parameters: Self.parameters(0))
        }
        // One generating, one waiting: the third is refused. The second comes at once, before the loop has
        // moved the first into the free slot: the first is not waiting for a slot, so the second is not refused.
        let first = try scheduler.submit(prompt: tokenizer.encode("Once upon a time"), parameters: Self.parameters(0, tokens: 100))
        let second = try scheduler.submit(prompt: tokenizer.encode("Once upon a time"), parameters: Self.parameters(0, tokens: 4))
        #expect(throws: SchedulerError.queueFull(limit: 1)) {
            try scheduler.submit(prompt: tokenizer.encode("Hello"), parameters: Self.parameters(0))
        }
        // A sequence that fills its slot's context ends with contextFull.
        let firstResult = await Self.collect(first)
        #expect(firstResult.statistics?.stopReason == .contextFull)
        _ = await Self.collect(second)
    }
}
