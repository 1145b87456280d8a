// A checkpoint directory: what it must hold, and the typed error for each way it can be wrong;
// tensors the model uses as they are are views of the mapped shards, not copies.

@testable import EmberCheckpoint
import EmberFormats
import EmberTestSupport
import Foundation
import Testing

@Suite final class CheckpointTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ember-checkpoint-\(UUID().uuidString)")

    init() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// The tiny models' checkpoints, kept with their goldens in EmberModelTests.
    static func fixture(_ model: String) -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("EmberModelTests/Fixtures/\(model)_checkpoint.json")
    }

    func write(_ name: String, _ text: String) throws {
        try Data(text.utf8).write(to: directory.appendingPathComponent(name))
    }

    func error(_ body: () throws(CheckpointError) -> Void) -> String {
        do { try body() } catch { return error.description }
        return "no error"
    }

    @Test func aDirectoryOfPicklesIsRefused() throws {
        try write("config.json", "{}")
        try write("pytorch_model.bin", "not read")
        #expect(error { () throws(CheckpointError) in _ = try CheckpointFiles(directory: directory.path) }.contains("never unpickles"))
        try FileManager.default.removeItem(at: directory.appendingPathComponent("pytorch_model.bin"))
        #expect(error { () throws(CheckpointError) in _ = try CheckpointFiles(directory: directory.path) }.contains("no .safetensors weights"))
    }

    @Test func theIndexMustNameShardsThatExist() throws {
        try write("config.json", "{}")
        try write("tokenizer.json", "{}")
        try write("model.safetensors.index.json", #"{"weight_map": {"w": "model-00001-of-00002.safetensors"}}"#)
        #expect(error { () throws(CheckpointError) in _ = try CheckpointFiles(directory: directory.path) }.contains("model-00001-of-00002.safetensors"))
        try write("model.safetensors.index.json", #"{"weight_map": 3}"#)
        #expect(error { () throws(CheckpointError) in _ = try CheckpointFiles(directory: directory.path) }.contains("weight_map"))
    }

    @Test func configurationErrorsNameTheKey() throws {
        let path = try CheckpointFixture.directory(json: Self.fixture("tiny_llama"))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let config = URL(fileURLWithPath: path + "/config.json")
        let original = try String(contentsOf: config, encoding: .utf8)
        func replacing(_ old: String, _ new: String) throws -> String {
            try Data(original.replacingOccurrences(of: old, with: new).utf8).write(to: config)
            return error { () throws(CheckpointError) in _ = try Checkpoint(directory: path) }
        }
        #expect(try replacing("LlamaForCausalLM", "MambaForCausalLM").contains("MambaForCausalLM is not supported"))
        #expect(try replacing("\"hidden_size\": 64", "\"hidden_size\": \"64\"").contains("hidden_size"))
        #expect(try replacing("\"hidden_size\": 64,", "").contains("hidden_size: missing"))
        #expect(try replacing("{", "[").contains("config.json is not valid JSON"))
        try Data(original.utf8).write(to: config)
        try FileManager.default.removeItem(atPath: path + "/tokenizer.json")
        #expect(error { () throws(CheckpointError) in _ = try Checkpoint(directory: path) }.contains("has no tokenizer.json"))
    }

    /// generation_config.json's sampling and end tokens reach the metadata under llama.cpp's keys.
    @Test func generationConfigGivesSamplingAndEndTokens() throws {
        let path = try CheckpointFixture.directory(json: Self.fixture("tiny_llama"))
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(#"{"eos_token_id": [2, 1], "temperature": 0.7, "top_p": 0.8, "top_k": 20, "do_sample": true}"#.utf8)
            .write(to: URL(fileURLWithPath: path + "/generation_config.json"))
        let metadata = try Checkpoint(directory: path).metadata
        #expect(metadata["general.sampling.temp"] == .float32(0.7) && metadata["general.sampling.top_p"] == .float32(0.8))
        #expect(metadata["general.sampling.top_k"] == .int32(20) && metadata["general.sampling.min_p"] == nil)
        #expect(metadata["tokenizer.ggml.eos_token_id"] == .uint32(2) && metadata["tokenizer.ggml.eot_token_id"] == .uint32(1))
    }

    @Test func tensorsAreViewsOfTheMappedShard() throws {
        let path = try CheckpointFixture.directory(json: Self.fixture("tiny_qwen2"))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let checkpoint = try Checkpoint(directory: path)
        let shards = try checkpoint.files.shards.map { try SafetensorsFile(path: $0) }
        // Qwen2's tensors need no change: each is its bytes where they lie in its shard (a copy would
        // lie at offset 0 of memory of its own).
        for info in checkpoint.tensors {
            let source = try #require(shards.lazy.compactMap { shard in
                shard.tensors.first { TensorNaming.ggufName($0.name, architecture: "qwen2") == info.name } }.first)
            #expect(info.dataOffset == source.range.lowerBound && info.byteCount == source.range.count, "\(info.name)")
        }
        // In the order of the layers.
        let blocks = checkpoint.tensors.compactMap { $0.name.hasPrefix("blk.") ? Int($0.name.split(separator: ".")[1]) : nil }
        #expect(checkpoint.tensors.first?.name == "token_embd.weight" && blocks == blocks.sorted())
    }
}
