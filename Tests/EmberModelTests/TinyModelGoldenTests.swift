// Tiny random-weight models of each architecture against an independent, exact reference:
// transformers in float64 on the same weights (Fixtures/tiny_<arch>.json: the GGUF that llama.cpp's
// convert_hf_to_gguf.py made from its checkpoint, kept as JSON; goldens by
// scripts/goldens/make_tiny_models.py).
// For each prompt (fed in chunks of 4 tokens): the model's own tokenizer gives the reference's ids, the last position's logits
// have a cosine of at least 0.99999 with the reference's, and 32 greedy tokens are the reference's.
// The same models read from their Hugging Face checkpoints (Fixtures/tiny_<arch>_checkpoint.json:
// safetensors shards, config.json, the tokenizer.json transformers makes) must do the same: Ember's
// conversion at load against llama.cpp's converter and transformers' tokenizer.
// That holds exactly with an F32 KV cache. The default F16 cache rounds keys and values to 11
// significant bits, which these random weights (far wider than a trained model's) feel: there the
// cosine must be at least 0.99995, and the greedy tokens the reference's until a near-tie (a top-2
// margin under 0.02), where the two may part. Each runs on the CPU and, where a Vulkan device is
// present (lavapipe in CI), on the GPU, under the same bounds.

import EmberCheckpoint
import EmberCompute
import EmberFormats
import EmberModel
import EmberTestSupport
import EmberTokenizer
import EmberVulkan
import Foundation
import Testing

@Suite struct TinyModelGoldenTests {
    struct Goldens: Decodable {
        struct Prompt: Decodable {
            let text: String
            let ids: [Int32]
            let logits: [Double]
            let greedy: [Int32]
            /// The reference's top-2 logit margin at each greedy step.
            let margins: [Double]
            /// The context (cache capacity) that gives the RoPE factors the reference used (LongRoPE).
            let context: Int?
        }

        let architecture: String
        let prompts: [Prompt]
    }

    static func fixture(_ name: String) throws -> URL {
        try #require(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures"), "missing fixture \(name)")
    }

    static func cosine(_ a: UnsafeMutableBufferPointer<Float>, _ b: [Double]) -> Double {
        var dot = 0.0, aa = 0.0, bb = 0.0
        for (x, y) in zip(a, b) {
            dot += Double(x) * y
            aa += Double(x) * Double(x)
            bb += y * y
        }
        return dot / (aa.squareRoot() * bb.squareRoot())
    }

    /// Where a model runs and what its cache holds.
    struct Setting: CustomTestStringConvertible, Sendable {
        enum Device { case cpu, gpu, gpuWithAGPUsShapes }
        let device: Device
        let cacheType: CacheType
        var testDescription: String { "\(device) \(cacheType)" }

        func backend() throws -> Backend {
            switch device {
            case .cpu: CPUBackend(threadCount: 2)
            case .gpu: try VulkanBackend(threadCount: 2)
            // What a discrete GPU runs, forced on lavapipe: rows spread over invocations, subgroup
            // reductions, every product of two or more tokens in blocks, decode attention split in 3
            // ranges, weights uploaded and tensors zeroed through copies rather than mapped memory.
            case .gpuWithAGPUsShapes: try VulkanBackend(threadCount: 2, spreadRows: true, subgroups: true, attentionSplits: 3,
                                                        tiledProductTokens: 2, mapsDeviceMemory: false)
            }
        }
    }

    static let models = ["llama", "qwen2", "qwen3", "phi3", "phi3-longrope", "gemma3"]
    static let settings = [Setting(device: .cpu, cacheType: .f32), Setting(device: .cpu, cacheType: .f16)]
    static let gpuSettings = usableVulkanDevice || requireVulkan
        ? [.gpu, .gpuWithAGPUsShapes].flatMap { device in [CacheType.f32, .f16].map { Setting(device: device, cacheType: $0) } } : []

    @Test(arguments: models, settings)
    func matchesTransformersInFloat64(model name: String, setting: Setting) throws {
        try Self.check(model: name, setting: setting)
    }

    /// On lavapipe, which keeps every core busy: scripts/test runs the tests named ...GPU... after the rest.
    @Test(arguments: models, gpuSettings)
    func matchesTransformersInFloat64OnTheGPU(model name: String, setting: Setting) throws {
        try Self.check(model: name, setting: setting)
    }

    /// From the checkpoint: exactly as from the GGUF, and with the weights quantized at load to F16
    /// (a cosine still within 0.9999; greedy tokens checked as far as a near-tie).
    @Test(arguments: models, [nil, TensorType.f16])
    func checkpointMatchesTransformersInFloat64(model name: String, quantize: TensorType?) throws {
        let directory = try CheckpointFixture.directory(json: Self.fixture("tiny_\(name)_checkpoint.json"))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let checkpoint = try Checkpoint(directory: directory, quantize: quantize)
        if quantize != nil { #expect(checkpoint.tensorInfo(named: "blk.0.ffn_down.weight")?.type == quantize) }
        try Self.check(model: name, setting: Setting(device: .cpu, cacheType: .f32), file: checkpoint,
                       tolerance: quantize == nil ? nil : (cosine: 0.9999, margin: 0.2))
    }

    /// The checkpoint written as GGUF (what `ember convert` writes) holds llama.cpp's converter's
    /// tensors, byte for byte, under the same hyper-parameters, and gives the goldens when read back.
    @Test(arguments: models)
    func convertedCheckpointIsLlamaCppsGGUF(model name: String) throws {
        let directory = try CheckpointFixture.directory(json: Self.fixture("tiny_\(name)_checkpoint.json"))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let checkpoint = try Checkpoint(directory: directory)
        let path = directory + "/converted.gguf"
        try GGUFWriter.write(metadata: checkpoint.metadata.keys.map { (key: $0, value: checkpoint.metadata[$0]!) },
                             tensors: checkpoint.tensors.map { checkpoint.view(named: $0.name)! }, to: path)
        let converted = try GGUFFile(path: path)
        let llamaCppPath = try GGUFJSON.modelFile(json: Self.fixture("tiny_\(name).json"))
        defer { try? FileManager.default.removeItem(atPath: llamaCppPath) }
        let llamaCpp = try GGUFFile(path: llamaCppPath)
        #expect(Set(converted.tensors.map(\.name)) == Set(llamaCpp.tensors.map(\.name)))
        for info in llamaCpp.tensors {
            let ours = try #require(converted.view(named: info.name)), theirs = llamaCpp.view(info)
            #expect(ours.shape == theirs.shape && ours.type == theirs.type && Array(ours.bytes) == Array(theirs.bytes), "\(info.name)")
        }
        let architecture = try #require(llamaCpp.metadata["general.architecture"]?.stringValue)
        // The same values (integer widths aside) wherever both write a key; the scores differ by
        // design (SentencePiece's against the ranks of tokenizer.json's merges: the same order).
        for key in llamaCpp.metadata.keys where key.hasPrefix(architecture + ".") || key.hasPrefix("tokenizer.ggml.") {
            guard let ours = converted.metadata[key], key != "tokenizer.ggml.scores" else { continue }
            let theirs = llamaCpp.metadata[key]!
            if let array = theirs.arrayValue {
                #expect(ours.arrayValue?.strings == array.strings && ours.arrayValue?.integers == array.integers, "\(key)")
            } else {
                #expect(ours.floatValue == theirs.floatValue && ours.stringValue == theirs.stringValue && ours.boolValue == theirs.boolValue,
                        "\(key): \(ours) against \(theirs)")
            }
        }
        try Self.check(model: name, setting: Setting(device: .cpu, cacheType: .f32), file: converted)
    }

    static func check(model name: String, setting: Setting) throws {
        let path = try GGUFJSON.modelFile(json: Self.fixture("tiny_\(name).json"))
        defer { try? FileManager.default.removeItem(atPath: path) }
        try check(model: name, setting: setting, file: try GGUFFile(path: path))
    }

    /// `tolerance` replaces the F16 cache's bounds for weights that are not exact.
    static func check(model name: String, setting: Setting, file: any ModelSource,
                      tolerance: (cosine: Double, margin: Double)? = nil) throws {
        let cacheType = setting.cacheType
        let goldens = try JSONDecoder().decode(Goldens.self, from: Data(contentsOf: Self.fixture("tiny_\(name)_goldens.json")))
        let tokenizer = try Tokenizer(metadata: file.metadata)
        // Prompts in chunks of 4: Gemma 3's local layers (a window of 8) then keep a ring of 11 rows,
        // which the prompt and greedy tokens go round several times.
        let model = try ModelLoader.load(file, backend: try setting.backend(), promptChunkTokens: 4)
        #expect(model.architecture == goldens.architecture && goldens.prompts.count >= 4)
        for prompt in goldens.prompts {
            #expect(tokenizer.encode(prompt.text, addSpecial: true, parseSpecial: false) == prompt.ids, "\(prompt.text)")
            let cache = model.makeCache(capacity: prompt.context ?? 128, type: cacheType)
            var batch = ForwardBatch()
            var logits = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
            for start in stride(from: 0, to: prompt.ids.count, by: model.promptChunkTokens) {
                batch.removeAll()
                batch.append(prompt.ids[start ..< min(start + model.promptChunkTokens, prompt.ids.count)], cache: cache,
                             wantsLogits: start + model.promptChunkTokens >= prompt.ids.count)
                logits = try model.forward(batch)
            }
            let exact = cacheType == .f32 && tolerance == nil
            let similarity = Self.cosine(logits, prompt.logits)
            #expect(similarity >= tolerance?.cosine ?? (exact ? 0.99999 : 0.99995), "\(prompt.text): cosine \(similarity)")
            for (step, expected) in prompt.greedy.enumerated() {
                let token = Int32(logits.indices.max { logits[$0] < logits[$1] }!)
                if !exact && token != expected && prompt.margins[step] < tolerance?.margin ?? 0.02 { break }
                #expect(token == expected, "\(prompt.text): greedy token \(step) (reference margin \(prompt.margins[step]))")
                guard token == expected else { break }
                batch.removeAll()
                batch.append(CollectionOfOne(token), cache: cache, wantsLogits: true)
                logits = try model.forward(batch)
            }
        }
    }
}
