// Builds GGUF metadata in memory for vocabulary tests (written to a temporary file and read back with
// the real reader): just the value kinds tokenizer keys use.

import EmberFormats
import Foundation

enum MetadataValue {
    case string(String)
    case uint32(UInt32)
    case bool(Bool)
    case strings([String])
    case floats([Float])
    case int32s([Int32])
}

func metadata(_ entries: [(String, MetadataValue)]) throws -> GGUFMetadata {
    var bytes: [UInt8] = []
    func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
    func append(_ string: String) {
        append(UInt64(string.utf8.count))
        bytes += Array(string.utf8)
    }
    bytes += Array("GGUF".utf8)
    append(UInt32(3))
    append(UInt64(0))
    append(UInt64(entries.count))
    for (key, value) in entries {
        append(key)
        switch value {
        case let .string(string):
            append(GGUFValueType.string.rawValue)
            append(string)
        case let .uint32(number):
            append(GGUFValueType.uint32.rawValue)
            append(number)
        case let .bool(flag):
            append(GGUFValueType.bool.rawValue)
            bytes.append(flag ? 1 : 0)
        case let .strings(strings):
            append(GGUFValueType.array.rawValue)
            append(GGUFValueType.string.rawValue)
            append(UInt64(strings.count))
            strings.forEach { append($0) }
        case let .floats(floats):
            append(GGUFValueType.array.rawValue)
            append(GGUFValueType.float32.rawValue)
            append(UInt64(floats.count))
            floats.forEach { append($0.bitPattern) }
        case let .int32s(numbers):
            append(GGUFValueType.array.rawValue)
            append(GGUFValueType.int32.rawValue)
            append(UInt64(numbers.count))
            numbers.forEach { append($0) }
        }
    }
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("ember-tokenizer-\(UUID().uuidString).gguf")
    try Data(bytes).write(to: url)
    defer { try? FileManager.default.removeItem(at: url) }
    return try GGUFFile(path: url.path).metadata
}
