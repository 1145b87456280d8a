// The load path's defaults and checks on the default model: the default context, the ChatML
// fallback's absence for a model with its own template, whether a run fits a given amount of memory
// (and the numbers a refusal names), and the warning for a context beyond the trained one.

import EmberCompute
import EmberEngine
import EmberStore
import Testing

@Suite struct RunSizingTests {
    let loaded: LoadedModel

    init() throws {
        loaded = try LoadedModel(reference: try ModelStore.standard().resolve("smollm2"), threads: 1, store: .standard())
    }

    @Test func realModelDefaultsFollowTheModel() throws {
        #expect(loaded.model.trainedContextLength == 8192 && loaded.defaultContextLength == 4096)
        var warnings: [String] = []
        _ = try loaded.chatTemplate { warnings.append($0) }
        #expect(warnings.isEmpty)
    }

    @Test func realModelRunsThatDoNotFitNameTheirNumbers() throws {
        let weights = loaded.source.weightBytes, perPosition = loaded.model.cacheBytesPerPosition(type: .f16)
        let roomy = weights + loaded.model.activationBytes + 4 * 4096 * perPosition
        try loaded.checkFits(contextLength: 4096, slots: 4, cacheType: .f16, usableBytes: roomy)
        #expect(throws: MemoryShortfall.self) { try loaded.checkFits(contextLength: 4097, slots: 4, cacheType: .f16, usableBytes: roomy) }
        do {
            try loaded.checkFits(contextLength: 8192, slots: 4, cacheType: .f32, usableBytes: roomy)
            Issue.record("a run twice too large fit")
        } catch {
            #expect(error.fittingContext == 2048 && error.cacheBytes == 8192 * 4 * loaded.model.cacheBytesPerPosition(type: .f32))
            #expect(error.description.contains("use -c 2048 or less, fewer --parallel slots, or --cache-type f16"), "\(error)")
        }
        do {
            try loaded.checkFits(contextLength: Int.max / 2, slots: 4, cacheType: .f16, usableBytes: roomy)
            Issue.record("an overflowing run fit")
        } catch {
            #expect(error.cacheBytes == nil && error.description.contains("needs more than"), "\(error)")
        }
    }

    @Test func realModelContextBeyondTrainingIsWarnedAbout() throws {
        #expect(loaded.contextWarning(8192) == nil)
        let warning = try #require(loaded.contextWarning(9000))
        #expect(warning.contains("beyond the 8192 tokens") && warning.contains("RoPE base 100000 without scaling"), "\(warning)")
    }
}
