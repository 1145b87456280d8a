// Hyper-parameters from GGUF metadata: Llama 3.1's rope scaling against the frequency factors
// transformers derives from the same parameters, and the metadata defaults llama.cpp applies.

import EmberFormats
import EmberModel
import EmberTestSupport
import Foundation
import Testing

@Suite struct LlamaHyperParametersTests {
    /// Llama 3.1 8B's attention and rope metadata, and extra keys.
    func parameters(_ extra: [(String, GGUFValue)]) throws -> LlamaHyperParameters {
        let metadata: [(String, GGUFValue)] = [
            ("general.architecture", .string("llama")),
            ("llama.embedding_length", .uint32(4096)),
            ("llama.block_count", .uint32(32)),
            ("llama.feed_forward_length", .uint32(14336)),
            ("llama.attention.head_count", .uint32(32)),
            ("llama.attention.head_count_kv", .uint32(8)),
            ("llama.rope.freq_base", .float32(500_000)),
        ] + extra
        let path = try GGUFBuilder.file(metadata: metadata, tensors: []).write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try LlamaHyperParameters(metadata: GGUFFile(path: path).metadata, architecture: "llama", vocabularyFallback: 128_256)
    }

    @Test func llama3ScalingMatchesTransformers() throws {
        let p = try parameters([
            ("llama.rope.scaling.type", .string("llama3")),
            ("llama.rope.scaling.factor", .float32(8)),
            ("llama.rope.scaling.low_freq_factor", .float32(1)),
            ("llama.rope.scaling.high_freq_factor", .float32(4)),
            ("llama.rope.scaling.original_context_length", .uint32(8192)),
        ])
        // transformers' `_compute_llama3_parameters` for this configuration: the ratio of the unscaled
        // to the scaled inverse frequency of each of the 64 pairs.
        let expected: [Float] = [Float](repeating: 1, count: 29) + [1.20748, 1.55341, 2.02631, 2.69453, 3.68425, 5.25733]
            + [Float](repeating: 8, count: 29)
        let factors = try #require(p.llama3FrequencyFactors)
        #expect(factors.count == 64)
        for (pair, (got, want)) in zip(factors, expected).enumerated() {
            #expect(abs(got - want) <= 1e-4 * want, "pair \(pair): \(got), transformers \(want)")
        }
    }

    @Test func defaultsWhenKeysAreAbsent() throws {
        let p = try parameters([])
        #expect(p.ropeScaling == .none && p.llama3FrequencyFactors == nil)
        #expect(p.headDimension == 128 && p.ropeDimensions == 128)
        #expect(p.contextLength == 2048 && p.rmsEpsilon == 1e-5 && p.vocabularySize == 128_256)
    }

    @Test func unknownScalingIsNamed() throws {
        let error = ModelError.invalidHyperParameter(key: "llama.rope.scaling.type",
                                                     reason: "\"yarn\" scaling is not supported (none, linear, llama3 are)")
        #expect(throws: error) { try parameters([("llama.rope.scaling.type", .string("yarn"))]) }
    }
}
