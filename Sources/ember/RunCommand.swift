// `ember run`: generate text from a prompt, streaming only the generated text to stdout and a
// one-line timing summary to stderr.

import ArgumentParser
import EmberEngine
import EmberModel
import EmberStore
import Foundation

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Generate text from a prompt.")

    @Option(name: .customShort("m"), help: ArgumentHelp(modelHelp))
    var model = ModelAliases.defaultModel

    @Option(name: .customShort("p"), help: "The prompt.")
    var prompt: String?

    @Option(name: .customShort("f"), help: "Read the prompt from a file.")
    var file: String?

    @Option(name: .customShort("n"), parsing: .unconditional, help: "Tokens to generate (-1: until an end token or a full context).")
    var tokens = 256

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

    @Option(name: .customShort("c"), help: "Context size in tokens (default: the model's, at most 4096).")
    var context: Int?

    @Option(name: .customLong("cache-type"), help: "KV cache element type: f16 or f32.")
    var cacheType = CacheType.f16

    @Option(name: .customShort("t"), help: "Threads (default: one per core).")
    var threads: Int?

    @Option(name: .customLong("stop"), help: "Stop at this string (not printed); repeatable.")
    var stop: [String] = []

    @Flag(name: .customLong("no-special"), help: "Treat special-token text in the prompt (<|im_start|>) as plain text.")
    var noSpecial = false

    @Flag(name: .customLong("ignore-eos"), help: "Generate through end tokens (for benchmarks: always -n tokens).")
    var ignoreEOS = false

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if prompt != nil && file != nil { throw ValidationError("give the prompt with -p or -f, not both") }
        if let context, context < 1 { throw ValidationError("-c must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("-t must be at least 1") }
        if tokens == 0 || tokens < -1 { throw ValidationError("-n must be positive, or -1 for no limit") }
        if topP <= 0 || topP > 1 { throw ValidationError("--top-p must be in (0, 1]") }
        if minP < 0 || minP > 1 { throw ValidationError("--min-p must be in [0, 1]") }
        if repeatPenalty <= 0 { throw ValidationError("--repeat-penalty must be positive") }
    }

    func run() throws {
        try global.apply(command: "run")
        let text = try promptText()
        let loaded = try LoadedModel(reference: model, threads: threads, store: storeOptions.store)
        let contextLength = context ?? min(loaded.model.trainedContextLength, 4096)
        let promptTokens = loaded.tokenizer.encode(text, addSpecial: true, parseSpecial: !noSpecial)

        var sampling = SamplingParameters()
        sampling.temperature = temperature
        sampling.topK = topK
        sampling.topP = topP
        sampling.minP = minP
        sampling.repeatPenalty = repeatPenalty
        sampling.penaltyWindow = repeatLastN
        sampling.seed = seed
        let parameters = GenerationParameters(maxTokens: tokens < 0 ? nil : tokens, sampling: sampling, stopStrings: stop,
                                              ignoresEndOfGeneration: ignoreEOS)

        Interrupt.install()
        let generator = Generator(model: loaded.model, tokenizer: loaded.tokenizer, contextLength: contextLength,
                                  cacheType: cacheType)
        let output = FileHandle.standardOutput
        let statistics = try generator.generate(prompt: promptTokens, parameters: parameters,
                                                isCancelled: { Interrupt.isRequested }) { piece in
            if !piece.isEmpty { output.write(Data(piece.utf8)) }
        }
        // The line break that ends the text on a terminal goes to stderr with the summary, so that
        // stdout carries exactly the generated text.
        FileHandle.standardError.write(Data(("\n" + Self.summary(loaded.loadMilliseconds, statistics)).utf8))
    }

    private func promptText() throws -> String {
        if let file {
            do { return try String(contentsOfFile: file, encoding: .utf8) } catch {
                throw ValidationError("cannot read prompt file \(file): \(error.localizedDescription)")
            }
        }
        return prompt ?? ""
    }

    static func summary(_ loadMilliseconds: Double, _ s: GenerationStatistics) -> String {
        func format(_ value: Double) -> String { String(format: "%.1f", value) }
        return "load \(format(loadMilliseconds)) ms | prompt \(s.promptTokens) tokens, \(format(s.promptTokensPerSecond)) tok/s"
            + " | generation \(s.generatedTokens) tokens, \(format(s.generationTokensPerSecond)) tok/s | stop: \(s.stopReason.rawValue)\n"
    }
}

extension CacheType: ExpressibleByArgument {}
