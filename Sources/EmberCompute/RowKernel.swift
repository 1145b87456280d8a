// The contract every weight type's portable kernels meet (ComputableTypes lists each type's). The
// portable matrix product opens a type's kernel once, outside the loops: each row then costs one call
// of that type's `dot`, whose loop over blocks is compiled for the type, as the native C kernels cost
// one call through a function pointer.

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
