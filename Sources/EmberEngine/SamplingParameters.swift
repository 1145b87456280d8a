// How the next token is chosen. Defaults are llama.cpp's, so `ember run` and `llama-cli` behave alike
// out of the box, except where a model recommends its own (`general.sampling.*`, which a checkpoint's
// generation_config.json gives).

import EmberFormats

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

/// The sampling a model's files recommend (`general.sampling.temp`, `top_k`, `top_p`, `min_p`, as
/// llama.cpp names them; a checkpoint's generation_config.json), each nil where they say nothing:
/// what a user or request does not set comes from here before Ember's defaults.
public struct ModelSamplingDefaults: Sendable, Equatable {
    public var temperature: Float?
    public var topK: Int?
    public var topP: Float?
    public var minP: Float?

    public init(metadata: GGUFMetadata) {
        temperature = (try? metadata.floatIfPresent("general.sampling.temp")) ?? nil
        topK = (try? metadata.intIfPresent("general.sampling.top_k")) ?? nil
        topP = (try? metadata.floatIfPresent("general.sampling.top_p")) ?? nil
        minP = (try? metadata.floatIfPresent("general.sampling.min_p")) ?? nil
    }

    public init() {}
}
