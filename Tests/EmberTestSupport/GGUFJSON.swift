// GGUF files kept as JSON fixtures (scripts/goldens/gguf_json.py), so that no model file is
// committed: the tiny vocabularies (metadata only) and the tiny random models (metadata and F32
// tensors), turned back into GGUF with GGUFBuilder.

import EmberFormats
import Foundation

public enum GGUFJSON {
    public enum FixtureError: Error, CustomStringConvertible {
        case malformed(String, String)
        case unsupported(String, String)

        public var description: String {
            switch self {
            case let .malformed(file, problem): "GGUF fixture \(file): \(problem)"
            case let .unsupported(key, type): "GGUF fixture key \(key): unsupported type \(type)"
            }
        }
    }

    /// The entries of a metadata fixture: a list of {key, type, element_type (arrays), value}.
    public static func metadata(json url: URL) throws -> [(String, GGUFValue)] {
        try metadata(JSONSerialization.jsonObject(with: Data(contentsOf: url)), file: url.lastPathComponent)
    }

    /// A model fixture ({metadata, tensors: [{name, shape, type, data (base64)}]}) written back to a
    /// temporary GGUF file, whose path comes back; the caller deletes it.
    public static func modelFile(json url: URL) throws -> String {
        let file = url.lastPathComponent
        guard let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any],
              let metadataEntries = object["metadata"], let tensorEntries = object["tensors"] as? [[String: Any]] else {
            throw FixtureError.malformed(file, "not an object of metadata and tensors")
        }
        let tensors = try tensorEntries.map { entry -> (name: String, shape: [Int], type: TensorType, data: [UInt8]) in
            guard let name = entry["name"] as? String, let shape = entry["shape"] as? [Int], entry["type"] as? String == "f32",
                  let encoded = entry["data"] as? String, let data = Data(base64Encoded: encoded) else {
                throw FixtureError.malformed(file, "a tensor that is not {name, shape, type f32, data}")
            }
            return (name, shape, .f32, [UInt8](data))
        }
        return try GGUFBuilder.file(metadata: metadata(metadataEntries, file: file), tensors: tensors).write()
    }

    private static func metadata(_ json: Any, file: String) throws -> [(String, GGUFValue)] {
        guard let entries = json as? [[String: Any]] else { throw FixtureError.malformed(file, "metadata is not a list of entries") }
        return try entries.map { entry in
            guard let key = entry["key"] as? String, let type = entry["type"] as? String, let value = entry["value"] else {
                throw FixtureError.malformed(file, "entry without key, type or value")
            }
            if type == "array" {
                return (key, .array(try array(of: entry["element_type"] as? String ?? "", value, key: key)))
            }
            return (key, try scalar(of: type, value, key: key))
        }
    }

    private static func scalar(of type: String, _ value: Any, key: String) throws -> GGUFValue {
        switch (type, value) {
        case let ("string", string as String): return .string(string)
        case let ("uint32", number as NSNumber): return .uint32(number.uint32Value)
        case let ("int32", number as NSNumber): return .int32(number.int32Value)
        case let ("float32", number as NSNumber): return .float32(number.floatValue)
        case let ("bool", number as NSNumber): return .bool(number.boolValue)
        default: throw FixtureError.unsupported(key, type)
        }
    }

    private static func array(of elementType: String, _ value: Any, key: String) throws -> GGUFArray {
        switch (elementType, value) {
        case let ("string", values as [String]): return .string(values)
        case let ("int32", values as [NSNumber]): return .int32(values.map(\.int32Value))
        case let ("uint32", values as [NSNumber]): return .uint32(values.map(\.uint32Value))
        case let ("float32", values as [NSNumber]): return .float32(values.map(\.floatValue))
        default: throw FixtureError.unsupported(key, "array of \(elementType)")
        }
    }
}
