// `ember convert`: a Hugging Face checkpoint (a directory or hf:OWNER/REPO) written as one GGUF file,
// read by the same conversion `ember run` applies at load, optionally quantized, in the form
// llama.cpp loads (Llama 3.1's RoPE scaling as its `rope_freqs.weight` tensor).

import ArgumentParser
import EmberCheckpoint
import EmberFormats
import EmberModel
import EmberStore
import Foundation

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Write a Hugging Face checkpoint (a directory or hf:OWNER/REPO[@REV]) as a GGUF file.")

    @Argument(help: "The checkpoint: a directory with config.json, tokenizer.json and .safetensors weights, or hf:OWNER/REPO[@REV].")
    var checkpoint: String

    @Option(name: .customShort("o"), help: ArgumentHelp("The GGUF file to write.", valueName: "FILE"))
    var output: String

    @Option(name: .customLong("quantize"), help: "Quantize the weight matrices: q8_0, q4_k, q4_0 or f16 (default: keep the checkpoint's types).")
    var quantize: TensorType?

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try global.apply(command: "convert")
        let store = try storeOptions.store, reference = checkpoint
        guard let directory = try Blocking.run({ () throws(StoreError) in try await store.checkpointDirectory(reference) }) else {
            throw CommandFailure("\(checkpoint) is not a checkpoint: give a directory with config.json, or hf:OWNER/REPO")
        }
        let source = try Checkpoint(directory: directory, quantize: quantize)
        var metadata = source.metadata.keys.map { (key: $0, value: source.metadata[$0]!) }
        var tensors = source.tensors.map { source.view(named: $0.name)! }
        try Self.llamaCppRopeScaling(&metadata, &tensors, source: source)
        if quantize != nil { metadata.append(("general.quantization_version", .uint32(2))) }

        var reported = 0
        try GGUFWriter.write(metadata: metadata, tensors: tensors, to: output) { written, size in
            guard !storeOptions.quiet, written - reported >= 256 << 20 || written == size else { return }
            reported = written
            FileHandle.standardError.write(Data("ember: writing \(output): \(written >> 20) of \(size >> 20) MiB\n".utf8))
        }
        print(output)
    }

    /// llama.cpp knows Llama 3.1's scaling only as per-pair factors in `rope_freqs.weight`, as its own
    /// converter writes them: the metadata's `rope.scaling` keys become that tensor.
    static func llamaCppRopeScaling(_ metadata: inout [(key: String, value: GGUFValue)], _ tensors: inout [TensorView],
                                    source: any ModelSource) throws {
        let architecture = source.metadata["general.architecture"]?.stringValue ?? ""
        guard source.metadata["\(architecture).rope.scaling.type"]?.stringValue == "llama3" else { return }
        let parameters = try LlamaHyperParameters(metadata: source.metadata, architecture: architecture, vocabularyFallback: 1)
        guard let factors = parameters.llama3FrequencyFactors else { return }
        metadata.removeAll { $0.key.hasPrefix("\(architecture).rope.scaling.") }
        tensors.insert(Checkpoint.floatTensor(name: "rope_freqs.weight", values: factors), at: 0)
    }
}
