// What can be wrong with a Hugging Face checkpoint directory, each case naming the file, key or
// tensor at fault.

import EmberFormats

public enum CheckpointError: Error, CustomStringConvertible {
    case missingFile(directory: String, name: String)
    /// The directory has weights only in formats Ember does not read (pickle's .bin, .pt, ...).
    case pickleOnly(directory: String, files: [String])
    case noWeights(directory: String)
    case unreadable(path: String, reason: String)
    case invalidJSON(path: String, reason: String)
    case unsupportedArchitecture(String)
    case invalidConfig(key: String, reason: String)
    case unsupportedTokenizer(reason: String)
    case safetensors(path: String, SafetensorsError)
    /// A shard named by model.safetensors.index.json that is not in the directory, or a tensor it maps to a shard that lacks it.
    case missingShardTensor(tensor: String, shard: String)
    case duplicateTensor(String, shards: [String])
    case tensorShape(tensor: String, reason: String)
    case unsupportedQuantization(TensorType)

    public var description: String {
        switch self {
        case let .missingFile(directory, name): "checkpoint \(directory) has no \(name)"
        case let .pickleOnly(directory, files):
            "checkpoint \(directory) has its weights only as \(files.joined(separator: ", ")) (pickle); Ember never unpickles: "
                + "use a repository with .safetensors files, or convert the weights to safetensors"
        case let .noWeights(directory): "checkpoint \(directory) has no .safetensors weights"
        case let .unreadable(path, reason): "cannot read \(path): \(reason)"
        case let .invalidJSON(path, reason): "\(path) is not valid JSON of its kind: \(reason)"
        case let .unsupportedArchitecture(name):
            "checkpoint architecture \(name) is not supported (Llama, Mistral, Qwen2, Qwen3, Gemma 3 and Phi-3 are)"
        case let .invalidConfig(key, reason): "config.json \(key): \(reason)"
        case let .unsupportedTokenizer(reason): "tokenizer.json: \(reason)"
        case let .safetensors(path, error): "\(path): \(error)"
        case let .missingShardTensor(tensor, shard): "model.safetensors.index.json puts \(tensor) in \(shard), which does not hold it"
        case let .duplicateTensor(name, shards): "tensor \(name) is in more than one shard (\(shards.joined(separator: ", ")))"
        case let .tensorShape(tensor, reason): "tensor \(tensor): \(reason)"
        case let .unsupportedQuantization(type): "cannot quantize to \(type) at load (q8_0, q4_k, q4_0 and f16 are possible)"
        }
    }
}
