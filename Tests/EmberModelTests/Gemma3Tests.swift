// Gemma 3 beyond the goldens (TinyModelGoldenTests): its local layers' ring caches under batching, a
// conversation going back within and beyond what a ring still holds, what its caches cost, and the
// portable kernels. On the tiny Gemma 3 of the fixtures: six layers, five of them local with a window
// of 8, prompts fed 4 tokens at a time (so each ring has 11 rows).

import EmberCompute
import EmberFormats
import EmberModel
import EmberTestSupport
import Foundation
import Testing

@Suite struct Gemma3Tests {
    let path: String
    let file: GGUFFile
    let tokens: [Int32] = (0 ..< 40).map { Int32(($0 * 37 + 5) % 400) }

    init() throws {
        let fixture = try #require(Bundle.module.url(forResource: "tiny_gemma3", withExtension: "json", subdirectory: "Fixtures"))
        path = try GGUFJSON.modelFile(json: fixture)
        file = try GGUFFile(path: path)
    }

    func load(_ kernels: KernelLevel = .preferred) throws -> LanguageModel {
        try ModelLoader.load(file, backend: CPUBackend(threadCount: 2, kernels: kernels), promptChunkTokens: 4)
    }

    /// Feeds `tokens` in chunks and returns the last position's logits.
    func run(_ model: LanguageModel, _ tokens: ArraySlice<Int32>, into cache: KVCache) throws -> [Float] {
        var batch = ForwardBatch(), logits: [Float] = []
        for start in stride(from: tokens.startIndex, to: tokens.endIndex, by: model.promptChunkTokens) {
            batch.removeAll()
            batch.append(tokens[start ..< min(start + model.promptChunkTokens, tokens.endIndex)], cache: cache, wantsLogits: true)
            logits = Array(try model.forward(batch))
        }
        return logits
    }

    @Test func ringsHoldTheWindowAndCostOnlyIt() throws {
        let model = try load()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let width = 32 * 2 * 2  // one KV head of 32, keys and values, F16
        #expect(model.cacheBytes(capacity: 128, type: .f16) == (128 + 5 * 11) * width)
        #expect(model.cacheBytesPerPosition(type: .f16) == width)
        #expect(model.cacheBytes(capacity: 6, type: .f16) == 6 * 6 * width)
    }

    @Test func batchedSequencesGetWhatEachGetsAlone() throws {
        let model = try load()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let vocabulary = model.vocabularySize
        let aloneA = model.makeCache(capacity: 64), aloneB = model.makeCache(capacity: 64)
        let togetherA = model.makeCache(capacity: 64), togetherB = model.makeCache(capacity: 64)
        _ = try run(model, tokens[0 ..< 21], into: aloneA)
        _ = try run(model, tokens[0 ..< 21], into: togetherA)
        _ = try run(model, tokens[5 ..< 14], into: aloneB)
        _ = try run(model, tokens[5 ..< 14], into: togetherB)
        for step in 0 ..< 12 {
            let a = try run(model, [Int32(step + 3)], into: aloneA), b = try run(model, tokens[step ..< step + 3], into: aloneB)
            var batch = ForwardBatch()
            batch.append([Int32(step + 3)], cache: togetherA, wantsLogits: true)
            batch.append(tokens[step ..< step + 3], cache: togetherB, wantsLogits: true)
            let logits = try model.forward(batch)
            #expect(Array(logits[0 ..< vocabulary]) == a && Array(logits[vocabulary ..< 2 * vocabulary]) == b, "step \(step)")
        }
    }

    @Test func goingBackWithinTheRingKeepsThePrefixAndBeyondItStartsOver() throws {
        let model = try load()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let cache = model.makeCache(capacity: 64), fresh = model.makeCache(capacity: 64)
        _ = try run(model, tokens[0 ..< 40], into: cache)
        // Positions 36 ..< 40 were the last pass's: going back over them leaves the window before 36 intact.
        #expect(cache.truncate(to: 36) == 36)
        let continued = try run(model, tokens[36 ..< 40], into: cache)
        #expect(continued == (try run(model, tokens[0 ..< 40], into: fresh)))
        // Position 20's window was overwritten long ago: the cache starts over.
        #expect(cache.truncate(to: 20) == 0 && cache.length == 0)
    }

    @Test func portableKernelsAgree() throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let nativeModel = try load(), portableModel = try load(.portable)
        let native = try run(nativeModel, tokens[0 ..< 30], into: nativeModel.makeCache(capacity: 64))
        let portable = try run(portableModel, tokens[0 ..< 30], into: portableModel.makeCache(capacity: 64))
        let maxDifference = zip(native, portable).map { abs($0 - $1) }.max() ?? .infinity
        #expect(maxDifference < 1e-3, "largest difference \(maxDifference)")
    }
}
