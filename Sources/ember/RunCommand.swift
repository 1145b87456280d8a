// `ember run`: generate text from a prompt, streaming only the generated text to stdout and a
// one-line timing summary to stderr.

import ArgumentParser
import EmberEngine
import EmberModel
import EmberStore
import EmberTrace
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

    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var runtime: RuntimeOptions
    @OptionGroup var speculation: SpeculationOptions

    @Flag(name: .customLong("no-special"), help: "Treat special-token text in the prompt (<|im_start|>) as plain text.")
    var noSpecial = false

    @Flag(name: .customLong("ignore-eos"), help: "Generate through end tokens (for benchmarks: always -n tokens).")
    var ignoreEOS = false

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if prompt != nil && file != nil { throw ValidationError("give the prompt with -p or -f, not both") }
        if tokens == 0 || tokens < -1 { throw ValidationError("-n must be positive, or -1 for no limit") }
    }

    func run() throws {
        try global.apply(command: "run")
        let text = try promptText()
        let loaded = try LoadedModel(reference: model, threads: runtime.threadCount, store: try storeOptions.store,
                                     device: runtime.device.computeDevice, quantize: runtime.quantize)
        let contextLength = try runtime.checkedContextLength(for: loaded)
        let promptTokens = loaded.tokenizer.encode(text, addSpecial: true, parseSpecial: !noSpecial)
        let parameters = try sampling.parameters(tokens: tokens, ignoreEOS: ignoreEOS, vocabularySize: loaded.model.vocabularySize,
                                                 model: loaded.samplingDefaults)

        Interrupt.install()
        let generator = Generator(model: loaded.model, tokenizer: loaded.tokenizer,
                                  contextLength: contextLength, cacheType: runtime.cacheType)
        generator.drafter = try speculation.drafter(for: loaded, contextLength: contextLength, runtime: runtime, store: try storeOptions.store)
        let output = FileHandle.standardOutput
        // A long prompt shows how far it has come; the generated text then shows itself.
        let prefilled = ProgressCounter()
        let heartbeat = Heartbeat("prompt", progress: { prefilled.describe("tokens") })
        defer { heartbeat.stop() }
        let statistics = try generator.generate(prompt: promptTokens, parameters: parameters,
                                                isCancelled: { Interrupt.isRequested }, prefillProgress: prefilled) { piece in
            if !piece.isEmpty { output.write(Data(piece.utf8)) }
        }
        // The line break that ends the text on a terminal goes to stderr with the summary, so that
        // stdout carries exactly the generated text.
        FileHandle.standardError.write(Data(("\n" + Self.summary(loaded.loadMilliseconds, statistics)).utf8))
    }

    private func promptText() throws -> String {
        if let file {
            do { return try String(contentsOfFile: file, encoding: .utf8) } catch {
                throw CommandFailure("cannot read prompt file \(file): \(error.localizedDescription)")
            }
        }
        return prompt ?? ""
    }

    static func summary(_ loadMilliseconds: Double, _ s: GenerationStatistics) -> String {
        func format(_ value: Double) -> String { String(format: "%.1f", value) }
        return "load \(format(loadMilliseconds)) ms | prompt \(s.promptTokens) tokens, \(format(s.promptTokensPerSecond)) tok/s"
            + " | generation \(s.generatedTokens) tokens, \(format(s.generationTokensPerSecond)) tok/s"
            + (s.draftedTokens > 0 ? " | drafts accepted \(s.acceptedDraftTokens)/\(s.draftedTokens)" : "")
            + " | stop: \(s.stopReason.rawValue)\n"
    }
}
