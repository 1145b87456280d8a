// Q4_K weights (ggml block_q4_K: f16 d, f16 dmin, u8 scales[12], u8 qs[128]; 144 bytes per 256
// values) against 16-bit quantized activations. Sub-block j (32 values) has 6-bit scale sc_j and min
// m_j; weight i is d * sc_j * q_i - dmin * m_j. Sub-blocks 2p and 2p+1 share qs[32p ..< 32p+32], low
// nibbles then high. Each sub-block meets one activation block (own d_a, s_a), so a super-block's dot
// product is sum_j d * sc_j * d_a_j * sum(q_i * a_i) - dmin * m_j * s_a_j.

import EmberFormats

public enum Q4_KKernel: QuantizedRowKernel {
    public static let type = TensorType.q4_K
    static let blockBytes = 144

    public static func dot(_ row: UnsafeRawPointer, _ x: Q16Row, count: Int) -> Float {
        subBlockDot(row, x, count: count) { block, j, a in
            // Sub-blocks 2p and 2p + 1 share qs[32p ..< 32p + 32]: low nibbles, then high.
            let shift = Int16(j % 2 * 4), offset = 16 + 32 * (j / 2)
            return dot32((loadUInt8x16(block, offset) &>> shift) & 15, (loadUInt8x16(block, offset + 16) &>> shift) & 15, a)
        }
    }

    /// The driver shared with Q5_K, whose super-blocks start the same way (f16 d, f16 dmin, 12 bytes
    /// of scales and mins): pass 1 takes the integer sum of every 32-value sub-block, given by
    /// `subBlockSum(super-block, j, activation quants)`, pass 2 scales them (see KernelHelpers).
    @inline(__always)
    static func subBlockDot(_ row: UnsafeRawPointer, _ x: Q16Row, count: Int, blockBytes: Int = blockBytes,
                            _ subBlockSum: (UnsafeRawPointer, Int, UnsafePointer<Int16>) -> Int32) -> Float {
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: blocksPerChunk) { buffer in
            let sums = buffer.baseAddress!
            var acc = SIMD8<Float>(), minAcc = SIMD8<Float>()
            let superBlocks = count / 256, perChunk = blocksPerChunk / 8
            var first = 0
            while first < superBlocks {
                let n = min(perChunk, superBlocks - first)
                for index in 0 ..< n * 8 {
                    let s = first + index / 8
                    sums[index] = subBlockSum(row + s * blockBytes, index % 8, x.quants + s * 256 + index % 8 * 32)
                }
                for index in 0 ..< n {
                    let s = first + index, block = row + s * blockBytes
                    let dm = loadHalves(block, 0)
                    let (scales, mins) = unpackScalesAndMins(block + 4)
                    let integer = floats(UnsafeRawPointer(sums + index * 8).loadUnaligned(as: SIMD8<Int32>.self))
                    acc.addProduct(integer, SIMD8(repeating: dm[0]) * scales * loadFloat8(x.scales + s * 8))
                    minAcc.addProduct(SIMD8(repeating: dm[1]) * mins, loadFloat8(x.sums + s * 8))
                }
                first += n
            }
            return horizontalSum(acc - minAcc)
        }
    }

    public static func dotScalar(_ row: UnsafeRawPointer, _ x: Q16Row, count: Int) -> Float {
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
