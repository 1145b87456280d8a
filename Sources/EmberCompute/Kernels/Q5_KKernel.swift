// Q5_K weights (ggml block_q5_K: f16 d, f16 dmin, u8 scales[12], u8 qh[32], u8 qs[128]; 176 bytes
// per 256 values) against 16-bit quantized activations. As Q4_K, with a fifth bit per weight: bit j
// of qh[i] is the fifth bit of element i of sub-block j.

import EmberFormats

public enum Q5_KKernel: QuantizedRowKernel {
    public static let type = TensorType.q5_K
    static let blockBytes = 176

    public static func dot(_ row: UnsafeRawPointer, _ x: Q16Row, count: Int) -> Float {
        Q4_KKernel.subBlockDot(row, x, count: count, blockBytes: blockBytes) { block, j, a in
            let shift = Int16(j % 2 * 4), offset = 48 + 32 * (j / 2), bit = Int16(j)
            let low = (loadUInt8x16(block, offset) &>> shift) & 15 | ((loadUInt8x16(block, 16) &>> bit) & 1) &<< 4
            let high = (loadUInt8x16(block, offset + 16) &>> shift) & 15 | ((loadUInt8x16(block, 32) &>> bit) & 1) &<< 4
            return dot32(low, high, a)
        }
    }

    /// q of element `i` (0..<32) of sub-block `j`.
    @inline(__always)
    static func value(_ block: UnsafeRawPointer, _ j: Int, _ i: Int) -> Int32 {
        let byte = block.load(fromByteOffset: 48 + 32 * (j / 2) + i, as: UInt8.self)
        let high = block.load(fromByteOffset: 16 + i, as: UInt8.self) >> j & 1
        return Int32(j % 2 == 0 ? byte & 0xF : byte >> 4) | Int32(high) << 4
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
                for i in 0 ..< 32 { isum += value(block, j, i) * Int32(x.quants[xb * 32 + i]) }
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
                for i in 0 ..< 32 { out[i] = d1 * Float(value(block, j, i)) - m1 }
            }
        }
    }
}
