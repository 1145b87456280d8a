// Quantizing at load gives ggml's blocks: Q8_0, Q4_0 and Q5_0 (Q4_K's fallback) byte for byte what the `gguf` package's
// reference quantizers give (EmberComputeTests' fixtures: requantizing their dequantized values must
// give their blocks back), and Q4_K, ggml's search, a round trip through Ember's own Q4_K kernel
// that is closer than Q4_0's on the same data.

@testable import EmberCheckpoint
import EmberCompute
import EmberFormats
import Foundation
import Testing

struct WeightQuantizationTests {
    /// A fixture of EmberComputeTests (scripts/goldens/make_quant_fixtures.py): its normally
    /// distributed blocks (after the random ones) and their dequantized values.
    static func fixture(_ type: String) throws -> (blocks: [UInt8], values: [Float]) {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("EmberComputeTests/Fixtures/quant/\(type).dat")
        let data = [UInt8](try Data(contentsOf: url))
        func u32(_ offset: Int) -> Int { data[offset ..< offset + 4].withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))) } }
        let (blockSize, blockBytes, blockCount, randomCount) = (u32(12), u32(16), u32(20), u32(24))
        let blocks = Array(data[28 + randomCount * blockBytes ..< 28 + blockCount * blockBytes])
        let valuesStart = 28 + blockCount * blockBytes + randomCount * blockSize * 4
        let values = data[valuesStart ..< 28 + blockCount * blockBytes + blockCount * blockSize * 4].withUnsafeBytes {
            Array($0.bindMemory(to: Float.self))
        }
        return (blocks, values)
    }

    @Test(arguments: [("Q8_0", 34), ("Q4_0", 18), ("Q5_0", 22)])
    func requantizingGivesTheReferenceBlocks(type: String, blockBytes: Int) throws {
        let (blocks, values) = try Self.fixture(type)
        #expect(values.count / 32 * blockBytes == blocks.count && !values.isEmpty)
        var output = [UInt8](repeating: 0, count: blocks.count)
        output.withUnsafeMutableBytes { buffer in
            switch type {
            case "Q8_0": WeightConversion.quantizeQ8_0(values, into: buffer.baseAddress!)
            case "Q4_0": WeightConversion.quantizeQ4_0(values, into: buffer.baseAddress!)
            default: WeightConversion.quantizeQ5_0(values, into: buffer.baseAddress!)
            }
        }
        #expect(output == blocks)
    }

    @Test func q4KRoundTripsCloserThanQ4_0() {
        var generator = SystemRandomNumberGenerator()
        let values: [Float] = (0 ..< 4096).map { _ in
            // Normal values (Box-Muller) with a few outliers, as weight rows have.
            let u = Float.random(in: 0.0001 ..< 1, using: &generator), v = Float.random(in: 0 ..< 1, using: &generator)
            return (-2 * log(u)).squareRoot() * cos(2 * .pi * v) * (Int.random(in: 0 ..< 100, using: &generator) == 0 ? 6 : 1)
        }
        func relativeError(_ type: TensorType, _ quantize: ([Float], UnsafeMutableRawPointer) -> Void,
                           _ dequantize: (UnsafeRawPointer, Int, UnsafeMutablePointer<Float>) -> Void) -> Float {
            var blocks = [UInt8](repeating: 0, count: type.byteCount(elements: values.count)!)
            var restored = [Float](repeating: 0, count: values.count)
            blocks.withUnsafeMutableBytes { quantize(values, $0.baseAddress!) }
            blocks.withUnsafeBytes { raw in restored.withUnsafeMutableBufferPointer { dequantize(raw.baseAddress!, values.count, $0.baseAddress!) } }
            let error = zip(values, restored).reduce(Float(0)) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
            return (error / values.reduce(0) { $0 + $1 * $1 }).squareRoot()
        }
        let q4K = relativeError(.q4_K, Q4KQuantizer.quantize) { Q4_KKernel.dequantize($0, count: $1, into: $2) }
        let q4_0 = relativeError(.q4_0, WeightConversion.quantizeQ4_0) { Q4_0Kernel.dequantize($0, count: $1, into: $2) }
        #expect(q4K < 0.1 && q4K < q4_0, "Q4_K relative error \(q4K), Q4_0's \(q4_0)")
    }
}
