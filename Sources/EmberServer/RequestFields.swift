// Reading an OpenAI request body field by field, so that every mistake is a 400 naming the field:
// bad JSON, a wrong type, a value out of range, and any field Ember does not know (a client must
// learn that an option was not applied rather than get output made without it).

import Foundation

struct RequestFields {
    private let object: [String: JSONValue]
    /// Where the fields lie in the request, for messages (`options.` for Ollama's options).
    private let prefix: String

    /// Parses `body`, refusing fields outside `known`.
    init(_ body: [UInt8], known: Set<String>) throws(APIError) {
        let parsed: JSONValue
        do { parsed = try JSONDecoder().decode(JSONValue.self, from: Data(body)) } catch {
            throw .badRequest("The body is not valid JSON (\(Self.reason(error)))")
        }
        guard case let .object(object) = parsed else { throw .badRequest("The body must be a JSON object") }
        try self.init(object: object, known: known)
    }

    /// The fields of `object`, a member named `prefix` without its dot, refusing fields outside `known`.
    init(object: [String: JSONValue], known: Set<String>, prefix: String = "") throws(APIError) {
        if let unknown = object.keys.filter({ !known.contains($0) }).sorted().first {
            throw .badRequest("Unsupported parameter '\(prefix)\(unknown)': Ember does not implement it", param: prefix + unknown)
        }
        self.object = object
        self.prefix = prefix
    }

    private static func reason(_ error: any Error) -> String {
        if case let .dataCorrupted(context) = error as? DecodingError { return context.underlyingError.map { "\($0)" } ?? context.debugDescription }
        return "\(error)"
    }

    func has(_ name: String) -> Bool { value(name) != nil }

    func value(_ name: String) -> JSONValue? {
        guard let value = object[name], value != .null else { return nil }
        return value
    }

    func string(_ name: String) throws(APIError) -> String? {
        guard let value = value(name) else { return nil }
        guard case let .string(string) = value else { throw .badRequest("'\(prefix)\(name)' must be a string", param: prefix + name) }
        return string
    }

    func bool(_ name: String) throws(APIError) -> Bool? {
        guard let value = value(name) else { return nil }
        guard case let .bool(flag) = value else { throw .badRequest("'\(prefix)\(name)' must be true or false", param: prefix + name) }
        return flag
    }

    func number(_ name: String, in range: ClosedRange<Double>) throws(APIError) -> Double? {
        guard let value = value(name) else { return nil }
        guard case let .number(number) = value else { throw .badRequest("'\(prefix)\(name)' must be a number", param: prefix + name) }
        guard range.contains(number) else {
            throw .badRequest("'\(prefix)\(name)' is \(number), but must be between \(range.lowerBound) and \(range.upperBound)", param: prefix + name)
        }
        return number
    }

    func integer(_ name: String, in range: ClosedRange<Int>) throws(APIError) -> Int? {
        guard let number = try number(name, in: Double(range.lowerBound) ... Double(range.upperBound)) else { return nil }
        guard number == number.rounded() else { throw .badRequest("'\(prefix)\(name)' must be an integer", param: prefix + name) }
        return Int(number)
    }

    /// A string or an array of strings (`stop`, a completion's `prompt`).
    func strings(_ name: String) throws(APIError) -> [String]? {
        guard let value = value(name) else { return nil }
        switch value {
        case let .string(one): return [one]
        case let .array(many):
            return try many.map { (element: JSONValue) throws(APIError) -> String in
                guard case let .string(string) = element else { throw .badRequest("'\(prefix)\(name)' must be a string or an array of strings", param: prefix + name) }
                return string
            }
        default: throw .badRequest("'\(prefix)\(name)' must be a string or an array of strings", param: prefix + name)
        }
    }

    func objects(_ name: String) throws(APIError) -> [[String: JSONValue]]? {
        guard let value = value(name) else { return nil }
        guard case let .array(elements) = value else { throw .badRequest("'\(prefix)\(name)' must be an array of objects", param: prefix + name) }
        return try elements.map { (element: JSONValue) throws(APIError) -> [String: JSONValue] in
            guard case let .object(object) = element else { throw .badRequest("'\(prefix)\(name)' must be an array of objects", param: prefix + name) }
            return object
        }
    }

    func object(_ name: String) throws(APIError) -> [String: JSONValue]? {
        guard let value = value(name) else { return nil }
        guard case let .object(object) = value else { throw .badRequest("'\(prefix)\(name)' must be an object", param: prefix + name) }
        return object
    }
}
