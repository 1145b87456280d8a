// The one table of the tensor types Ember computes with, each with its portable kernels (dot
// products and dequantization in Swift; the CPU backend's native C kernels for a type are chosen per
// instruction set in KernelLevel). Binding a weight, listing the supported types in an error,
// expanding a row and the portable matrix product all read this table.

import EmberFormats

/// The portable kernels of one tensor type. Unchecked: it holds only metatypes of stateless kernel
/// types, which any thread may use.
public enum RowKernels: @unchecked Sendable {
    /// A quantized type, multiplied with 16-bit quantized activations.
    case quantized(any QuantizedRowKernel.Type)
    /// A floating-point type, multiplied with float activations.
    case float(any FloatRowKernel.Type)

    /// Expands `count` elements of a row to floats.
    func dequantize(_ row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        switch self {
        case let .quantized(kernel): kernel.dequantize(row, count: count, into: output)
        case let .float(kernel): kernel.dequantize(row, count: count, into: output)
        }
    }
}

public enum ComputableTypes {
    /// Every type Ember computes with, in the order messages list them.
    public static let table: [(type: TensorType, kernels: RowKernels)] = [
        (.f32, .float(F32Kernel.self)),
        (.f16, .float(F16Kernel.self)),
        (.bf16, .float(BF16Kernel.self)),
        (.q8_0, .quantized(Q8_0Kernel.self)),
        (.q4_0, .quantized(Q4_0Kernel.self)),
        (.q4_1, .quantized(Q4_1Kernel.self)),
        (.q5_0, .quantized(Q5_0Kernel.self)),
        (.q5_1, .quantized(Q5_1Kernel.self)),
        (.q4_K, .quantized(Q4_KKernel.self)),
        (.q5_K, .quantized(Q5_KKernel.self)),
        (.q6_K, .quantized(Q6_KKernel.self)),
    ]

    public static let types: [TensorType] = table.map(\.type)

    private static let byType = Dictionary(uniqueKeysWithValues: table.map { ($0.type, $0.kernels) })

    /// The portable kernels of `type`, nil when Ember cannot compute with it.
    public static func kernels(for type: TensorType) -> RowKernels? { byType[type] }
}
