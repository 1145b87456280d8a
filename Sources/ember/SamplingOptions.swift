// The sampling options shared by the commands that generate from the command line (`run`, `chat`).

import ArgumentParser
import EmberEngine
import EmberModel

struct SamplingOptions: ParsableArguments {
    @Option(name: .customLong("temp"), help: "Temperature; 0 is greedy.")
    var temperature: Float = 0.8

    @Option(name: .customLong("top-k"), help: "Top-k (0: off).")
    var topK = 40

    @Option(name: .customLong("top-p"), help: "Top-p (1: off).")
    var topP: Float = 0.95

    @Option(name: .customLong("min-p"), help: "Min-p (0: off).")
    var minP: Float = 0.05

    @Option(name: .customLong("repeat-penalty"), help: "Repeat penalty (1: off).")
    var repeatPenalty: Float = 1.0

    @Option(name: .customLong("repeat-last-n"), help: "Tokens the repeat penalty looks back over (-1: all).")
    var repeatLastN = 64

    @Option(name: .customLong("presence-penalty"), help: "Subtracted once from the logit of each recent token (0: off).")
    var presencePenalty: Float = 0

    @Option(name: .customLong("frequency-penalty"), help: "Subtracted from the logit of a recent token per occurrence (0: off).")
    var frequencyPenalty: Float = 0

    @Option(name: .customLong("logit-bias"), help: ArgumentHelp("Add BIAS to the logit of token ID (-100 all but bans it); repeatable.",
                                                                 valueName: "ID(+|-)BIAS"))
    var logitBias: [String] = []

    @Option(name: .customLong("seed"), help: "Random seed (default: random).")
    var seed: UInt64?

    @Option(name: .customLong("stop"), help: "Stop at this string (not printed); repeatable.")
    var stop: [String] = []

    func validate() throws {
        if topP <= 0 || topP > 1 { throw ValidationError("--top-p must be in (0, 1]") }
        if minP < 0 || minP > 1 { throw ValidationError("--min-p must be in [0, 1]") }
        if repeatPenalty <= 0 { throw ValidationError("--repeat-penalty must be positive") }
        for entry in logitBias where Self.bias(entry) == nil {
            throw ValidationError("--logit-bias takes TOKEN_ID+BIAS or TOKEN_ID-BIAS (e.g. 15043+1.5), not '\(entry)'")
        }
    }

    /// "15043+1.5" or "15043-inf" as (token, bias), as llama.cpp writes it.
    static func bias(_ entry: String) -> (token: Int32, bias: Float)? {
        guard let sign = entry.firstIndex(where: { $0 == "+" || $0 == "-" }), let token = Int32(entry[..<sign]), token >= 0,
              let bias = Float(entry[sign...]) else { return nil }
        return (token, bias)
    }

    /// What to generate with, up to `tokens` tokens (-1: no limit), for a model of `vocabularySize` tokens.
    func parameters(tokens: Int, ignoreEOS: Bool = false, vocabularySize: Int) throws -> GenerationParameters {
        var sampling = SamplingParameters()
        sampling.temperature = temperature
        sampling.topK = topK
        sampling.topP = topP
        sampling.minP = minP
        sampling.repeatPenalty = repeatPenalty
        sampling.presencePenalty = presencePenalty
        sampling.frequencyPenalty = frequencyPenalty
        sampling.penaltyWindow = repeatLastN
        for case let (token, bias)? in logitBias.map(Self.bias) {
            guard token < vocabularySize else {
                throw ValidationError("--logit-bias names token \(token), but the model's vocabulary has \(vocabularySize) tokens")
            }
            sampling.logitBias[token, default: 0] += bias
        }
        sampling.seed = seed
        return GenerationParameters(maxTokens: tokens < 0 ? nil : tokens, sampling: sampling, stopStrings: stop,
                                    ignoresEndOfGeneration: ignoreEOS)
    }
}
