// `ember chat`: a conversation in the terminal. Each line is a user turn, rendered with the model's
// chat template; the reply streams to stdout and a one-line summary (with how many prompt tokens the
// KV cache already held) to stderr. `/reset` forgets the turns, `/system TEXT` sets the system
// prompt, Ctrl-C stops a reply, Ctrl-D quits.

import ArgumentParser
import EmberEngine
import EmberStore
import EmberTrace
import Foundation

struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Chat with a model in the terminal (/reset, /system TEXT, Ctrl-D to quit).")

    @Option(name: .customShort("m"), help: ArgumentHelp(modelHelp))
    var model = ModelAliases.defaultModel

    @Option(name: .customShort("n"), parsing: .unconditional, help: "Most tokens per reply (-1: until an end token).")
    var tokens = -1

    @Option(name: .customLong("system"), help: "The system prompt.")
    var system: String?

    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var runtime: RuntimeOptions
    @OptionGroup var speculation: SpeculationOptions
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if tokens == 0 || tokens < -1 { throw ValidationError("-n must be positive, or -1 for no limit") }
    }

    func run() throws {
        try global.apply(command: "chat")
        let loaded = try LoadedModel(reference: model, threads: runtime.threadCount, store: try storeOptions.store,
                                     device: runtime.device.computeDevice, quantize: runtime.quantize)
        let template = try loaded.chatTemplate(warn: RuntimeOptions.warn)
        let contextLength = try runtime.checkedContextLength(for: loaded)
        let generator = Generator(model: loaded.model, tokenizer: loaded.tokenizer, contextLength: contextLength, cacheType: runtime.cacheType)
        generator.drafter = try speculation.drafter(for: loaded, contextLength: contextLength, runtime: runtime, store: try storeOptions.store)
        let session = ChatSession(generator: generator, template: template)
        session.systemPrompt = system
        let parameters = try sampling.parameters(tokens: tokens, vocabularySize: loaded.model.vocabularySize,
                                                 model: loaded.samplingDefaults)
        let output = FileHandle.standardOutput, errors = FileHandle.standardError

        Interrupt.install()
        while true {
            output.write(Data("> ".utf8))
            guard let line = readLine() else { break }  // Ctrl-D
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            if text == "/reset" {
                session.reset()
                errors.write(Data("(the conversation is cleared)\n".utf8))
                continue
            }
            if text.hasPrefix("/system") {
                let prompt = text.dropFirst("/system".count).trimmingCharacters(in: .whitespaces)
                session.systemPrompt = prompt.isEmpty ? nil : prompt
                errors.write(Data((prompt.isEmpty ? "(no system prompt)\n" : "(system prompt set)\n").utf8))
                continue
            }
            Interrupt.clear()
            do {
                // A long message (a pasted document) shows how far its prompt has come.
                let prefilled = ProgressCounter()
                let heartbeat = Heartbeat("prompt", progress: { prefilled.describe("tokens") })
                defer { heartbeat.stop() }
                let statistics = try session.send(line, parameters: parameters, isCancelled: { Interrupt.isRequested },
                                                  prefillProgress: prefilled) { piece in
                    if !piece.isEmpty { output.write(Data(piece.utf8)) }
                }
                output.write(Data("\n".utf8))
                errors.write(Data(Self.summary(statistics).utf8))
            } catch {
                errors.write(Data("error: \(error)\n".utf8))
            }
        }
        output.write(Data("\n".utf8))
    }

    static func summary(_ s: GenerationStatistics) -> String {
        func format(_ value: Double) -> String { String(format: "%.1f", value) }
        return "prompt \(s.promptTokens) new tokens (\(s.reusedPromptTokens) from the cache), \(format(s.promptTokensPerSecond)) tok/s"
            + " | reply \(s.generatedTokens) tokens, \(format(s.generationTokensPerSecond)) tok/s | stop: \(s.stopReason.rawValue)\n"
    }
}
