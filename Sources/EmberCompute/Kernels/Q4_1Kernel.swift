// Q4_1 weights (ggml block_q4_1: f16 d, f16 m, u8 qs[16]; 20 bytes) against 16-bit quantized
// activations. Weight i of a block is d * q_i + m, so a block's dot product is
// d * d_a * sum(q_i * a_i) + m * s_a, where s_a is the activation row's stored sum, d_a times the sum
// of the activation quants a_i.

import EmberFormats

public enum Q4_1Kernel: QuantizedRowKernel {
    public static let type = TensorType.q4_1
    static let blockBytes = 20

    public static func dot(_ row: UnsafeRawPointer, _ x: Q16Row, count: Int) -> Float {
        @inline(__always)
        func block(_ b: Int) -> Int32 {
            let bytes = loadUInt8x16(row + b * blockBytes, 4)
            return dot32(bytes & 15, bytes &>> 4, x.quants + b * 32)
        }
        return accumulateBlocks(row, blockBytes: blockBytes, x, count: count, hasMin: true, block)
    }

    public static func dotScalar(_ row: UnsafeRawPointer, _ x: Q16Row, count: Int) -> Float {
        var sum: Float = 0
        for b in 0 ..< count / 32 {
            let block = row + b * blockBytes
            let a = x.quants + b * 32
            var isum: Int32 = 0
            for i in 0 ..< 16 {
                let byte = block.load(fromByteOffset: 4 + i, as: UInt8.self)
                isum += Int32(byte & 0xF) * Int32(a[i]) + Int32(byte >> 4) * Int32(a[i + 16])
            }
            let d = Float(block.loadUnaligned(as: Float16.self))
            let m = Float(block.loadUnaligned(fromByteOffset: 2, as: Float16.self))
            sum += d * x.scales[b] * Float(isum) + m * x.sums[b]
        }
        return sum
    }

    public static func dequantize(_ row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        for b in 0 ..< count / 32 {
            let block = row + b * blockBytes
            let d = Float(block.loadUnaligned(as: Float16.self))
            let m = Float(block.loadUnaligned(fromByteOffset: 2, as: Float16.self))
            let out = output + b * 32
            for i in 0 ..< 16 {
                let byte = block.load(fromByteOffset: 4 + i, as: UInt8.self)
                out[i] = d * Float(byte & 0xF) + m
                out[i + 16] = d * Float(byte >> 4) + m
            }
        }
    }
}
