// Each kernel's layout and dequantization against the `gguf` package. The expected values are equal
// bit for bit: both sides do the same float32 operations in the same order (d * q + m for Q4_1/Q5_1,
// (d * sc) * q - dmin * m for Q4_K/Q5_K, (d * sc) * q for Q6_K) and Swift does not fuse them into FMAs.

import EmberCompute
import EmberFormats
import Testing

@Test func blockLayoutsMatchGGML() throws {
    // ggml-common.h's static_asserts, restated: the kernels hard-code these offsets and sizes.
    let bytes: [TensorType: Int] = [.q8_0: 34, .q4_0: 18, .q4_1: 20, .q5_0: 22, .q5_1: 24,
                                    .q4_K: 144, .q5_K: 176, .q6_K: 210, .f32: 4, .f16: 2, .bf16: 2]
    for type in quantizedTypes + floatTypes {
        let fixture = try QuantFixture(type)
        #expect(fixture.typeID == type.rawValue)
        #expect(fixture.blockBytes == type.bytesPerBlock, "\(type)")
        #expect(fixture.blockSize == type.blockSize, "\(type)")
        #expect(bytes[type] == type.bytesPerBlock, "\(type)")
    }
    for type in quantizedTypes { #expect(quantizedKernel(type).type == type) }
    for type in floatTypes { #expect(floatKernel(type).type == type) }
}

@Test(arguments: quantizedTypes + floatTypes)
func dequantizeMatchesGGUFPackage(_ type: TensorType) throws {
    let fixture = try QuantFixture(type)
    let count = fixture.blockCount * fixture.blockSize
    var output = [Float](repeating: .nan, count: count)
    fixture.blocks.withUnsafeBytes { blocks in
        if floatTypes.contains(type) {
            floatKernel(type).dequantize(blocks.baseAddress!, count: count, into: &output)
        } else {
            quantizedKernel(type).dequantize(blocks.baseAddress!, count: count, into: &output)
        }
    }
    let mismatches = (0 ..< count).filter { output[$0].bitPattern != fixture.values[$0].bitPattern }
    #expect(mismatches.isEmpty, "\(type): \(mismatches.count) of \(count) differ, first at \(mismatches.first ?? -1)")
}

@Test func anUncomputableTypeIsRefusedNamingTheComputableOnes() {
    #expect(ComputableTypes.kernels(for: .iq2_xxs) == nil)
    let message = BackendError.unsupportedType(tensor: "blk.0.ffn_down.weight", type: .iq2_xxs).description
    #expect(message.contains("blk.0.ffn_down.weight") && message.contains("IQ2_XXS"), "\(message)")
    #expect(message.hasSuffix("(supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K)"), "\(message)")
}
