// Q5_1 weights (ggml block_q5_1: f16 d, f16 m, u8 qh[4], u8 qs[16]; 24 bytes) against 16-bit quantized
// activations. Weight i of a block is d * q_i + m, with q_i's bits laid out as in Q5_0; a block's dot
// product is d * d_a * sum(q_i * a_i) + m * s_a.

import EmberFormats

public enum Q5_1Kernel: QuantizedRowKernel {
    public static let type = TensorType.q5_1
    static let blockBytes = 24

    public static func dot(_ row: UnsafeRawPointer, _ x: Q16Row, count: Int) -> Float {
        fifthBitTable.withUnsafeBufferPointer { table in
            @inline(__always)
            func block(_ b: Int) -> Int32 {
                let block = row + b * blockBytes
                let bytes = loadUInt8x16(block, 8)
                let low = (bytes & 15) | fifthBits(table.baseAddress!, block, 4)
                let high = (bytes &>> 4) | fifthBits(table.baseAddress!, block, 6)
                return dot32(low, high, x.quants + b * 32)
            }
            return accumulateBlocks(row, blockBytes: blockBytes, x, count: count, hasMin: true, block)
        }
    }

    /// q_i of element `i` (0..<32) of the block.
    @inline(__always)
    static func value(_ block: UnsafeRawPointer, _ i: Int) -> Int32 {
        let qh = block.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        let byte = block.load(fromByteOffset: 8 + i % 16, as: UInt8.self)
        let nibble = i < 16 ? byte & 0xF : byte >> 4
        return Int32(nibble) | Int32((qh >> UInt32(i)) & 1) << 4
    }

    public static func dotScalar(_ row: UnsafeRawPointer, _ x: Q16Row, count: Int) -> Float {
        var sum: Float = 0
        for b in 0 ..< count / 32 {
            let block = row + b * blockBytes
            var isum: Int32 = 0
            for i in 0 ..< 32 { isum += value(block, i) * Int32(x.quants[b * 32 + i]) }
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
            for i in 0 ..< 32 { output[b * 32 + i] = d * Float(value(block, i)) + m }
        }
    }
}
