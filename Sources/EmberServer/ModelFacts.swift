// What the served model is, for Ollama's /api/tags, /api/show and /api/ps: its format and family,
// parameter count, quantization, size on disk, the file it came from and its trained context.

import EmberEngine
import EmberFormats
import EmberStore
import Foundation

public struct ModelFacts: Sendable {
    /// "gguf", or "safetensors" for a Hugging Face checkpoint.
    public var format: String
    /// The architecture (`general.architecture`: llama, qwen2, gemma3, phi3).
    public var family: String
    public var parameterCount: Int
    /// The type most of the weights are stored in (Q8_0, Q4_K, BF16, ...).
    public var quantization: String
    /// The file's size (a checkpoint's: its weights').
    public var sizeBytes: Int
    /// Identifies the served file: sha256 of its location and size (not of its contents, which
    /// would mean reading all of it at start).
    public var digest: String
    public var modifiedAt: Date
    public var trainedContext: Int
    /// A few metadata entries, as Ollama's `model_info`.
    public var info: [String: JSONValue]

    public init(_ loaded: LoadedModel) {
        let source = loaded.source
        format = source is GGUFFile ? "gguf" : "safetensors"
        family = (try? source.metadata.string("general.architecture")) ?? "unknown"
        parameterCount = source.tensors.reduce(0) { $0 + $1.elementCount }
        var bytesByType: [TensorType: Int] = [:]
        for tensor in source.tensors where tensor.shape.count == 2 { bytesByType[tensor.type, default: 0] += tensor.byteCount }
        quantization = bytesByType.max { $0.value < $1.value }.map { "\($0.key)" } ?? "F32"
        let fileSize = source is GGUFFile ? (try? FileManager.default.attributesOfItem(atPath: loaded.location)[.size] as? Int) : nil
        sizeBytes = fileSize ?? source.weightBytes
        digest = SHA256Digest.hex(of: "\(loaded.location)\n\(sizeBytes)")
        modifiedAt = (try? FileManager.default.attributesOfItem(atPath: loaded.location)[.modificationDate] as? Date) ?? Date()
        trainedContext = loaded.model.trainedContextLength
        info = ["general.architecture": .string(family), "general.parameter_count": .number(Double(parameterCount)),
                "\(family).context_length": .number(Double(trainedContext))]
        if let name = try? source.metadata.string("general.name") { info["general.basename"] = .string(name) }
    }

    /// "135M", "1.5B": how Ollama writes parameter counts.
    var parameterSize: String {
        let count = Double(parameterCount)
        return count >= 1e9 ? String(format: "%.1fB", count / 1e9) : String(format: "%.0fM", count / 1e6)
    }
}
