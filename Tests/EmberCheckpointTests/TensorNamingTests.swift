// transformers' tensor names map to GGUF's per architecture; Llama's heads are interleaved as
// llama.cpp's converter permutes them.

@testable import EmberCheckpoint
import EmberFormats
import Testing

struct TensorNamingTests {
    @Test func namesFollowLlamaCppConverter() {
        #expect(TensorNaming.ggufName("model.embed_tokens.weight", architecture: "llama") == "token_embd.weight")
        #expect(TensorNaming.ggufName("model.layers.12.self_attn.q_proj.weight", architecture: "qwen2") == "blk.12.attn_q.weight")
        #expect(TensorNaming.ggufName("model.layers.0.self_attn.k_proj.bias", architecture: "qwen2") == "blk.0.attn_k.bias")
        #expect(TensorNaming.ggufName("model.layers.3.post_attention_layernorm.weight", architecture: "llama") == "blk.3.ffn_norm.weight")
        #expect(TensorNaming.ggufName("model.layers.3.post_attention_layernorm.weight", architecture: "gemma3")
            == "blk.3.post_attention_norm.weight")
        #expect(TensorNaming.ggufName("model.layers.3.pre_feedforward_layernorm.weight", architecture: "gemma3") == "blk.3.ffn_norm.weight")
        #expect(TensorNaming.ggufName("model.language_model.layers.1.mlp.down_proj.weight", architecture: "gemma3") == "blk.1.ffn_down.weight")
        #expect(TensorNaming.ggufName("model.layers.1.mlp.gate_up_proj.weight", architecture: "phi3") == "blk.1.ffn_up.weight")
        #expect(TensorNaming.ggufName("lm_head.weight", architecture: "llama") == "output.weight")
        #expect(TensorNaming.ggufName("model.vision_tower.encoder.layers.0.mlp.fc1.weight", architecture: "gemma3") == nil)
        #expect(TensorNaming.ggufName("model.layers.0.self_attn.rotary_emb.inv_freq", architecture: "llama") == nil)
    }

    @Test func llamaHeadsAreInterleaved() throws {
        // Two heads of 4 rows of one value each: transformers' halves [a0 a1 b0 b1] become pairs [a0 b0 a1 b1].
        let rows: [Float] = [0, 1, 10, 11, 20, 21, 30, 31]
        let file = MappedFile(copying: UnsafeRawBufferPointer(start: rows, count: 32), path: "rows")
        let info = TensorInfo(name: "blk.0.attn_q.weight", type: .f32, shape: [1, 8], dataOffset: 0, elementCount: 8, byteCount: 32)
        let view = TensorView(info: info, bytes: file.bytes, file: file)
        let interleaved = try WeightConversion.interleavingHeads(view, heads: 2)
        #expect(Array(interleaved.bytes.bindMemory(to: Float.self)) == [0, 10, 1, 11, 20, 30, 21, 31])
        #expect(throws: CheckpointError.self) { try WeightConversion.interleavingHeads(view, heads: 3) }
    }
}
