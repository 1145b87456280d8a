// Each sampler stage on fixed logit vectors, and seeded reproducibility.

import EmberEngine
import EmberFormats
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
        var values: [Float] = [0.1, 2.5, -1, 2.4, 0]
        #expect(values.withUnsafeMutableBufferPointer { sampler.sample($0, recent: []) } == 1)
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
        var values: [Float] = [3, 2, -1]
        #expect(values.withUnsafeMutableBufferPointer { sampler.sample($0, recent: [0]) } == 1)
        // Outside the window it is not penalised.
        p.penaltyWindow = 1
        let windowed = Sampler(parameters: p, vocabularySize: 3)
        #expect(values.withUnsafeMutableBufferPointer { windowed.sample($0, recent: [0, 2]) } == 0)
        // Negative logits get more negative: -1 * 2 = -2 < -1.5.
        var negative: [Float] = [-1, -1.5, -9]
        #expect(negative.withUnsafeMutableBufferPointer { sampler.sample($0, recent: [0]) } == 1)
    }

    @Test func frequencyAndPresencePenalties() {
        var p = SamplingParameters.greedy
        p.frequencyPenalty = 0.5
        p.presencePenalty = 0.25
        let sampler = Sampler(parameters: p, vocabularySize: 2)
        // Token 0 seen twice: 2 - 2 * 0.5 - 0.25 = 0.75 < 1.
        var values: [Float] = [2, 1]
        #expect(values.withUnsafeMutableBufferPointer { sampler.sample($0, recent: [0, 0]) } == 1)
        #expect(values.withUnsafeMutableBufferPointer { sampler.sample($0, recent: [0]) } == 0)
    }

    @Test func seedMakesSamplingRepeatableAndDrawsFollowTheDistribution() {
        var values = logits([0.1, 0.4, 0.2, 0.3])
        func draws(seed: UInt64) -> [Int32] {
            var p = parameters()
            p.seed = seed
            let sampler = Sampler(parameters: p, vocabularySize: 4)
            return (0 ..< 4000).map { _ in values.withUnsafeMutableBufferPointer { sampler.sample($0, recent: []) } }
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

/// The sampler chain written the plain way (sort everything, cut prefixes), to hold the sampler's
/// selection-based cuts against.
struct ReferenceSampler {
    let parameters: SamplingParameters
    /// Tokens at the top-p cut whose cumulative probability is within float rounding of p: whether they
    /// are kept depends on the order of float additions (the sampler sums in float, this in double).
    var borderline: Set<Int32> = []

    mutating func distribution(_ logits: [Float], recent: [Int32]) -> [Int32: Double] {
        var values = logits
        for (token, bias) in parameters.logitBias { values[Int(token)] += bias }
        let window = parameters.penaltyWindow < 0 ? recent.count : min(parameters.penaltyWindow, recent.count)
        var counts: [Int32: Int] = [:]
        for token in recent.suffix(window) { counts[token, default: 0] += 1 }
        for (token, count) in counts {
            var logit = values[Int(token)]
            logit = logit > 0 ? logit / parameters.repeatPenalty : logit * parameters.repeatPenalty
            logit -= Float(count) * parameters.frequencyPenalty + parameters.presencePenalty
            values[Int(token)] = logit
        }
        var sorted = values.enumerated().map { (token: Int32($0.offset), logit: Double($0.element)) }
        sorted.sort { ($0.logit, $1.token) > ($1.logit, $0.token) }
        if parameters.topK > 0 { sorted = Array(sorted.prefix(parameters.topK)) }
        let maximum = sorted[0].logit
        if parameters.topP < 1 {
            let total = sorted.reduce(0) { $0 + exp($1.logit - maximum) }
            var cumulative = 0.0, end = sorted.count
            for (index, candidate) in sorted.enumerated() {
                if abs(cumulative - Double(parameters.topP)) < 1e-5 { borderline.insert(candidate.token) }
                cumulative += exp(candidate.logit - maximum) / total
                if cumulative >= Double(parameters.topP) && end == sorted.count { end = index + 1 }
                if cumulative > Double(parameters.topP) + 1e-5 { break }
            }
            sorted = Array(sorted.prefix(end))
        }
        if parameters.minP > 0 {
            sorted = sorted.filter { $0.logit >= maximum + log(Double(parameters.minP)) }
        }
        let weights = sorted.map { exp(($0.logit - maximum) / Double(parameters.temperature)) }
        let total = weights.reduce(0, +)
        return Dictionary(uniqueKeysWithValues: zip(sorted.map(\.token), weights.map { $0 / total }))
    }
}

@Suite struct SamplerSelectionTests {
    /// Logits like a model's: a few strong candidates over a long tail, and some exact ties.
    func modelLikeLogits(_ count: Int, seed: UInt64) -> [Float] {
        var random = SeededRandom(seed: seed)
        var values = (0 ..< count).map { _ in random.nextUnitFloat() * 12 - 8 }
        for index in 0 ..< 20 { values[Int(random.next() % UInt64(count))] = 6 + Float(index % 7) }
        for index in 0 ..< 30 { values[index * 3] = 5 }  // ties at one value
        return values
    }

    @Test(arguments: [1000, 50_000])
    func everyCombinationMatchesThePlainChain(vocabularySize: Int) {
        let logits = modelLikeLogits(vocabularySize, seed: UInt64(vocabularySize))
        let recent: [Int32] = [3, 3, 7, 42, 3, 9, Int32(vocabularySize - 1)]
        var cases = 0
        let settings = [0, 1, 5, 40, 600].flatMap { topK in [1, 0.95, 0.5].flatMap { (topP: Float) in [0, 0.05, 0.3].flatMap { (minP: Float) in
            [0.7, 1.3].flatMap { (temperature: Float) in [false, true].map { (topK, topP, minP, temperature, $0) } } } } }
        for (topK, topP, minP, temperature, penalised) in settings {
            var p = SamplingParameters()
            (p.topK, p.topP, p.minP, p.temperature, p.seed) = (topK, topP, minP, temperature, 1)
            if penalised {
                (p.repeatPenalty, p.frequencyPenalty, p.presencePenalty) = (1.3, 0.2, 0.1)
                p.logitBias = [11: 4, 12: -100]
            }
            let got = Sampler(parameters: p, vocabularySize: vocabularySize).distribution(logits, recent: recent)
            var reference = ReferenceSampler(parameters: p)
            let want = reference.distribution(logits, recent: recent)
            let label = "k \(topK) p \(topP) min-p \(minP) T \(temperature) penalties \(penalised)"
            // The same tokens, but for ones at the top-p cut within rounding of p.
            let kept = Set(got.map(\.token)), wanted = Set(want.keys)
            #expect(kept.symmetricDifference(wanted).isSubset(of: reference.borderline),
                    "\(label): kept \(kept.count), want \(wanted.count), \(kept.symmetricDifference(wanted).count) differ")
            if kept == wanted {
                for (token, probability) in got {
                    #expect(abs(Double(probability) - want[token]!) < 2e-5, "\(label): token \(token)")
                }
            }
            cases += 1
        }
        #expect(cases == 180)
    }

    @Test func samplingLeavesTheRowAsItWas() {
        var p = SamplingParameters()
        (p.repeatPenalty, p.presencePenalty, p.logitBias) = (1.5, 0.5, [2: 3, 5: -100])
        let original = modelLikeLogits(2000, seed: 3)
        var row = original
        let sampler = Sampler(parameters: p, vocabularySize: row.count)
        for _ in 0 ..< 20 { _ = row.withUnsafeMutableBufferPointer { sampler.sample($0, recent: [2, 2, 9]) } }
        #expect(row == original)
    }

    @Test func logitBiasBansAndForces() {
        var values: [Float] = [5, 1, 0, 0]
        var p = SamplingParameters.greedy
        p.logitBias = [0: -100]
        #expect(values.withUnsafeMutableBufferPointer { Sampler(parameters: p, vocabularySize: 4).sample($0, recent: []) } == 1)
        p = SamplingParameters()
        p.logitBias = [3: 100]
        let sampler = Sampler(parameters: p, vocabularySize: 4)
        #expect((0 ..< 50).allSatisfy { _ in values.withUnsafeMutableBufferPointer { sampler.sample($0, recent: []) } == 3 })
    }

    /// With no filter every token can be drawn: the draw goes through the vocabulary's blocks.
    @Test func drawsFromEveryTokenFollowTheSoftmax() {
        var values = [Float](repeating: -30, count: 5000)
        // Probabilities 0.5, 0.3, 0.2 on tokens in three different blocks.
        for (token, probability) in [(10, 0.5), (2500, 0.3), (4999, 0.2)] as [(Int, Float)] { values[token] = logf(probability) }
        var p = SamplingParameters()
        (p.topK, p.topP, p.minP, p.temperature, p.seed) = (0, 1, 0, 1, 9)
        let sampler = Sampler(parameters: p, vocabularySize: values.count)
        var counts: [Int32: Int] = [:]
        for _ in 0 ..< 6000 { counts[values.withUnsafeMutableBufferPointer { sampler.sample($0, recent: []) }, default: 0] += 1 }
        #expect(Set(counts.keys) == [10, 2500, 4999])
        #expect(abs(Double(counts[10]!) / 6000 - 0.5) < 0.03)
        #expect(abs(Double(counts[2500]!) / 6000 - 0.3) < 0.03)
    }

    @Test func topKBreaksTiesTowardsLowerTokens() {
        var p = SamplingParameters()
        (p.topK, p.topP, p.minP) = (3, 1, 0)
        let values: [Float] = [1, 2, 2, 0, 2, 2]
        #expect(Set(Sampler(parameters: p, vocabularySize: 6).distribution(values).map(\.token)) == [1, 2, 4])
    }

    @Test func aVocabularyOf262144TokensWithTopPOnly() {
        var values = modelLikeLogits(262_144, seed: 5)
        values[200_000] = 40
        var p = SamplingParameters()
        (p.topK, p.topP, p.minP, p.seed) = (0, 0.9, 0, 3)
        let sampler = Sampler(parameters: p, vocabularySize: values.count)
        #expect(values.withUnsafeMutableBufferPointer { sampler.sample($0, recent: []) } == 200_000)
    }

    /// A model's recommended sampling is read from llama.cpp's keys; absent keys leave Ember's defaults.
    @Test func modelRecommendationsComeFromTheMetadata() {
        let recommended = ModelSamplingDefaults(metadata: GGUFMetadata([("general.sampling.temp", .float32(0.7)),
                                                                        ("general.sampling.top_k", .int32(20))]))
        #expect(recommended.temperature == 0.7 && recommended.topK == 20 && recommended.topP == nil && recommended.minP == nil)
        #expect(ModelSamplingDefaults(metadata: GGUFMetadata([])) == ModelSamplingDefaults())
    }
}
