// A tiny random Llama written as a real GGUF file, and a plain-loops reference forward pass of the
// same weights: the engine's batched, threaded, SIMD path must agree with it.

import EmberFormats
import EmberTestSupport
import Foundation

struct TinyLlama {
    var embedding = 64, heads = 4, kvHeads = 2, feedForward = 96, layers = 2, vocabulary = 40, context = 64
    var ropeBase: Float = 10000
    var linearScaling: Float? = nil
    var ropeFactors: [Float]? = nil
    var tiedOutput = true
    var epsilon: Float = 1e-5
    var headDimension: Int { embedding / heads }

    /// Weights by GGUF tensor name, each as [rows][row length].
    var weights: [String: [[Float]]] = [:]

    init(seed: UInt64, configure: (inout TinyLlama) -> Void = { _ in }) {
        configure(&self)
        var random = SeededGenerator(seed: seed)
        func matrix(_ rows: Int, _ columns: Int, scale: Float) -> [[Float]] {
            (0 ..< rows).map { _ in (0 ..< columns).map { _ in random.uniform() * scale } }
        }
        func norm(_ n: Int) -> [[Float]] { [(0 ..< n).map { _ in 1 + random.uniform() * 0.2 }] }
        let q = heads * headDimension, kv = kvHeads * headDimension
        weights["token_embd.weight"] = matrix(vocabulary, embedding, scale: 1)
        for layer in 0 ..< layers {
            weights["blk.\(layer).attn_norm.weight"] = norm(embedding)
            weights["blk.\(layer).attn_q.weight"] = matrix(q, embedding, scale: 0.3)
            weights["blk.\(layer).attn_k.weight"] = matrix(kv, embedding, scale: 0.3)
            weights["blk.\(layer).attn_v.weight"] = matrix(kv, embedding, scale: 0.3)
            weights["blk.\(layer).attn_output.weight"] = matrix(embedding, q, scale: 0.3)
            weights["blk.\(layer).ffn_norm.weight"] = norm(embedding)
            weights["blk.\(layer).ffn_gate.weight"] = matrix(feedForward, embedding, scale: 0.3)
            weights["blk.\(layer).ffn_up.weight"] = matrix(feedForward, embedding, scale: 0.3)
            weights["blk.\(layer).ffn_down.weight"] = matrix(embedding, feedForward, scale: 0.3)
        }
        weights["output_norm.weight"] = norm(embedding)
        if !tiedOutput { weights["output.weight"] = matrix(vocabulary, embedding, scale: 0.5) }
        if let ropeFactors { weights["rope_freqs.weight"] = [ropeFactors] }
    }

    /// Writes the model as an F32 GGUF file and returns its path.
    func write() throws -> String {
        var metadata: [(String, GGUFValue)] = [
            ("general.architecture", .string("llama")),
            ("llama.embedding_length", .uint32(UInt32(embedding))),
            ("llama.block_count", .uint32(UInt32(layers))),
            ("llama.feed_forward_length", .uint32(UInt32(feedForward))),
            ("llama.attention.head_count", .uint32(UInt32(heads))),
            ("llama.attention.head_count_kv", .uint32(UInt32(kvHeads))),
            ("llama.context_length", .uint32(UInt32(context))),
            ("llama.rope.freq_base", .float32(ropeBase)),
            ("llama.attention.layer_norm_rms_epsilon", .float32(epsilon)),
        ]
        if let linearScaling {
            metadata += [("llama.rope.scaling.type", .string("linear")), ("llama.rope.scaling.factor", .float32(linearScaling))]
        }
        let tensors = weights.keys.sorted().map { name in
            let rows = weights[name]!
            let shape = rows.count == 1 && (name.hasSuffix("norm.weight") || name == "rope_freqs.weight")
                ? [rows[0].count] : [rows[0].count, rows.count]
            return (name: name, shape: shape, type: TensorType.f32, data: floatBytes(rows.flatMap { $0 }))
        }
        return try GGUFBuilder.file(metadata: metadata, tensors: tensors).write()
    }

    /// Logits after each token of `tokens`, computed with plain loops in Double.
    func referenceLogits(_ tokens: [Int32]) -> [[Float]] {
        let hd = headDimension, group = heads / kvHeads
        var keys = [[[Double]]](repeating: [], count: layers)  // [layer][position][kv * hd]
        var values = keys
        var result: [[Float]] = []
        for (position, token) in tokens.enumerated() {
            var x = weights["token_embd.weight"]![Int(token)].map(Double.init)
            for layer in 0 ..< layers {
                let w = { (name: String) in weights["blk.\(layer).\(name).weight"]! }
                let h = rmsNorm(x, w("attn_norm")[0])
                var q = matvec(w("attn_q"), h), k = matvec(w("attn_k"), h)
                let v = matvec(w("attn_v"), h)
                rope(&q, heads: heads, position: position)
                rope(&k, heads: kvHeads, position: position)
                // The cache holds F16, as the engine's does.
                keys[layer].append(k.map { Double(Float16(Float($0))) })
                values[layer].append(v.map { Double(Float16(Float($0))) })
                var attention = [Double](repeating: 0, count: heads * hd)
                for head in 0 ..< heads {
                    let kvHead = head / group
                    let scores = (0 ... position).map { p in
                        (0 ..< hd).reduce(0.0) { $0 + q[head * hd + $1] * keys[layer][p][kvHead * hd + $1] } / Double(hd).squareRoot()
                    }
                    let top = scores.max()!
                    let e = scores.map { Foundation.exp($0 - top) }
                    let total = e.reduce(0, +)
                    for d in 0 ..< hd {
                        attention[head * hd + d] = (0 ... position).reduce(0.0) { $0 + e[$1] / total * values[layer][$1][kvHead * hd + d] }
                    }
                }
                x = zip(x, matvec(w("attn_output"), attention)).map(+)
                let f = rmsNorm(x, w("ffn_norm")[0])
                let gate = matvec(w("ffn_gate"), f), up = matvec(w("ffn_up"), f)
                let hidden = zip(gate, up).map { g, u in g / (1 + Foundation.exp(-g)) * u }
                x = zip(x, matvec(w("ffn_down"), hidden)).map(+)
            }
            let out = rmsNorm(x, weights["output_norm.weight"]![0])
            result.append(matvec(weights[tiedOutput ? "token_embd.weight" : "output.weight"]!, out).map(Float.init))
        }
        return result
    }

    private func rmsNorm(_ x: [Double], _ gain: [Float]) -> [Double] {
        let scale = 1 / (x.reduce(0) { $0 + $1 * $1 } / Double(x.count) + Double(epsilon)).squareRoot()
        return zip(x, gain).map { $0 * scale * Double($1) }
    }

    private func matvec(_ m: [[Float]], _ x: [Double]) -> [Double] {
        m.map { row in zip(row, x).reduce(0) { $0 + Double($1.0) * $1.1 } }
    }

    private func rope(_ x: inout [Double], heads: Int, position: Int) {
        let hd = headDimension
        for head in 0 ..< heads {
            for pair in 0 ..< hd / 2 {
                var theta = Double(position) * Foundation.pow(Double(ropeBase), -2 * Double(pair) / Double(hd))
                theta /= Double(ropeFactors?[pair] ?? 1)
                theta /= Double(linearScaling ?? 1)
                let a = x[head * hd + 2 * pair], b = x[head * hd + 2 * pair + 1]
                x[head * hd + 2 * pair] = a * Foundation.cos(theta) - b * Foundation.sin(theta)
                x[head * hd + 2 * pair + 1] = a * Foundation.sin(theta) + b * Foundation.cos(theta)
            }
        }
    }
}

