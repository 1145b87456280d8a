// BF16 weights against float activations. A bfloat16 is the top half of a float32, so widening is a
// 16-bit shift of the bit pattern.

import EmberFormats

public enum BF16Kernel: FloatRowKernel {
    public static let type = TensorType.bf16

    @inline(__always)
    static func load8(_ row: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> {
        let h = row.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<UInt16>.self)
        var r = SIMD8<UInt32>()
        for lane in 0 ..< 8 { r[lane] = UInt32(h[lane]) &<< 16 }
        return unsafeBitCast(r, to: SIMD8<Float>.self)
    }

    @inline(__always)
    static func load1(_ row: UnsafeRawPointer, _ i: Int) -> Float {
        Float(bitPattern: UInt32(row.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
    }

    public static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        // Four accumulators keep four independent FMA chains in flight.
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
        var i = 0
        while i + 32 <= count {
            acc0.addProduct(load8(row, i), loadFloat8(x + i))
            acc1.addProduct(load8(row, i + 8), loadFloat8(x + i + 8))
            acc2.addProduct(load8(row, i + 16), loadFloat8(x + i + 16))
            acc3.addProduct(load8(row, i + 24), loadFloat8(x + i + 24))
            i += 32
        }
        while i + 8 <= count {
            acc0.addProduct(load8(row, i), loadFloat8(x + i))
            i += 8
        }
        var sum = horizontalSum((acc0 + acc1) + (acc2 + acc3))
        while i < count {
            sum += load1(row, i) * x[i]
            i += 1
        }
        return sum
    }

    public static func dotScalar(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        var sum: Float = 0
        for i in 0 ..< count { sum += load1(row, i) * x[i] }
        return sum
    }

    public static func dequantize(_ row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        for i in 0 ..< count { output[i] = load1(row, i) }
    }
}
