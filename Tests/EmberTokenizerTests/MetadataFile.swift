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

/// Reads a fixture written by `write_metadata_json` in scripts/goldens/gguf_json.py.
func metadata(json url: URL) throws -> GGUFMetadata {
    try metadata(GGUFJSON.metadata(json: url))
}
