// Readers for the reference data written by scripts/goldens/make_quant_fixtures.py (the file formats
// are documented there), the kernel for each tensor type, and seeded random activations.

import EmberCompute
import EmberFormats
import EmberTestSupport
import Foundation

enum FixtureError: Error, CustomStringConvertible {
    case missing(String)
    case malformed(String)

    var description: String {
        switch self {
        case let .missing(name): "fixture \(name) not found: run scripts/goldens/make_quant_fixtures.py"
        case let .malformed(name): "fixture \(name) is malformed: rerun scripts/goldens/make_quant_fixtures.py"
        }
    }
}

private func fixtureData(_ name: String) throws -> Data {
    guard let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
        throw FixtureError.missing("Fixtures")
    }
    let url = root.appendingPathComponent("quant").appendingPathComponent(name)
    guard let data = try? Data(contentsOf: url) else { throw FixtureError.missing(name) }
    return data
}

private struct Reader {
    let data: Data
    var offset = 0

    mutating func bytes(_ count: Int) -> [UInt8] {
        defer { offset += count }
        return [UInt8](data[data.startIndex + offset ..< data.startIndex + offset + count])
    }

    mutating func u32() -> UInt32 {
        bytes(4).reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func floats(_ count: Int) -> [Float] {
        (0 ..< count).map { _ in Float(bitPattern: u32()) }
    }
}

/// Blocks of one tensor type and their dequantized values according to the `gguf` package.
struct QuantFixture {
    let typeID: UInt32
    let blockSize: Int
    let blockBytes: Int
    let blockCount: Int
    /// Blocks before this index hold random bytes, the others encode normally distributed data.
    let randomCount: Int
    let blocks: [UInt8]
    let values: [Float]

    init(_ type: TensorType) throws {
        let name = "\(type).dat"
        var reader = Reader(data: try fixtureData(name))
        guard reader.bytes(4) == Array("EMQB".utf8), reader.u32() == 1 else { throw FixtureError.malformed(name) }
        typeID = reader.u32()
        blockSize = Int(reader.u32())
        blockBytes = Int(reader.u32())
        blockCount = Int(reader.u32())
        randomCount = Int(reader.u32())
        guard reader.data.count == 28 + blockCount * (blockBytes + 4 * blockSize) else {
            throw FixtureError.malformed(name)
        }
        blocks = reader.bytes(blockCount * blockBytes)
        values = reader.floats(blockCount * blockSize)
    }
}

/// The kernels under test, by type (metatypes are not Sendable test arguments; tensor types are),
/// from the one table of computable types.
func quantizedKernel(_ type: TensorType) -> any QuantizedRowKernel.Type {
    guard case let .quantized(kernel)? = ComputableTypes.kernels(for: type) else { preconditionFailure("no quantized kernel for \(type)") }
    return kernel
}

func floatKernel(_ type: TensorType) -> any FloatRowKernel.Type {
    guard case let .float(kernel)? = ComputableTypes.kernels(for: type) else { preconditionFailure("no float kernel for \(type)") }
    return kernel
}

let quantizedTypes = ComputableTypes.table.compactMap { if case .quantized = $0.kernels { $0.type } else { nil } }
let floatTypes = ComputableTypes.table.compactMap { if case .float = $0.kernels { $0.type } else { nil } }


/// `count` activations, roughly normal, whose magnitude changes from one block of 32 to the next as
/// real hidden states do.
func randomActivations(_ count: Int, seed: UInt64) -> [Float] {
    var generator = SeededGenerator(seed: seed)
    var x = [Float](repeating: 0, count: count)
    var scale: Float = 1
    for i in 0 ..< count {
        if i % 32 == 0 { scale = Float.random(in: 0.05 ... 4, using: &generator) }
        let normal = (0 ..< 4).reduce(Float(0)) { sum, _ in sum + Float.random(in: -1 ... 1, using: &generator) }
        x[i] = normal * scale
    }
    return x
}
