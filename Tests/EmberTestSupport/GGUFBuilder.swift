// Small GGUF files built byte by byte for tests (EmberFormats' GGUFEncoder): broken ones for the
// reader, tiny models for the engine.

import EmberFormats
import Foundation

public typealias GGUFBuilder = GGUFEncoder

extension GGUFEncoder {
    /// Pads to `alignment`, then appends `count` data bytes.
    public mutating func data(count: Int, alignment: Int = 32) {
        pad(to: alignment)
        bytes += [UInt8](repeating: 0x11, count: count)
    }

    public func write() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ember-test-\(UUID().uuidString).gguf").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Writes the file, parses it, deletes it.
    public func parse() throws -> GGUFFile {
        let path = try write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try GGUFFile(path: path)
    }

    /// The error parsing this file gives (nil if it parses).
    public func parseError() throws -> GGUFError? {
        do {
            _ = try parse()
            return nil
        } catch let error as GGUFError {
            return error
        }
    }
}

extension GGUFEncoder {
    /// A complete, valid file: the metadata, then the tensors laid out one after another (aligned).
    public static func file(metadata: [(String, GGUFValue)], tensors: [(name: String, shape: [Int], type: TensorType, data: [UInt8])],
                            alignment: Int = 32) -> GGUFBuilder {
        var b = GGUFBuilder()
        b.header(tensors: UInt64(tensors.count), keys: UInt64(metadata.count))
        for (name, value) in metadata { b.key(name, value) }
        var offset = 0
        for tensor in tensors {
            b.tensor(tensor.name, shape: tensor.shape.map { UInt64($0) }, type: tensor.type.rawValue, offset: UInt64(offset))
            offset += (tensor.data.count + alignment - 1) / alignment * alignment
        }
        for tensor in tensors {
            b.pad(to: alignment)
            b.bytes += tensor.data
        }
        return b
    }
}

/// The bytes of floats, for F32 tensor data.
public func floatBytes(_ values: [Float]) -> [UInt8] {
    values.withUnsafeBytes { Array($0) }
}
