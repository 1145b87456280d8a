// F16 weights against float activations: halves are widened with vcvtph2ps (F16C) and multiplied
// in single precision.

import EmberFormats

public enum F16Kernel: FloatRowKernel {
    public static let type = TensorType.f16

    @inline(__always)
    static func load8(_ row: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> {
        let h = row.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<Float16>.self)
        var r = SIMD8<Float>()
        for lane in 0 ..< 8 { r[lane] = Float(h[lane]) }
        return r
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
            sum += Float(row.loadUnaligned(fromByteOffset: 2 * i, as: Float16.self)) * x[i]
            i += 1
        }
        return sum
    }

    public static func dotScalar(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        var sum: Float = 0
        for i in 0 ..< count { sum += Float(row.loadUnaligned(fromByteOffset: 2 * i, as: Float16.self)) * x[i] }
        return sum
    }

    public static func dequantize(_ row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        for i in 0 ..< count { output[i] = Float(row.loadUnaligned(fromByteOffset: 2 * i, as: Float16.self)) }
    }
}
