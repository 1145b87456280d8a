// F32 weights against float activations.

import EmberFormats

public enum F32Kernel: FloatRowKernel {
    public static let type = TensorType.f32

    public static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        let xs = UnsafeRawPointer(x)
        // Four accumulators of 16 keep four independent FMA chains in flight.
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>(), acc2 = SIMD16<Float>(), acc3 = SIMD16<Float>()
        var i = 0
        while i + 64 <= count {
            acc0.addProduct(row.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self),
                            xs.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self))
            acc1.addProduct(row.loadUnaligned(fromByteOffset: 4 * i + 64, as: SIMD16<Float>.self),
                            xs.loadUnaligned(fromByteOffset: 4 * i + 64, as: SIMD16<Float>.self))
            acc2.addProduct(row.loadUnaligned(fromByteOffset: 4 * i + 128, as: SIMD16<Float>.self),
                            xs.loadUnaligned(fromByteOffset: 4 * i + 128, as: SIMD16<Float>.self))
            acc3.addProduct(row.loadUnaligned(fromByteOffset: 4 * i + 192, as: SIMD16<Float>.self),
                            xs.loadUnaligned(fromByteOffset: 4 * i + 192, as: SIMD16<Float>.self))
            i += 64
        }
        while i + 16 <= count {
            acc0.addProduct(row.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self),
                            xs.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self))
            i += 16
        }
        var sum = horizontalSum((acc0 + acc1) + (acc2 + acc3))
        while i < count {
            sum += row.load(fromByteOffset: 4 * i, as: Float.self) * x[i]
            i += 1
        }
        return sum
    }

    public static func dotScalar(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        var sum: Float = 0
        for i in 0 ..< count { sum += row.load(fromByteOffset: 4 * i, as: Float.self) * x[i] }
        return sum
    }

    public static func dequantize(_ row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        for i in 0 ..< count { output[i] = row.load(fromByteOffset: 4 * i, as: Float.self) }
    }
}
