// What a checkpoint says about itself before any weight is read: config.json,
// generation_config.json and the tokenizer files, turned into the GGUF metadata llama.cpp's
// converter writes. It needs none of the shards, so a repository still downloading its weights can
// build its tokenizer from it.

import EmberFormats
import EmberTrace
import Foundation

public struct CheckpointMetadata: Sendable {
    let config: HFConfig
    public let metadata: GGUFMetadata

    /// Reads the configuration and tokenizer files of the checkpoint in `directory`.
    public init(directory: String) throws(CheckpointError) {
        func path(_ name: String) -> String { URL(fileURLWithPath: directory).appendingPathComponent(name).path }
        let configPath = path("config.json"), generationPath = path("generation_config.json")
        guard FileManager.default.fileExists(atPath: configPath) else { throw .missingFile(directory: directory, name: "config.json") }
        let generation = try FileManager.default.fileExists(atPath: generationPath) ? CheckpointJSON.decode(GenerationConfigJSON.self, path: generationPath) : nil
        let config = try Trace.span("load.config") { () throws(CheckpointError) in try HFConfig(path: configPath, generation: generation) }
        let tokenizer = try Trace.span("load.tokenizer_json") { () throws(CheckpointError) in
            try HFTokenizer(directory: directory, vocabularySize: config.json.vocab_size, generation: generation,
                            configIDs: (config.json.bos_token_id?.ids ?? [], config.json.eos_token_id?.ids ?? []))
        }
        let name = URL(fileURLWithPath: directory).standardizedFileURL.lastPathComponent
        self.config = config
        metadata = GGUFMetadata(config.metadata + [("general.name", .string(name))] + tokenizer.metadata)
    }
}
