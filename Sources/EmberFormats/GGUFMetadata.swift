// The key/value metadata of a GGUF file, in file order, with typed accessors whose errors name the key.

public enum MetadataError: Error, Equatable, CustomStringConvertible {
    case missing(key: String)
    case wrongType(key: String, expected: String, found: GGUFValueType)

    public var description: String {
        switch self {
        case let .missing(key): "model metadata lacks required key \"\(key)\""
        case let .wrongType(key, expected, found): "model metadata \"\(key)\" is \(found), expected \(expected)"
        }
    }
}

public struct GGUFMetadata: Sendable {
    /// Keys in the order the file lists them.
    public let keys: [String]
    private let values: [String: GGUFValue]

    init(keys: [String], values: [String: GGUFValue]) {
        self.keys = keys
        self.values = values
    }

    /// Metadata built in memory (a checkpoint's configuration under GGUF's keys); a key given twice
    /// keeps its last value, at its first place.
    public init(_ entries: [(key: String, value: GGUFValue)]) {
        var keys: [String] = [], values: [String: GGUFValue] = [:]
        for (key, value) in entries where values.updateValue(value, forKey: key) == nil { keys.append(key) }
        self.init(keys: keys, values: values)
    }

    public subscript(key: String) -> GGUFValue? { values[key] }

    public var count: Int { keys.count }

    public func int(_ key: String) throws(MetadataError) -> Int {
        guard let value = values[key] else { throw .missing(key: key) }
        guard let int = value.intValue else { throw .wrongType(key: key, expected: "an integer", found: value.type) }
        return int
    }

    public func float(_ key: String) throws(MetadataError) -> Float {
        guard let value = values[key] else { throw .missing(key: key) }
        guard let float = value.floatValue else { throw .wrongType(key: key, expected: "a number", found: value.type) }
        return float
    }

    public func string(_ key: String) throws(MetadataError) -> String {
        guard let value = values[key] else { throw .missing(key: key) }
        guard let string = value.stringValue else { throw .wrongType(key: key, expected: "a string", found: value.type) }
        return string
    }

    public func bool(_ key: String) throws(MetadataError) -> Bool {
        guard let value = values[key] else { throw .missing(key: key) }
        guard let bool = value.boolValue else { throw .wrongType(key: key, expected: "a bool", found: value.type) }
        return bool
    }

    public func array(_ key: String) throws(MetadataError) -> GGUFArray {
        guard let value = values[key] else { throw .missing(key: key) }
        guard let array = value.arrayValue else { throw .wrongType(key: key, expected: "an array", found: value.type) }
        return array
    }

    /// Optional variants: nil when the key is absent, an error when present with the wrong type.
    public func intIfPresent(_ key: String) throws(MetadataError) -> Int? {
        values[key] == nil ? nil : try int(key)
    }

    public func floatIfPresent(_ key: String) throws(MetadataError) -> Float? {
        values[key] == nil ? nil : try float(key)
    }

    public func stringIfPresent(_ key: String) throws(MetadataError) -> String? {
        values[key] == nil ? nil : try string(key)
    }

    public func boolIfPresent(_ key: String) throws(MetadataError) -> Bool? {
        values[key] == nil ? nil : try bool(key)
    }

    public func arrayIfPresent(_ key: String) throws(MetadataError) -> GGUFArray? {
        values[key] == nil ? nil : try array(key)
    }
}
