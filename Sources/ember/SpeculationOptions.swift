// The speculative decoding options of run, chat and serve: a draft model (`--draft-model`, drafting
// `--draft` tokens a step) or prompt lookup (`--lookup N`), and the drafter they make.

import ArgumentParser
import EmberEngine
import EmberStore

struct SpeculationOptions: ParsableArguments {
    @Option(name: .customLong("draft-model"), help: "A smaller model with the same vocabulary that drafts tokens for the model to check (speculative decoding).")
    var draftModel: String?

    @Option(name: .customLong("draft"), parsing: .unconditional, help: "Tokens the draft model proposes per step.")
    var draftLength = 8

    @Option(name: .customLong("lookup"), parsing: .unconditional,
            help: "Draft up to N tokens per step by prompt lookup: what followed the last few tokens where they occurred before (no draft model).")
    var lookup: Int?

    func validate() throws {
        if draftModel != nil && lookup != nil { throw ValidationError("give --draft-model or --lookup, not both") }
        if !(1 ... 32).contains(draftLength) { throw ValidationError("--draft must be from 1 to 32 tokens") }
        if let lookup, !(1 ... 32).contains(lookup) { throw ValidationError("--lookup must be from 1 to 32 tokens") }
    }

    /// The drafter asked for, for `target` (the draft model loaded like it, on the same device), or nil.
    func drafter(for target: LoadedModel, contextLength: Int, runtime: RuntimeOptions, store: ModelStore) throws -> TokenDrafter? {
        if let lookup { return PromptLookup(draftLength: lookup) }
        guard let draftModel else { return nil }
        let draft = try LoadedModel(reference: draftModel, threads: runtime.threadCount, store: store, device: runtime.device.computeDevice)
        return try DraftModel(model: draft.model, tokenizer: draft.tokenizer, target: target.tokenizer, contextLength: contextLength,
                              draftLength: draftLength)
    }
}
