// How the next token is chosen. Defaults are llama.cpp's, so `ember run` and `llama-cli` behave alike
// out of the box.

public struct SamplingParameters: Sendable, Equatable {
    /// 0 (or less) means greedy: always the most likely token.
    public var temperature: Float = 0.8
    /// Keep only the k most likely tokens (0 = all).
    public var topK: Int = 40
    /// Keep the smallest set of most likely tokens whose probability reaches p (1 = all).
    public var topP: Float = 0.95
    /// Drop tokens less likely than min_p times the most likely one (0 = none).
    public var minP: Float = 0.05
    /// Divides positive logits (multiplies negative ones) of recently seen tokens (1 = off).
    public var repeatPenalty: Float = 1.0
    /// Subtracted per occurrence of a recent token (0 = off).
    public var frequencyPenalty: Float = 0
    /// Subtracted once for any recent token (0 = off).
    public var presencePenalty: Float = 0
    /// How many recent tokens the penalties look at (0 = none, -1 = the whole context).
    public var penaltyWindow: Int = 64
    /// Added to the logits of these tokens before anything else (-100 all but bans one), as OpenAI's
    /// `logit_bias` and llama.cpp's `--logit-bias`.
    public var logitBias: [Int32: Float] = [:]
    /// Seed of the random choice; nil draws one from the system.
    public var seed: UInt64? = nil

    public init() {}

    public static var greedy: SamplingParameters {
        var parameters = SamplingParameters()
        parameters.temperature = 0
        return parameters
    }

    public var isGreedy: Bool { temperature <= 0 }
    var hasPenalties: Bool { repeatPenalty != 1 || frequencyPenalty != 0 || presencePenalty != 0 }
}
