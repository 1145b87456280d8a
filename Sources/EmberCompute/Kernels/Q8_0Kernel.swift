// Q8_0 weights (ggml block_q8_0: f16 d, int8 qs[32]; 34 bytes) against 16-bit quantized activations.

import EmberFormats

public enum Q8_0Kernel: QuantizedRowKernel {
    public static let type = TensorType.q8_0
    static let blockBytes = 34

    public static func dot(_ row: UnsafeRawPointer, _ x: Q16Row, count: Int) -> Float {
        @inline(__always)
        func block(_ b: Int) -> Int32 {
            let block = row + b * blockBytes
            return dot32(loadInt8x16(block, 2), loadInt8x16(block, 18), x.quants + b * 32)
        }
        return accumulateBlocks(row, blockBytes: blockBytes, x, count: count, hasMin: false, block)
    }

    public static func dotScalar(_ row: UnsafeRawPointer, _ x: Q16Row, count: Int) -> Float {
        var sum: Float = 0
        for b in 0 ..< count / 32 {
            let block = row + b * blockBytes
            var isum: Int32 = 0
            for i in 0 ..< 32 {
                isum += Int32(block.load(fromByteOffset: 2 + i, as: Int8.self)) * Int32(x.quants[b * 32 + i])
            }
            sum += Float(block.loadUnaligned(as: Float16.self)) * x.scales[b] * Float(isum)
        }
        return sum
    }

    public static func dequantize(_ row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        for b in 0 ..< count / 32 {
            let block = row + b * blockBytes
            let d = Float(block.loadUnaligned(as: Float16.self))
            for i in 0 ..< 32 {
                output[b * 32 + i] = Float(block.load(fromByteOffset: 2 + i, as: Int8.self)) * d
            }
        }
    }
}
