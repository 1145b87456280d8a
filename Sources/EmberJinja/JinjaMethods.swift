// Python methods templates call on values: `s.strip()`, `s.startswith(...)`, `s.split(...)`,
// `d.items()`, `d.get(...)`, `loop.cycle(...)`. Methods that would mutate a value are refused, as
// transformers' ImmutableSandboxedEnvironment refuses them.

enum JinjaMethods {
    /// The result of `base.name(arguments)`, or nil when `base` has no such method.
    static func call(_ name: String, on base: JinjaValue, _ positional: [JinjaValue], _ keywords: JinjaObject,
                     at location: JinjaLocation) throws(JinjaError) -> JinjaValue? {
        let arguments = JinjaCallArguments(function: name, positional: positional, keywords: keywords, location: location)
        switch base {
        case let .undefined(reason):
            throw .undefined(reason.isEmpty ? "method '\(name)' of an undefined value" : reason, location)
        case let .string(text):
            return try stringMethod(name, text, arguments)
        case let .object(object):
            return try dictMethod(name, object, arguments)
        case let .loop(loop):
            guard name == "cycle" else { return nil }
            guard !positional.isEmpty else { throw .type("no items for cycling given", location) }
            return positional[loop.index0 % positional.count]
        case .array:
            if ["append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse"].contains(name) {
                throw .type("list.\(name)() would modify the list, which chat templates may not do", location)
            }
            return nil
        default:
            return nil
        }
    }

    private static func stringMethod(_ name: String, _ text: String, _ arguments: JinjaCallArguments) throws(JinjaError) -> JinjaValue? {
        switch name {
        case "strip", "lstrip", "rstrip":
            let characters = try arguments.optionalString(0, "chars")
            return .string(JinjaText.strip(text, characters: characters, leading: name != "rstrip", trailing: name != "lstrip"))
        case "startswith", "endswith":
            let candidates: [String]
            switch try arguments.required(0, "prefix") {
            case let .string(prefix): candidates = [prefix]
            case let .array(items):
                candidates = items.compactMap { if case let .string(prefix) = $0 { prefix } else { nil } }
            case let other:
                throw .type("\(name) first arg must be str or a tuple of str, not \(other.typeName)", arguments.location)
            }
            let scalars = Array(text.unicodeScalars)
            return .bool(candidates.contains { candidate in
                let part = Array(candidate.unicodeScalars)
                return name == "startswith" ? scalars.starts(with: part) : scalars.reversed().starts(with: part.reversed())
            })
        case "split":
            let separator = try arguments.optionalString(0, "sep")
            if separator == "" { throw .type("empty separator", arguments.location) }
            let limit = try arguments.int(1, "maxsplit", default: -1)
            return .array(JinjaText.split(text, separator: separator, maxSplit: limit).map(JinjaValue.string))
        case "splitlines": return .array(JinjaText.splitLines(text).map(JinjaValue.string))
        case "upper": return .string(text.uppercased())
        case "lower": return .string(text.lowercased())
        case "title": return .string(JinjaText.pythonTitle(text))
        case "capitalize": return .string(JinjaText.capitalize(text))
        case "replace":
            let old = try arguments.string(0, "old")
            let new = try arguments.string(1, "new")
            return .string(JinjaText.replace(text, old, new, count: try arguments.int(2, "count", default: -1)))
        case "join":
            let items = try arguments.required(0, "iterable")
            guard case let .array(values) = items else {
                throw .type("join() takes a list, not \(items.typeName)", arguments.location)
            }
            var parts: [String] = []
            for value in values {
                guard case let .string(part) = value else {
                    throw .type("sequence item: expected str instance, \(value.typeName) found", arguments.location)
                }
                parts.append(part)
            }
            return .string(parts.joined(separator: text))
        case "find":
            let part = Array(try arguments.string(0, "sub").unicodeScalars)
            return .int(Array(text.unicodeScalars).firstIndex(ofSubsequence: part) ?? -1)
        case "count":
            let part = try arguments.string(0, "sub")
            if part.isEmpty { return .int(text.unicodeScalars.count + 1) }
            return .int(JinjaText.split(text, separator: part).count - 1)
        case "isdigit", "isalpha", "isspace", "isalnum":
            let scalars = Array(text.unicodeScalars)
            guard !scalars.isEmpty else { return .bool(false) }
            return .bool(scalars.allSatisfy { scalar in
                switch name {
                case "isdigit": scalar.properties.numericType == .decimal || scalar.properties.numericType == .digit
                case "isalpha": scalar.properties.isAlphabetic
                case "isspace": scalar.isPythonWhitespace
                default: scalar.properties.isAlphabetic || scalar.properties.numericType != nil
                }
            })
        case "islower": return .bool(text.contains { $0.isCased } && text == text.lowercased())
        case "isupper": return .bool(text.contains { $0.isCased } && text == text.uppercased())
        default: return nil
        }
    }

    private static func dictMethod(_ name: String, _ object: JinjaObject, _ arguments: JinjaCallArguments) throws(JinjaError) -> JinjaValue? {
        switch name {
        case "items": return .array(object.pairs.map { .array([.string($0.key), $0.value]) })
        case "keys": return .array(object.keys.map(JinjaValue.string))
        case "values": return .array(object.values)
        case "get":
            let key = try arguments.required(0, "key")
            let fallback = arguments.optional(1, "default") ?? .none
            guard case let .string(name) = key else { return fallback }
            return object[name] ?? fallback
        case "update", "pop", "popitem", "setdefault", "clear":
            throw .type("dict.\(name)() would modify the dict, which chat templates may not do", arguments.location)
        default:
            return nil
        }
    }
}

private extension Character {
    var isCased: Bool { unicodeScalars.contains { $0.properties.isCased } }
}

/// The arguments of one call to a method, filter or global, read by position or by keyword.
struct JinjaCallArguments {
    let function: String
    let positional: [JinjaValue]
    let keywords: JinjaObject
    let location: JinjaLocation

    func optional(_ index: Int, _ name: String) -> JinjaValue? {
        index < positional.count ? positional[index] : keywords[name]
    }

    func required(_ index: Int, _ name: String) throws(JinjaError) -> JinjaValue {
        guard let value = optional(index, name) else {
            throw .type("\(function)() missing required argument '\(name)'", location)
        }
        return value
    }

    func string(_ index: Int, _ name: String) throws(JinjaError) -> String {
        let value = try required(index, name)
        guard case let .string(text) = value else {
            throw .type("\(function)() argument '\(name)' must be str, not \(value.typeName)", location)
        }
        return text
    }

    /// A string argument that may be absent or None.
    func optionalString(_ index: Int, _ name: String) throws(JinjaError) -> String? {
        switch optional(index, name) {
        case nil, .none?, .undefined?: return nil
        case let .string(text)?: return text
        case let other?: throw .type("\(function)() argument '\(name)' must be str or None, not \(other.typeName)", location)
        }
    }

    func int(_ index: Int, _ name: String, default fallback: Int) throws(JinjaError) -> Int {
        switch optional(index, name) {
        case nil, .none?: return fallback
        case let .int(value)?: return value
        case let .bool(value)?: return value ? 1 : 0
        case let other?: throw .type("\(function)() argument '\(name)' must be int, not \(other.typeName)", location)
        }
    }

    func bool(_ index: Int, _ name: String, default fallback: Bool) -> Bool {
        optional(index, name)?.isTruthy ?? fallback
    }
}
