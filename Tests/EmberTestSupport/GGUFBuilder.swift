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
        b.layout(metadata: metadata.map { (key: $0.0, value: $0.1) }, tensors: tensors.map { ($0.name, $0.shape, $0.type, $0.data.count) },
                 alignment: alignment)
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
