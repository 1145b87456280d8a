// Rotary position embeddings on the CPU, llama's "normal" mode: value pairs (2i, 2i+1) of each head
// turn by angle position * scale * base^(-2i/dims) / factor_i. The angles are computed once per row
// and applied to every head of Q and K. The angle recurrence (multiplying by base^(-2/dims) per pair,
// in Float) is ggml's, so positions far into the context rotate exactly as llama.cpp rotates them.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension CPUBackend {
    public func rope(query: Tensor, key: Tensor, rows: Int, positions: UnsafeBufferPointer<Int32>,
                     shape: AttentionShape, rope: RopeParameters) {
        let pairs = rope.dimensions / 2
        precondition(rope.dimensions <= shape.headDimension && rope.dimensions % 2 == 0)
        precondition(rope.frequencyFactors.map { $0.count == pairs } ?? true)
        let thetaScale = powf(rope.base, -2 / Float(rope.dimensions))
        let factors = rope.frequencyFactors
        pool.parallelFor(rows) { range in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: pairs * 2) { table in
                let cosines = table.baseAddress!, sines = table.baseAddress! + pairs
                for row in range {
                    var thetaBase = Float(positions[row])
                    for pair in 0 ..< pairs {
                        let theta = rope.frequencyScale * (thetaBase / (factors?[pair] ?? 1))
                        cosines[pair] = cosf(theta)
                        sines[pair] = sinf(theta)
                        thetaBase *= thetaScale
                    }
                    rotate(query.floats(row: row), heads: shape.headCount, headDimension: shape.headDimension,
                           pairs: pairs, cosines: cosines, sines: sines)
                    rotate(key.floats(row: row), heads: shape.kvHeadCount, headDimension: shape.headDimension,
                           pairs: pairs, cosines: cosines, sines: sines)
                }
            }
        }
    }

    @inline(__always)
    private func rotate(_ values: UnsafeMutablePointer<Float>, heads: Int, headDimension: Int, pairs: Int,
                        cosines: UnsafePointer<Float>, sines: UnsafePointer<Float>) {
        for head in 0 ..< heads {
            let x = values + head * headDimension
            for pair in 0 ..< pairs {
                let a = x[2 * pair], b = x[2 * pair + 1]
                x[2 * pair] = a * cosines[pair] - b * sines[pair]
                x[2 * pair + 1] = a * sines[pair] + b * cosines[pair]
            }
        }
    }
}
