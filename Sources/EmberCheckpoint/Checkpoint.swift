// A Hugging Face checkpoint directory read as a model: config.json and tokenizer.json become GGUF
// metadata, the safetensors tensors are renamed to GGUF's names and viewed where they lie in the
// mapped shards (zero-copy); only the few a GGUF stores differently (Llama's Q and K, Gemma's
// norms, vectors in F16 or BF16) and, with `quantize`, the weight matrices are converted into
// memory of their own.

import EmberFormats
import EmberTrace
import Foundation
import Synchronization

public final class Checkpoint: ModelSource {
    public let files: CheckpointFiles
    public let metadata: GGUFMetadata
    /// GGUF-named, in the order of the model's layers (embeddings, blocks by index, output).
    public let tensors: [TensorInfo]
    private let views: [String: TensorView]

    /// Reads the checkpoint in `directory`; `quantize` converts its weight matrices to that type.
    /// `described` is its configuration and tokenizer when they were read already (while the weights downloaded).
    public init(directory: String, quantize: TensorType? = nil, described: CheckpointMetadata? = nil) throws(CheckpointError) {
        let files = try CheckpointFiles(directory: directory)
        self.files = files
        let described = if let described { described } else { try CheckpointMetadata(directory: directory) }
        let config = described.config
        metadata = described.metadata

        let heads = config.json.num_attention_heads ?? 1
        var views: [String: TensorView] = [:], origins: [String: String] = [:]
        for path in files.shards {
            let shard: SafetensorsFile
            do { shard = try SafetensorsFile(path: path) } catch { throw .safetensors(path: path, error) }
            if let map = files.weightMap {
                let shardName = URL(fileURLWithPath: path).lastPathComponent
                for (tensor, owner) in map where owner == shardName && shard.tensor(named: tensor) == nil {
                    throw .missingShardTensor(tensor: tensor, shard: owner)
                }
            }
            for tensor in shard.tensors {
                guard let ggufName = TensorNaming.ggufName(tensor.name, architecture: config.architecture) else { continue }
                if let earlier = origins[ggufName] { throw .duplicateTensor(tensor.name, shards: [earlier, path]) }
                origins[ggufName] = path
                var view: TensorView
                do { view = try shard.view(tensor, name: ggufName) } catch { throw .safetensors(path: path, error) }
                switch TensorNaming.change(for: ggufName, architecture: config.architecture, headCount: heads,
                                           kvHeadCount: config.json.num_key_value_heads ?? heads) {
                case .none: break
                case let .interleaveHeads(count): view = try WeightConversion.interleavingHeads(view, heads: count)
                case .addOne: view = WeightConversion.widened(view) { $0 + 1 }
                }
                // Vectors (norm weights, biases) are F32 in GGUF, as llama.cpp's converter keeps them, and as the kernels read them.
                if view.shape.count == 1 && view.type != .f32 { view = WeightConversion.widened(view) { $0 } }
                views[ggufName] = view
            }
        }
        for (tensorName, values) in config.extraTensors { views[tensorName] = Self.floatTensor(name: tensorName, values: values) }
        if let quantize {
            try Trace.span("load.quantize", args: ["type": "\(quantize)"]) { () throws(CheckpointError) in
                try Self.quantize(&views, to: quantize)
            }
        }
        self.views = views
        tensors = views.values.map(\.info).sorted { Self.layerOrder($0.name) < Self.layerOrder($1.name) }
    }

    public func tensorInfo(named name: String) -> TensorInfo? { views[name]?.info }

    public func view(named name: String) -> TensorView? { views[name] }

    /// An F32 vector tensor of `values`, in memory of its own.
    public static func floatTensor(name: String, values: [Float]) -> TensorView {
        WeightConversion.owned(name: name, type: .f32, shape: [values.count]) { output in
            _ = output.initializeMemory(as: Float.self, from: values)
        }
    }

    /// Quantizes the weight matrices (two-dimensional tensors whose rows are whole blocks), a tensor per thread.
    private static func quantize(_ views: inout [String: TensorView], to type: TensorType) throws(CheckpointError) {
        let matrices = views.values.filter { $0.shape.count == 2 }
        let results = Mutex<[String: Result<TensorView?, CheckpointError>]>([:])
        DispatchQueue.concurrentPerform(iterations: matrices.count) { index in
            let view = matrices[index]
            let result = Result { () throws(CheckpointError) in try WeightConversion.quantized(view, to: type) }
            results.withLock { $0[view.name] = result }
        }
        for (name, result) in results.withLock({ $0 }) {
            if let converted = try result.get() { views[name] = converted }
        }
    }

    /// Sort key: token embeddings, then each block's tensors by block, then the rest (output norm, output).
    static func layerOrder(_ name: String) -> (Int, Int, String) {
        if name == "token_embd.weight" { return (0, 0, name) }
        if name.hasPrefix("blk."), let end = name.dropFirst(4).firstIndex(of: "."), let block = Int(name.dropFirst(4)[..<end]) {
            return (1, block, name)
        }
        return (name.hasPrefix("rope_") ? 0 : 2, 0, name)
    }
}
