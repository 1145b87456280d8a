// The contract every weight type's kernels meet. A matrix multiplication is generic over the kernel
// type and specialised per weight type at one `switch` outside the loops, so the inner loops call a
// concrete, inlined function: no existential or closure dispatch per row.

import EmberFormats

/// Kernels for a weight type whose rows are multiplied with 16-bit quantized activations (`Q16Row`).
public protocol QuantizedRowKernel {
    /// The tensor type these kernels read.
    static var type: TensorType { get }
    /// Dot product of one weight row of `count` elements with a quantized activation row (SIMD).
    static func dot(_ row: UnsafeRawPointer, _ x: Q16Row, count: Int) -> Float
    /// The same dot product in plain scalar code: the reference the SIMD path is tested against.
    static func dotScalar(_ row: UnsafeRawPointer, _ x: Q16Row, count: Int) -> Float
    /// Expands `count` elements of a row to floats (scalar reference, also used for embeddings).
    static func dequantize(_ row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>)
}

/// Kernels for a floating-point weight type (F32, F16, BF16), multiplied with float activations.
public protocol FloatRowKernel {
    static var type: TensorType { get }
    /// Dot product of one weight row of `count` elements with `count` floats (SIMD).
    static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float
    /// The same in plain scalar code.
    static func dotScalar(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float
    static func dequantize(_ row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>)
}
