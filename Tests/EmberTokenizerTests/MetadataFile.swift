// GGUF metadata for vocabulary tests, written to a temporary file with EmberTestSupport's GGUFBuilder
// and read back with the real reader: from literal entries, or from a committed JSON fixture (the
// tiny vocabularies are kept as typed JSON so that no model file is committed).

import EmberFormats
import EmberTestSupport
import Foundation

/// Short spellings for the array values tokenizer keys use.
extension GGUFValue {
    static func strings(_ values: [String]) -> GGUFValue { .array(.string(values)) }
    static func floats(_ values: [Float]) -> GGUFValue { .array(.float32(values)) }
    static func int32s(_ values: [Int32]) -> GGUFValue { .array(.int32(values)) }
}

func metadata(_ entries: [(String, GGUFValue)]) throws -> GGUFMetadata {
    var builder = GGUFBuilder()
    builder.header(tensors: 0, keys: UInt64(entries.count))
    for (key, value) in entries { builder.key(key, value) }
    return try builder.parse().metadata
}

/// Reads a fixture written by `write_metadata_json` in scripts/goldens/make_tokenizer_goldens.py:
/// a list of {key, type, element_type (arrays), value}.
func metadata(json url: URL) throws -> GGUFMetadata {
    guard let entries = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [[String: Any]] else {
        throw MetadataFixtureError.malformed(url.lastPathComponent, "not a list of entries")
    }
    return try metadata(entries.map { entry in
        guard let key = entry["key"] as? String, let type = entry["type"] as? String, let value = entry["value"] else {
            throw MetadataFixtureError.malformed(url.lastPathComponent, "entry without key, type or value")
        }
        if type == "array" {
            return (key, .array(try array(of: entry["element_type"] as? String ?? "", value, key: key)))
        }
        return (key, try scalar(of: type, value, key: key))
    })
}

private func scalar(of type: String, _ value: Any, key: String) throws -> GGUFValue {
    switch (type, value) {
    case let ("string", string as String): return .string(string)
    case let ("uint32", number as NSNumber): return .uint32(number.uint32Value)
    case let ("int32", number as NSNumber): return .int32(number.int32Value)
    case let ("float32", number as NSNumber): return .float32(number.floatValue)
    case let ("bool", number as NSNumber): return .bool(number.boolValue)
    default: throw MetadataFixtureError.unsupported(key, type)
    }
}

private func array(of elementType: String, _ value: Any, key: String) throws -> GGUFArray {
    switch (elementType, value) {
    case let ("string", values as [String]): return .string(values)
    case let ("int32", values as [NSNumber]): return .int32(values.map(\.int32Value))
    case let ("uint32", values as [NSNumber]): return .uint32(values.map(\.uint32Value))
    case let ("float32", values as [NSNumber]): return .float32(values.map(\.floatValue))
    default: throw MetadataFixtureError.unsupported(key, "array of \(elementType)")
    }
}

enum MetadataFixtureError: Error, CustomStringConvertible {
    case malformed(String, String)
    case unsupported(String, String)

    var description: String {
        switch self {
        case let .malformed(file, problem): "metadata fixture \(file): \(problem)"
        case let .unsupported(key, type): "metadata fixture key \(key): unsupported type \(type)"
        }
    }
}
