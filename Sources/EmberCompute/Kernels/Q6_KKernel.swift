// Q6_K weights (ggml block_q6_K: u8 ql[128], u8 qh[64], int8 scales[16], f16 d; 210 bytes per 256
// values) against Q8 activations. Weight i is d * scales[i / 16] * (q_i - 32) with a 6-bit q_i.
// Each 128-value half h reads ql[64h ..< 64h+64] and qh[32h ..< 32h+32]; its 32-value part k takes
// its low four bits from the low (k = 0, 1) or high (k = 2, 3) nibbles of ql[32 * (k % 2) + l] and
// its top two bits from bits 2k, 2k+1 of qh[l]. The two 16-value halves of a 32-value part are
// combined as integers weighted by their scales, then multiplied by d * d_a once.

import EmberFormats

public enum Q6_KKernel: QuantizedRowKernel {
    public static let type = TensorType.q6_K
    static let blockBytes = 210

    public static func dot(_ row: UnsafeRawPointer, _ x: Q8Row, count: Int) -> Float {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        for s in 0 ..< count / 256 {
            let block = row + s * blockBytes
            // d is the block's last two bytes: load the eight bytes that end there.
            let factors = SIMD8(repeating: loadHalves(block, 202)[3]) * loadFloat8(x.scales + s * 8)
            let a = x.quants + s * 256
            for h in 0 ..< 2 {
                let ql0 = loadUInt8x16(block, 64 * h), ql1 = loadUInt8x16(block, 64 * h + 16)
                let ql2 = loadUInt8x16(block, 64 * h + 32), ql3 = loadUInt8x16(block, 64 * h + 48)
                let qh0 = loadUInt8x16(block, 128 + 32 * h), qh1 = loadUInt8x16(block, 128 + 32 * h + 16)
                let scales = block + 192 + 8 * h
                let ah = a + 128 * h
                @inline(__always)
                func part(_ k: Int, _ w0: SIMD16<Int16>, _ w1: SIMD16<Int16>) -> SIMD8<Float> {
                    let p0 = widenSum((w0 &- 32) &* loadInt8x16(ah, 32 * k))
                    let p1 = widenSum((w1 &- 32) &* loadInt8x16(ah, 32 * k + 16))
                    let sc0 = Int32(scales.load(fromByteOffset: 2 * k, as: Int8.self))
                    let sc1 = Int32(scales.load(fromByteOffset: 2 * k + 1, as: Int8.self))
                    return floats(p0 &* SIMD8(repeating: sc0) &+ p1 &* SIMD8(repeating: sc1))
                }
                acc0.addProduct(part(0, (ql0 & 15) | ((qh0 &<< 4) & 48), (ql1 & 15) | ((qh1 &<< 4) & 48)),
                                SIMD8(repeating: factors[4 * h]))
                acc1.addProduct(part(1, (ql2 & 15) | ((qh0 &<< 2) & 48), (ql3 & 15) | ((qh1 &<< 2) & 48)),
                                SIMD8(repeating: factors[4 * h + 1]))
                acc0.addProduct(part(2, (ql0 &>> 4) | (qh0 & 48), (ql1 &>> 4) | (qh1 & 48)),
                                SIMD8(repeating: factors[4 * h + 2]))
                acc1.addProduct(part(3, (ql2 &>> 4) | ((qh0 &>> 2) & 48), (ql3 &>> 4) | ((qh1 &>> 2) & 48)),
                                SIMD8(repeating: factors[4 * h + 3]))
            }
        }
        return horizontalSum(acc0 + acc1)
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

    public static func dotScalar(_ row: UnsafeRawPointer, _ x: Q8Row, count: Int) -> Float {
        var sum: Float = 0
        for s in 0 ..< count / 256 {
            let block = row + s * blockBytes
            let d = Float(block.loadUnaligned(fromByteOffset: 208, as: Float16.self))
            for j in 0 ..< 8 {
                let xb = s * 8 + j
                var isum: Int32 = 0
                for i in 0 ..< 32 {
                    let e = j * 32 + i
                    isum += scale(block, e) * value(block, e) * Int32(x.quants[xb * 32 + i])
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
