// The sampling options shared by the commands that generate from the command line (`run`, `chat`).
// Numbers may be negative, as llama.cpp users type them (`--seed -1`, `--top-k -1`), and each is
// checked against its range with a message naming it.

import ArgumentParser
import Foundation
import EmberEngine
import EmberGrammar
import EmberModel

struct SamplingOptions: ParsableArguments {
    // Unset, these four come from the model's recommendation (generation_config.json), else llama.cpp's defaults.
    @Option(name: .customLong("temp"), parsing: .unconditional, help: "Temperature, 0 or more; 0 is greedy (default: the model's, else 0.8).")
    var temperature: Float?

    @Option(name: .customLong("top-k"), parsing: .unconditional, help: "Top-k (0 or less: off, as in llama.cpp; default: the model's, else 40).")
    var topK: Int?

    @Option(name: .customLong("top-p"), parsing: .unconditional, help: "Top-p, in (0, 1] (1: off; default: the model's, else 0.95).")
    var topP: Float?

    @Option(name: .customLong("min-p"), parsing: .unconditional, help: "Min-p, in [0, 1] (0: off; default: the model's, else 0.05).")
    var minP: Float?

    @Option(name: .customLong("repeat-penalty"), parsing: .unconditional, help: "Repeat penalty, above 0 (1: off).")
    var repeatPenalty: Float = 1.0

    @Option(name: .customLong("repeat-last-n"), parsing: .unconditional,
            help: "Tokens the penalties look back over (-1: all, 0: none).")
    var repeatLastN = 64

    @Option(name: .customLong("presence-penalty"), parsing: .unconditional, help: "Subtracted once from the logit of each recent token (0: off).")
    var presencePenalty: Float = 0

    @Option(name: .customLong("frequency-penalty"), parsing: .unconditional, help: "Subtracted from the logit of a recent token per occurrence (0: off).")
    var frequencyPenalty: Float = 0

    @Option(name: .customLong("logit-bias"), parsing: .unconditionalSingleValue, help: ArgumentHelp("Add BIAS to the logit of token ID (-100 all but bans it); repeatable.",
                                                                 valueName: "ID(+|-)BIAS"))
    var logitBias: [String] = []

    @Option(name: .customLong("seed"), parsing: .unconditional, help: "Random seed, 0 or more (-1 or none: random, printed).")
    var seed: Int64?

    @Option(name: .customLong("stop"), help: "Stop at this string (not printed); repeatable.")
    var stop: [String] = []

    @Option(name: .customLong("grammar"), help: ArgumentHelp("Constrain the output to this GBNF grammar (llama.cpp's format).", valueName: "FILE"))
    var grammarFile: String?

    @Option(name: .customLong("json-schema"), help: ArgumentHelp("Constrain the output to JSON that this JSON schema accepts.", valueName: "FILE"))
    var jsonSchemaFile: String?

    func validate() throws {
        if let temperature, !(temperature >= 0 && temperature.isFinite) { throw ValidationError("--temp must be 0 (greedy) or more, not \(temperature)") }
        if let topP, !(topP > 0 && topP <= 1) { throw ValidationError("--top-p must be in (0, 1], not \(topP)") }
        if let minP, !(minP >= 0 && minP <= 1) { throw ValidationError("--min-p must be in [0, 1], not \(minP)") }
        if !(repeatPenalty > 0 && repeatPenalty.isFinite) { throw ValidationError("--repeat-penalty must be above 0, not \(repeatPenalty)") }
        if repeatLastN < -1 { throw ValidationError("--repeat-last-n must be -1 (all), 0 (none) or more, not \(repeatLastN)") }
        if !presencePenalty.isFinite { throw ValidationError("--presence-penalty must be a finite number, not \(presencePenalty)") }
        if !frequencyPenalty.isFinite { throw ValidationError("--frequency-penalty must be a finite number, not \(frequencyPenalty)") }
        if let seed, seed < -1 { throw ValidationError("--seed must be 0 or more, or -1 for a random one, not \(seed)") }
        if grammarFile != nil && jsonSchemaFile != nil { throw ValidationError("--grammar and --json-schema: give one or the other") }
        for entry in logitBias where Self.bias(entry) == nil {
            throw ValidationError("--logit-bias takes TOKEN_ID+BIAS or TOKEN_ID-BIAS (e.g. 15043+1.5), not '\(entry)'")
        }
    }

    /// "15043+1.5" or "15043-inf" as (token, bias), as llama.cpp writes it.
    static func bias(_ entry: String) -> (token: Int32, bias: Float)? {
        guard let sign = entry.firstIndex(where: { $0 == "+" || $0 == "-" }), let token = Int32(entry[..<sign]), token >= 0,
              let bias = Float(entry[sign...]), !bias.isNaN else { return nil }
        return (token, bias)
    }

    /// What to generate with, up to `tokens` tokens (-1: no limit), for a model of `vocabularySize` tokens.
    /// What the options leave unset comes from `model`'s recommendation, then from Ember's defaults.
    func parameters(tokens: Int, ignoreEOS: Bool = false, vocabularySize: Int,
                    model: ModelSamplingDefaults = ModelSamplingDefaults()) throws -> GenerationParameters {
        var sampling = SamplingParameters()
        sampling.temperature = temperature ?? model.temperature ?? sampling.temperature
        sampling.topK = max(0, topK ?? model.topK ?? sampling.topK)
        sampling.topP = topP ?? model.topP ?? sampling.topP
        sampling.minP = minP ?? model.minP ?? sampling.minP
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
        sampling.seed = try chosenSeed(greedy: sampling.temperature == 0)
        var parameters = GenerationParameters(maxTokens: tokens < 0 ? nil : tokens, sampling: sampling, stopStrings: stop,
                                              ignoresEndOfGeneration: ignoreEOS)
        parameters.grammar = try grammar()
        return parameters
    }

    /// The grammar of --grammar or --json-schema, read and checked.
    private func grammar() throws -> Grammar? {
        guard let (path, option) = grammarFile.map({ ($0, "--grammar") }) ?? jsonSchemaFile.map({ ($0, "--json-schema") }) else { return nil }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw CommandFailure("\(option) \(path): cannot read it (\(error.localizedDescription))")
        }
        do {
            return option == "--grammar" ? try GBNFParser.parse(text) : try JSONSchemaGrammar.grammar(schema: text)
        } catch {
            throw CommandFailure("\(option) \(path): \(error)")
        }
    }

    /// The seed given, or a random one, printed so that the run can be repeated (not for greedy runs,
    /// which draw nothing).
    private func chosenSeed(greedy: Bool) throws -> UInt64 {
        if let seed, seed >= 0 { return UInt64(seed) }
        let random = UInt64.random(in: 0 ... UInt64(Int64.max))
        if !greedy { FileHandle.standardError.write(Data("ember: seed \(random) (--seed \(random) repeats this run)\n".utf8)) }
        return random
    }
}
