// Each sampler stage on fixed logit vectors, and seeded reproducibility.

import EmberEngine
import Foundation
import Testing

@Suite struct SamplerTests {
    /// Logits whose softmax is exactly the given probabilities.
    func logits(_ probabilities: [Float]) -> [Float] { probabilities.map { logf($0) } }

    func parameters(temperature: Float = 1, topK: Int = 0, topP: Float = 1, minP: Float = 0) -> SamplingParameters {
        var p = SamplingParameters()
        p.temperature = temperature
        p.topK = topK
        p.topP = topP
        p.minP = minP
        p.seed = 42
        return p
    }

    @Test func greedyTakesTheArgmax() {
        let sampler = Sampler(parameters: .greedy, vocabularySize: 5)
        let values: [Float] = [0.1, 2.5, -1, 2.4, 0]
        #expect(values.withUnsafeBufferPointer { sampler.sample($0, recent: []) } == 1)
        #expect(sampler.distribution(values).map(\.token) == [1])
    }

    @Test func withoutFiltersTheDistributionIsTheSoftmax() {
        let sampler = Sampler(parameters: parameters(), vocabularySize: 4)
        let result = sampler.distribution(logits([0.1, 0.4, 0.2, 0.3]))
        #expect(result.map(\.token) == [1, 3, 2, 0])
        for (got, want) in zip(result.map(\.probability), [0.4, 0.3, 0.2, 0.1] as [Float]) {
            #expect(abs(got - want) < 1e-6)
        }
    }

    @Test func topKKeepsTheKMostLikely() {
        let sampler = Sampler(parameters: parameters(topK: 2), vocabularySize: 4)
        let result = sampler.distribution(logits([0.1, 0.4, 0.2, 0.3]))
        #expect(result.map(\.token) == [1, 3])
        #expect(abs(result[0].probability - 0.4 / 0.7) < 1e-6)
    }

    @Test func topPKeepsTheSmallestSetReachingP() {
        // 0.4 + 0.3 = 0.7 >= 0.65: two tokens; 0.4 alone is not enough.
        let sampler = Sampler(parameters: parameters(topP: 0.65), vocabularySize: 4)
        #expect(sampler.distribution(logits([0.1, 0.4, 0.2, 0.3])).map(\.token) == [1, 3])
        let withTopK = Sampler(parameters: parameters(topK: 3, topP: 0.5), vocabularySize: 4)
        // Renormalised over the top 3 (0.4/0.9 = 0.44 < 0.5), so two tokens are kept.
        #expect(withTopK.distribution(logits([0.1, 0.4, 0.2, 0.3])).map(\.token) == [1, 3])
    }

    @Test func minPDropsTokensFarBelowTheBest() {
        // Threshold 0.5 * 0.4 = 0.2: 0.1 goes, 0.2 stays.
        let sampler = Sampler(parameters: parameters(minP: 0.5), vocabularySize: 4)
        #expect(sampler.distribution(logits([0.1, 0.4, 0.2, 0.3])).map(\.token) == [1, 3, 2])
    }

    @Test func temperatureSharpensAndFlattens() {
        let values = logits([0.1, 0.4, 0.2, 0.3])
        let cold = Sampler(parameters: parameters(temperature: 0.5), vocabularySize: 4).distribution(values)
        let hot = Sampler(parameters: parameters(temperature: 2), vocabularySize: 4).distribution(values)
        // p^(1/T) normalised: T = 0.5 squares the probabilities.
        #expect(abs(cold[0].probability - 0.16 / 0.30) < 1e-5)
        #expect(hot[0].probability < 0.4 && hot[0].probability > 0.25)
    }

    @Test func repeatPenaltyDividesPositiveAndMultipliesNegativeLogits() {
        var p = SamplingParameters.greedy
        p.repeatPenalty = 2
        let sampler = Sampler(parameters: p, vocabularySize: 3)
        // Token 0 (logit 3) was seen: 3 / 2 = 1.5 < 2, so token 1 wins.
        let values: [Float] = [3, 2, -1]
        #expect(values.withUnsafeBufferPointer { sampler.sample($0, recent: [0]) } == 1)
        // Outside the window it is not penalised.
        p.penaltyWindow = 1
        let windowed = Sampler(parameters: p, vocabularySize: 3)
        #expect(values.withUnsafeBufferPointer { windowed.sample($0, recent: [0, 2]) } == 0)
        // Negative logits get more negative: -1 * 2 = -2 < -1.5.
        let negative: [Float] = [-1, -1.5, -9]
        #expect(negative.withUnsafeBufferPointer { sampler.sample($0, recent: [0]) } == 1)
    }

    @Test func frequencyAndPresencePenalties() {
        var p = SamplingParameters.greedy
        p.frequencyPenalty = 0.5
        p.presencePenalty = 0.25
        let sampler = Sampler(parameters: p, vocabularySize: 2)
        // Token 0 seen twice: 2 - 2 * 0.5 - 0.25 = 0.75 < 1.
        let values: [Float] = [2, 1]
        #expect(values.withUnsafeBufferPointer { sampler.sample($0, recent: [0, 0]) } == 1)
        #expect(values.withUnsafeBufferPointer { sampler.sample($0, recent: [0]) } == 0)
    }

    @Test func seedMakesSamplingRepeatableAndDrawsFollowTheDistribution() {
        let values = logits([0.1, 0.4, 0.2, 0.3])
        func draws(seed: UInt64) -> [Int32] {
            var p = parameters()
            p.seed = seed
            let sampler = Sampler(parameters: p, vocabularySize: 4)
            return (0 ..< 4000).map { _ in values.withUnsafeBufferPointer { sampler.sample($0, recent: []) } }
        }
        let first = draws(seed: 7)
        #expect(first == draws(seed: 7))
        #expect(first != draws(seed: 8))
        let share = Float(first.filter { $0 == 1 }.count) / Float(first.count)
        #expect(abs(share - 0.4) < 0.03)
        #expect(!first.contains(where: { $0 < 0 || $0 > 3 }))
    }

    @Test func largeVocabularyTopPWithoutTopK() {
        // 50k tokens, one dominant: top-p 0.9 keeps just the dominant token.
        var values = [Float](repeating: 0, count: 50_000)
        values[12_345] = 20
        let sampler = Sampler(parameters: parameters(topP: 0.9), vocabularySize: values.count)
        #expect(sampler.distribution(values).map(\.token) == [12_345])
    }
}
