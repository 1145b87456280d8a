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

    @Option(name: .customLong("seed"), help: "Random seed (default: random).")
    var seed: UInt64?

    @Option(name: .customLong("stop"), help: "Stop at this string (not printed); repeatable.")
    var stop: [String] = []

    func validate() throws {
        if topP <= 0 || topP > 1 { throw ValidationError("--top-p must be in (0, 1]") }
        if minP < 0 || minP > 1 { throw ValidationError("--min-p must be in [0, 1]") }
        if repeatPenalty <= 0 { throw ValidationError("--repeat-penalty must be positive") }
    }

    /// What to generate with, up to `tokens` tokens (-1: no limit).
    func parameters(tokens: Int, ignoreEOS: Bool = false) -> GenerationParameters {
        var sampling = SamplingParameters()
        sampling.temperature = temperature
        sampling.topK = topK
        sampling.topP = topP
        sampling.minP = minP
        sampling.repeatPenalty = repeatPenalty
        sampling.penaltyWindow = repeatLastN
        sampling.seed = seed
        return GenerationParameters(maxTokens: tokens < 0 ? nil : tokens, sampling: sampling, stopStrings: stop,
                                    ignoresEndOfGeneration: ignoreEOS)
    }
}
