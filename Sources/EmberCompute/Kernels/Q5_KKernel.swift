// Q5_K weights (ggml block_q5_K: f16 d, f16 dmin, u8 scales[12], u8 qh[32], u8 qs[128]; 176 bytes
// per 256 values) against Q8 activations. As Q4_K, with a fifth bit per weight: bit j of qh[i] is
// the fifth bit of element i of sub-block j.

import EmberFormats

public enum Q5_KKernel: QuantizedRowKernel {
    public static let type = TensorType.q5_K
    static let blockBytes = 176

    public static func dot(_ row: UnsafeRawPointer, _ x: Q8Row, count: Int) -> Float {
        // Even and odd sub-blocks accumulate separately so that consecutive FMAs are independent.
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), minAcc = SIMD8<Float>()
        for s in 0 ..< count / 256 {
            let block = row + s * blockBytes
            let dm = loadHalves(block, 0)
            let (scales, mins) = unpackScalesAndMins(block + 4)
            let factors = SIMD8(repeating: dm[0]) * scales * loadFloat8(x.scales + s * 8)
            minAcc.addProduct(SIMD8(repeating: dm[1]) * mins, loadFloat8(x.sums + s * 8))
            // The high bits moved up to bit 4 + j, so that sub-block j shifts them down by j.
            let h0 = loadUInt8x16(block, 16) &<< 4, h1 = loadUInt8x16(block, 32) &<< 4
            let a = x.quants + s * 256
            for p in 0 ..< 4 {
                let b0 = loadUInt8x16(block, 48 + 32 * p), b1 = loadUInt8x16(block, 64 + 32 * p)
                let j = 2 * p
                let low0 = (b0 & 15) | ((h0 &>> Int16(j)) & 16), low1 = (b1 & 15) | ((h1 &>> Int16(j)) & 16)
                let high0 = (b0 &>> 4) | ((h0 &>> Int16(j + 1)) & 16), high1 = (b1 &>> 4) | ((h1 &>> Int16(j + 1)) & 16)
                let low = low0 &* loadInt8x16(a, 64 * p) &+ low1 &* loadInt8x16(a, 64 * p + 16)
                let high = high0 &* loadInt8x16(a, 64 * p + 32) &+ high1 &* loadInt8x16(a, 64 * p + 48)
                acc0.addProduct(floats(widenSum(low)), SIMD8(repeating: factors[j]))
                acc1.addProduct(floats(widenSum(high)), SIMD8(repeating: factors[j + 1]))
            }
        }
        return horizontalSum(acc0 + acc1 - minAcc)
    }

    /// q of element `i` (0..<32) of sub-block `j`.
    @inline(__always)
    static func value(_ block: UnsafeRawPointer, _ j: Int, _ i: Int) -> Int32 {
        let byte = block.load(fromByteOffset: 48 + 32 * (j / 2) + i, as: UInt8.self)
        let high = block.load(fromByteOffset: 16 + i, as: UInt8.self) >> j & 1
        return Int32(j % 2 == 0 ? byte & 0xF : byte >> 4) | Int32(high) << 4
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
