// Q4_0 weights (ggml block_q4_0: f16 d, u8 qs[16]; 18 bytes) against 16-bit quantized activations.
// Weight i of a block is d * (q_i - 8); low nibbles hold elements 0..15, high nibbles 16..31.

import EmberFormats

public enum Q4_0Kernel: QuantizedRowKernel {
    public static let type = TensorType.q4_0
    static let blockBytes = 18

    public static func dot(_ row: UnsafeRawPointer, _ x: Q16Row, count: Int) -> Float {
        @inline(__always)
        func block(_ b: Int) -> Int32 {
            let bytes = loadUInt8x16(row + b * blockBytes, 2)
            return dot32((bytes & 15) &- 8, (bytes &>> 4) &- 8, x.quants + b * 32)
        }
        return accumulateBlocks(row, blockBytes: blockBytes, x, count: count, hasMin: false, block)
    }

    public static func dotScalar(_ row: UnsafeRawPointer, _ x: Q16Row, count: Int) -> Float {
        var sum: Float = 0
        for b in 0 ..< count / 32 {
            let block = row + b * blockBytes
            let a = x.quants + b * 32
            var isum: Int32 = 0
            for i in 0 ..< 16 {
                let byte = block.load(fromByteOffset: 2 + i, as: UInt8.self)
                isum += (Int32(byte & 0xF) - 8) * Int32(a[i]) + (Int32(byte >> 4) - 8) * Int32(a[i + 16])
            }
            sum += Float(block.loadUnaligned(as: Float16.self)) * x.scales[b] * Float(isum)
        }
        return sum
    }

    public static func dequantize(_ row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        for b in 0 ..< count / 32 {
            let block = row + b * blockBytes
            let d = Float(block.loadUnaligned(as: Float16.self))
            let out = output + b * 32
            for i in 0 ..< 16 {
                let byte = block.load(fromByteOffset: 2 + i, as: UInt8.self)
                out[i] = d * Float(Int(byte & 0xF) - 8)
                out[i + 16] = d * Float(Int(byte >> 4) - 8)
            }
        }
    }
}
