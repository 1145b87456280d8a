// The Llama forward pass on tiny random models against a plain-loops reference: batched prefill,
// token-by-token decode, several sequences in one batch, GQA, RoPE scaling, tied and separate output.

import EmberCompute
import EmberFormats
import EmberModel
import Foundation
import Testing

@Suite struct LlamaTests {
    func load(_ tiny: TinyLlama, threads: Int = 2, maxBatch: Int = 16) throws -> (LanguageModel, GGUFFile) {
        let path = try tiny.write()
        defer { try? FileManager.default.removeItem(atPath: path) }  // the mapping keeps it alive
        let file = try GGUFFile(path: path)
        return (try ModelLoader.load(file, backend: CPUBackend(threadCount: threads), promptChunkTokens: maxBatch), file)
    }

    func expectClose(_ got: UnsafeMutableBufferPointer<Float>, _ want: [Float], _ context: String) {
        #expect(got.count == want.count, "\(context)")
        let error = zip(got, want).map { abs($0 - $1) }.max() ?? 0
        let scale = want.map(abs).max() ?? 1
        #expect(error <= 2e-3 * max(scale, 1), "\(context): max error \(error), scale \(scale)")
    }

    let tokens: [Int32] = [3, 17, 0, 39, 8, 8, 21, 5, 30, 12]

    @Test(arguments: [1, 2, 3])
    func prefillMatchesTheReference(threads: Int) throws {
        let tiny = TinyLlama(seed: 1)
        let reference = tiny.referenceLogits(tokens)
        let (model, _) = try load(tiny, threads: threads)
        let cache = model.makeCache(capacity: 32)
        var batch = ForwardBatch()
        batch.append(tokens, cache: cache, wantsLogits: true)
        expectClose(try model.forward(batch), reference.last!, "prefill, \(threads) threads")
        #expect(cache.length == tokens.count)
    }

    @Test(arguments: [CacheType.f16, .f32])
    func decodeTokenByTokenMatchesTheReference(cacheType: CacheType) throws {
        let tiny = TinyLlama(seed: 2)
        let reference = tiny.referenceLogits(tokens)
        let (model, _) = try load(tiny)
        let cache = model.makeCache(capacity: 32, type: cacheType)
        var batch = ForwardBatch()
        for (index, token) in tokens.enumerated() {
            batch.removeAll()
            batch.append([token], cache: cache, wantsLogits: true)
            expectClose(try model.forward(batch), reference[index], "\(cacheType) cache, step \(index)")
        }
    }

    /// Long enough for the prefill GEMM and for decode to split each KV head's positions across threads.
    @Test(arguments: [(CacheType.f16, 2), (.f32, 3), (.f16, 1)])
    func longPromptThenLongDecodeMatchTheReference(cacheType: CacheType, threads: Int) throws {
        let tiny = TinyLlama(seed: 10)
        let long = (0 ..< 260).map { Int32(($0 * 7 + $0 / 3) % tiny.vocabulary) }
        let reference = tiny.referenceLogits(long)
        let (model, _) = try load(tiny, threads: threads, maxBatch: 200)
        let cache = model.makeCache(capacity: 300, type: cacheType)
        var batch = ForwardBatch()
        batch.append(long[0 ..< 200], cache: cache, wantsLogits: true)
        expectClose(try model.forward(batch), reference[199], "\(cacheType) cache, \(threads) threads, after the prompt")
        for index in 200 ..< long.count {
            batch.removeAll()
            batch.append([long[index]], cache: cache, wantsLogits: true)
            let logits = try model.forward(batch)
            if index % 20 == 0 || index == long.count - 1 {
                expectClose(logits, reference[index], "\(cacheType) cache, \(threads) threads, step \(index)")
            }
        }
    }

    /// A Q8_0 cache on heads of 64: a prompt through the flash kernel, then decode steps split across
    /// threads, stay close to the exact reference (this random model's attention is sharp: 8 bits move
    /// its logits by up to half a percent, a misplaced block far more), and every kernel level reads
    /// the blocks alike.
    @Test func q8CacheStaysCloseToTheReference() throws {
        let tiny = TinyLlama(seed: 12) { $0.embedding = 128; $0.heads = 2; $0.kvHeads = 1; $0.context = 320 }
        let long = (0 ..< 232).map { Int32(($0 * 5 + $0 / 7) % tiny.vocabulary) }
        let reference = tiny.referenceLogits(long)
        let path = try tiny.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try GGUFFile(path: path)
        var byLevel: [[[Float]]] = []
        for level in KernelLevel.runnable {
            let model = try ModelLoader.load(file, backend: CPUBackend(threadCount: 2, kernels: level), promptChunkTokens: 200)
            try model.checkCache(.q8_0)
            let cache = model.makeCache(capacity: 300, type: .q8_0)
            var batch = ForwardBatch(), logits: [[Float]] = []
            batch.append(long[0 ..< 200], cache: cache, wantsLogits: true)
            logits.append(Array(try model.forward(batch)))
            for index in 200 ..< long.count {
                batch.removeAll()
                batch.append([long[index]], cache: cache, wantsLogits: true)
                logits.append(Array(try model.forward(batch)))
            }
            for (step, row) in logits.enumerated() {
                let similarity = cosine(row, reference[199 + step])
                #expect(similarity >= 0.99, "\(level), step \(step): cosine \(similarity)")
            }
            byLevel.append(logits)
        }
        for (level, logits) in zip(KernelLevel.runnable, byLevel).dropFirst() {
            for (step, (row, first)) in zip(logits, byLevel[0]).enumerated() {
                #expect(cosine(row, first) >= 0.9999, "\(level) against \(KernelLevel.runnable[0]), step \(step)")
            }
        }
    }

    private func cosine(_ a: [Float], _ b: [Float]) -> Double {
        let dot = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        return dot / (a.reduce(0.0) { $0 + Double($1 * $1) } * b.reduce(0.0) { $0 + Double($1 * $1) }).squareRoot()
    }

    @Test func aQ8CacheNeedsHeadsAsWideAsBlocks() throws {
        let (model, _) = try load(TinyLlama(seed: 1))
        #expect(throws: ModelError.self) { try model.checkCache(.q8_0) }
        do { try model.checkCache(.q8_0) } catch { #expect("\(error)".contains("multiple of 32; this model's are 16")) }
        try model.checkCache(.f16)
    }

    @Test func chunkedPrefillThenDecode() throws {
        let tiny = TinyLlama(seed: 3)
        let reference = tiny.referenceLogits(tokens)
        let (model, _) = try load(tiny, maxBatch: 4)
        let cache = model.makeCache(capacity: 32)
        var batch = ForwardBatch()
        for start in stride(from: 0, to: 8, by: 4) {
            batch.removeAll()
            batch.append(tokens[start ..< start + 4], cache: cache, wantsLogits: start == 4)
            let logits = try model.forward(batch)
            if start == 4 { expectClose(logits, reference[7], "after 8 tokens") }
        }
        batch.removeAll()
        batch.append(tokens[8 ..< 10], cache: cache, wantsLogits: true)
        expectClose(try model.forward(batch), reference[9], "after 10 tokens")
    }

    @Test func decodeStepsAndAPromptChunkInOnePassGiveWhatEachGetsAlone() throws {
        // Sequence A decodes while B's 18-token chunk (the GEMM's size) shares the pass: each row must
        // take the path it takes alone, so the logits and the caches they leave are bit for bit the same.
        let tiny = TinyLlama(seed: 6)
        let (model, _) = try load(tiny, maxBatch: 20)
        let chunk = (0 ..< 18).map { Int32(($0 * 11 + 4) % tiny.vocabulary) }
        var batch = ForwardBatch()
        func run(_ parts: [(tokens: [Int32], cache: KVCache)]) throws -> [[Float]] {
            batch.removeAll()
            for part in parts { batch.append(part.tokens, cache: part.cache, wantsLogits: true) }
            let logits = try model.forward(batch)
            return (0 ..< parts.count).map { Array(logits[$0 * tiny.vocabulary ..< ($0 + 1) * tiny.vocabulary]) }
        }
        let aloneA = model.makeCache(capacity: 40), aloneB = model.makeCache(capacity: 40)
        let togetherA = model.makeCache(capacity: 40), togetherB = model.makeCache(capacity: 40)
        _ = try run([(tokens, aloneA)])
        _ = try run([(tokens, togetherA)])
        let alone = [try run([([7], aloneA)])[0], try run([(chunk, aloneB)])[0]]
        #expect(try run([([7], togetherA), (chunk, togetherB)]) == alone)
        let next = [try run([([2], aloneA)])[0], try run([([9], aloneB)])[0]]
        #expect(try run([([2], togetherA), ([9], togetherB)]) == next)
    }

    @Test func twoSequencesInOneBatch() throws {
        let tiny = TinyLlama(seed: 4)
        let other: [Int32] = [9, 1, 33]
        let (model, _) = try load(tiny)
        let first = model.makeCache(capacity: 32), second = model.makeCache(capacity: 32)
        var batch = ForwardBatch()
        batch.append(tokens, cache: first, wantsLogits: true)
        batch.append(other, cache: second, wantsLogits: true)
        let logits = try model.forward(batch)
        let vocabulary = tiny.vocabulary
        expectClose(UnsafeMutableBufferPointer(rebasing: logits[0 ..< vocabulary]), tiny.referenceLogits(tokens).last!, "sequence 1")
        expectClose(UnsafeMutableBufferPointer(rebasing: logits[vocabulary ..< 2 * vocabulary]), tiny.referenceLogits(other).last!, "sequence 2")
        #expect(first.length == tokens.count && second.length == other.count)
    }

    @Test func separateOutputAndMultiQueryAttention() throws {
        let tiny = TinyLlama(seed: 5) { $0.tiedOutput = false; $0.kvHeads = 1 }
        let (model, _) = try load(tiny)
        let cache = model.makeCache(capacity: 32)
        var batch = ForwardBatch()
        batch.append(tokens, cache: cache, wantsLogits: true)
        expectClose(try model.forward(batch), tiny.referenceLogits(tokens).last!, "separate output, MQA")
    }

    @Test func linearRopeScaling() throws {
        let tiny = TinyLlama(seed: 6) { $0.linearScaling = 4 }
        let (model, _) = try load(tiny)
        let cache = model.makeCache(capacity: 32)
        var batch = ForwardBatch()
        batch.append(tokens, cache: cache, wantsLogits: true)
        expectClose(try model.forward(batch), tiny.referenceLogits(tokens).last!, "linear scaling")
    }

    @Test func ropeFrequencyFactorsTensor() throws {
        let tiny = TinyLlama(seed: 7) { $0.ropeFactors = (0 ..< 8).map { 1 + Float($0) } }
        let (model, _) = try load(tiny)
        let cache = model.makeCache(capacity: 32)
        var batch = ForwardBatch()
        batch.append(tokens, cache: cache, wantsLogits: true)
        expectClose(try model.forward(batch), tiny.referenceLogits(tokens).last!, "rope_freqs")
    }

    @Test func fullContextAndBadTokensAreErrors() throws {
        let (model, _) = try load(TinyLlama(seed: 8))
        let cache = model.makeCache(capacity: 4)
        var batch = ForwardBatch()
        batch.append(tokens[0 ..< 5], cache: cache, wantsLogits: true)
        #expect(throws: ModelError.contextFull(needed: 5, capacity: 4)) { try model.forward(batch) }
        batch.removeAll()
        batch.append([40], cache: cache, wantsLogits: true)
        #expect(throws: ModelError.tokenOutOfRange(token: 40, vocabularySize: 40)) { try model.forward(batch) }
        #expect(cache.length == 0)
    }

    @Test func missingTensorAndWrongShapeAreNamed() throws {
        var tiny = TinyLlama(seed: 9)
        tiny.weights["blk.1.ffn_up.weight"] = nil
        #expect(throws: ModelError.missingTensor("blk.1.ffn_up.weight")) { try load(tiny) }
        var wrong = TinyLlama(seed: 9)
        wrong.weights["blk.0.attn_k.weight"] = Array(wrong.weights["blk.0.attn_k.weight"]!.prefix(8))
        #expect(throws: ModelError.shapeMismatch(tensor: "blk.0.attn_k.weight", expected: [64, 32], found: [64, 8])) { try load(wrong) }
    }
}
