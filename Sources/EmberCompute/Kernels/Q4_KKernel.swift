// Q4_K weights (ggml block_q4_K: f16 d, f16 dmin, u8 scales[12], u8 qs[128]; 144 bytes per 256
// values) against Q8 activations. Sub-block j (32 values) has 6-bit scale sc_j and min m_j; weight i
// is d * sc_j * q_i - dmin * m_j. Sub-blocks 2p and 2p+1 share qs[32p ..< 32p+32], low nibbles then
// high. Each sub-block meets one activation block (own d_a, s_a), so a super-block's dot product is
// sum_j d * sc_j * d_a_j * sum(q_i * a_i) - dmin * m_j * s_a_j.

import EmberFormats

public enum Q4_KKernel: QuantizedRowKernel {
    public static let type = TensorType.q4_K
    static let blockBytes = 144

    public static func dot(_ row: UnsafeRawPointer, _ x: Q8Row, count: Int) -> Float {
        // Even and odd sub-blocks accumulate separately so that consecutive FMAs are independent.
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), minAcc = SIMD8<Float>()
        for s in 0 ..< count / 256 {
            let block = row + s * blockBytes
            let dm = loadHalves(block, 0)
            let (scales, mins) = unpackScalesAndMins(block + 4)
            let factors = SIMD8(repeating: dm[0]) * scales * loadFloat8(x.scales + s * 8)
            minAcc.addProduct(SIMD8(repeating: dm[1]) * mins, loadFloat8(x.sums + s * 8))
            let a = x.quants + s * 256
            for p in 0 ..< 4 {
                let b0 = loadUInt8x16(block, 16 + 32 * p), b1 = loadUInt8x16(block, 32 + 32 * p)
                let low = (b0 & 15) &* loadInt8x16(a, 64 * p) &+ (b1 & 15) &* loadInt8x16(a, 64 * p + 16)
                let high = (b0 &>> 4) &* loadInt8x16(a, 64 * p + 32) &+ (b1 &>> 4) &* loadInt8x16(a, 64 * p + 48)
                acc0.addProduct(floats(widenSum(low)), SIMD8(repeating: factors[2 * p]))
                acc1.addProduct(floats(widenSum(high)), SIMD8(repeating: factors[2 * p + 1]))
            }
        }
        return horizontalSum(acc0 + acc1 - minAcc)
    }

    public static func dotScalar(_ row: UnsafeRawPointer, _ x: Q8Row, count: Int) -> Float {
        var sum: Float = 0
        for s in 0 ..< count / 256 {
            let block = row + s * blockBytes
            let d = Float(block.loadUnaligned(as: Float16.self))
            let dmin = Float(block.loadUnaligned(fromByteOffset: 2, as: Float16.self))
            for j in 0 ..< 8 {
                let (scale, min) = scaleAndMin(j, block + 4)
                let xb = s * 8 + j
                var isum: Int32 = 0
                for i in 0 ..< 32 {
                    let byte = block.load(fromByteOffset: 16 + 32 * (j / 2) + i, as: UInt8.self)
                    isum += Int32(j % 2 == 0 ? byte & 0xF : byte >> 4) * Int32(x.quants[xb * 32 + i])
                }
                sum += d * Float(scale) * x.scales[xb] * Float(isum) - dmin * Float(min) * x.sums[xb]
            }
        }
        return sum
    }

    public static func dequantize(_ row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        for s in 0 ..< count / 256 {
            let block = row + s * blockBytes
            let d = Float(block.loadUnaligned(as: Float16.self))
            let dmin = Float(block.loadUnaligned(fromByteOffset: 2, as: Float16.self))
            for j in 0 ..< 8 {
                let (scale, min) = scaleAndMin(j, block + 4)
                let d1 = d * Float(scale), m1 = dmin * Float(min)
                let out = output + s * 256 + j * 32
                for i in 0 ..< 32 {
                    let byte = block.load(fromByteOffset: 16 + 32 * (j / 2) + i, as: UInt8.self)
                    out[i] = d1 * Float(j % 2 == 0 ? byte & 0xF : byte >> 4) - m1
                }
            }
        }
    }
}
