// Q6_K weights (ggml block_q6_K: u8 ql[128], u8 qh[64], int8 scales[16], f16 d; 210 bytes per 256
// values) against 16-bit quantized activations. Weight i is d * scales[i / 16] * (q_i - 32) with a
// 6-bit q_i. Each 128-value half h reads ql[64h ..< 64h+64] and qh[32h ..< 32h+32]; its 32-value part
// k takes its low four bits from the low (k = 0, 1) or high (k = 2, 3) nibbles of ql[32 * (k % 2) + l]
// and its top two bits from bits 2k, 2k+1 of qh[l]. Each 16-value group's integer sum is scaled in
// float: with 16-bit activations, scale times sum may not fit in int32.

import EmberFormats

public enum Q6_KKernel: QuantizedRowKernel {
    public static let type = TensorType.q6_K
    static let blockBytes = 210

    public static func dot(_ row: UnsafeRawPointer, _ x: Q16Row, count: Int) -> Float {
        // Pass 1: the integer sum of each 16-value group (one scale each); pass 2: scaled by d, the
        // group's scale and its activation block's d_a (see KernelHelpers).
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: blocksPerChunk) { buffer in
            let sums = buffer.baseAddress!
            var acc = SIMD8<Float>()
            let superBlocks = count / 256, perChunk = blocksPerChunk / 16
            var first = 0
            while first < superBlocks {
                let n = min(perChunk, superBlocks - first)
                for index in 0 ..< n * 16 {
                    let s = first + index / 16, g = index % 16
                    let block = row + s * blockBytes
                    // Group g holds elements 16g ..< 16g + 16: half h, 32-value part k, and which 16 of it.
                    let h = g / 8, k = g % 8 / 2, sixteen = g % 2 * 16
                    let low = (loadUInt8x16(block, 64 * h + 32 * (k % 2) + sixteen) &>> Int16(k / 2 * 4)) & 15
                    let high = (loadUInt8x16(block, 128 + 32 * h + sixteen) &>> Int16(2 * k)) & 3
                    sums[index] = dot16((low | high &<< 4) &- 32, x.quants + s * 256, 16 * g)
                }
                for index in 0 ..< n {
                    let s = first + index, block = row + s * blockBytes
                    // d is the block's last two bytes: load the eight bytes that end there.
                    let d = loadHalves(block, 202)[3]
                    let scales = block.loadUnaligned(fromByteOffset: 192, as: SIMD16<Int8>.self)
                    for half in 0 ..< 2 {
                        var factors = SIMD8<Float>(), integer = SIMD8<Float>()
                        for lane in 0 ..< 8 {
                            factors[lane] = Float(scales[8 * half + lane]) * x.scales[s * 8 + 4 * half + lane / 2]
                            integer[lane] = Float(sums[index * 16 + 8 * half + lane])
                        }
                        acc.addProduct(integer, factors * d)
                    }
                }
                first += n
            }
            return horizontalSum(acc)
        }
    }

    /// q - 32 of element `e` (0..<256) of the super-block, following ggml's dequantize_row_q6_K.
    @inline(__always)
    static func value(_ block: UnsafeRawPointer, _ e: Int) -> Int32 {
        let h = e / 128, k = e % 128 / 32, l = e % 32
        let low = block.load(fromByteOffset: 64 * h + 32 * (k % 2) + l, as: UInt8.self)
        let high = block.load(fromByteOffset: 128 + 32 * h + l, as: UInt8.self)
        let q = (k < 2 ? low & 0xF : low >> 4) | (high >> (2 * k) & 3) << 4
        return Int32(q) - 32
    }

    @inline(__always)
    static func scale(_ block: UnsafeRawPointer, _ e: Int) -> Int32 {
        Int32(block.load(fromByteOffset: 192 + e / 16, as: Int8.self))
    }

    public static func dotScalar(_ row: UnsafeRawPointer, _ x: Q16Row, count: Int) -> Float {
        var sum: Float = 0
        for s in 0 ..< count / 256 {
            let block = row + s * blockBytes
            let d = Float(block.loadUnaligned(fromByteOffset: 208, as: Float16.self))
            for j in 0 ..< 8 {
                let xb = s * 8 + j
                var isum: Int64 = 0  // scale * q * a over 32 values can pass 2^31
                for i in 0 ..< 32 {
                    let e = j * 32 + i
                    isum += Int64(scale(block, e) * value(block, e)) * Int64(x.quants[xb * 32 + i])
                }
                sum += d * x.scales[xb] * Float(isum)
            }
        }
        return sum
    }

    public static func dequantize(_ row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        for s in 0 ..< count / 256 {
            let block = row + s * blockBytes
            let d = Float(block.loadUnaligned(fromByteOffset: 208, as: Float16.self))
            for e in 0 ..< 256 {
                output[s * 256 + e] = d * Float(scale(block, e)) * Float(value(block, e))
            }
        }
    }
}
