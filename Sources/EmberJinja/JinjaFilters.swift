// The filters of `value | name(arguments)`: jinja2's built-ins that chat templates use, with
// transformers' `tojson`. Unknown names are rejected when the template is parsed.

enum JinjaFilters {
    static let names: Set<String> = [
        "abs", "attr", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first", "float", "indent",
        "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min", "reject", "rejectattr",
        "replace", "reverse", "round", "safe", "select", "selectattr", "sort", "string", "sum", "title", "tojson",
        "trim", "unique", "upper", "wordcount",
    ]

    static func apply(_ name: String, to value: JinjaValue, _ positional: [JinjaValue], _ keywords: JinjaObject,
                      in interpreter: inout JinjaInterpreter, at location: JinjaLocation) throws(JinjaError) -> JinjaValue {
        let arguments = JinjaCallArguments(function: name, positional: positional, keywords: keywords, location: location)
        switch name {
        case "default", "d":
            let fallback = arguments.optional(0, "default_value") ?? .string("")
            let useFalsy = arguments.bool(1, "boolean", default: false)
            return value.isUndefined || (useFalsy && !value.isTruthy) ? fallback : value
        case "safe":
            return value
        case "string":
            return .string(value.pythonString)
        case "tojson":
            return .string(try toJSON(value, arguments))
        case "length", "count":
            switch value {
            case .undefined: return .int(0)
            case let .string(text): return .int(text.unicodeScalars.count)
            case let .array(items): return .int(items.count)
            case let .object(object): return .int(object.count)
            default: throw .type("object of type '\(value.typeName)' has no len()", location)
            }
        case "wordcount":
            return .int(JinjaText.split(value.pythonString, separator: nil).count)
        default:
            break
        }
        if case let .undefined(reason) = value, !["trim", "upper", "lower", "capitalize", "title", "list", "items",
                                                  "join", "first", "last", "reverse", "escape", "e"].contains(name) {
            throw .undefined(reason, location)
        }
        switch name {
        case "trim":
            return .string(JinjaText.strip(value.pythonString, characters: try arguments.optionalString(0, "chars")))
        case "upper": return .string(value.pythonString.uppercased())
        case "lower": return .string(value.pythonString.lowercased())
        case "capitalize": return .string(JinjaText.capitalize(value.pythonString))
        case "title": return .string(JinjaText.jinjaTitle(value.pythonString))
        case "escape", "e": return .string(escapeHTML(value.pythonString))
        case "replace":
            let count = try arguments.int(2, "count", default: -1)
            return .string(JinjaText.replace(value.pythonString, try arguments.string(0, "old"),
                                             try arguments.string(1, "new"), count: count))
        case "indent":
            return .string(try indent(value.pythonString, arguments))
        case "list":
            return .array(try interpreter.iterate(value, at: location))
        case "items":
            guard case let .object(object) = value else {
                if value.isUndefined { return .array([]) }
                throw .type("items filter needs a mapping, not \(value.typeName)", location)
            }
            return .array(object.pairs.map { .array([.string($0.key), $0.value]) })
        case "dictsort":
            guard case let .object(object) = value else { throw .type("dictsort needs a mapping", location) }
            let caseSensitive = arguments.bool(0, "case_sensitive", default: false)
            let pairs = object.pairs.sorted { a, b in
                let (x, y) = caseSensitive ? (a.key, b.key) : (a.key.lowercased(), b.key.lowercased())
                return x.unicodeScalars.lexicographicallyPrecedes(y.unicodeScalars) { $0.value < $1.value }
            }
            return .array(pairs.map { .array([.string($0.key), $0.value]) })
        case "join":
            let separator = try arguments.optionalString(0, "d") ?? ""
            var items = try interpreter.iterate(value, at: location)
            if let attribute = arguments.optional(1, "attribute") {
                items = try items.map { item throws(JinjaError) in try lookup(attribute, in: item, interpreter, location) }
            }
            return .string(items.map(\.pythonString).joined(separator: separator))
        case "first", "last":
            let items = try interpreter.iterate(value, at: location)
            return (name == "first" ? items.first : items.last) ?? .undefined("\(name) of an empty sequence")
        case "reverse":
            if case let .string(text) = value { return .string(JinjaText.string(text.unicodeScalars.reversed())) }
            return .array(try interpreter.iterate(value, at: location).reversed())
        case "unique":
            var seen: [JinjaValue] = []
            for item in try interpreter.iterate(value, at: location) where !seen.contains(where: { JinjaOperators.equals($0, item) }) {
                seen.append(item)
            }
            return .array(seen)
        case "int":
            return try toInt(value, arguments)
        case "float":
            return try toFloat(value, arguments)
        case "abs":
            switch value {
            case let .int(int) where int != .min: return .int(abs(int))
            case let .double(double): return .double(abs(double))
            case let .bool(bool): return .int(bool ? 1 : 0)
            default: throw .type("bad operand type for abs(): '\(value.typeName)'", location)
            }
        case "round":
            return try round(value, arguments)
        case "attr":
            return try interpreter.attribute(try arguments.string(0, "name"), of: value, at: location)
        case "map":
            return .array(try map(try interpreter.iterate(value, at: location), arguments, &interpreter))
        case "select", "reject", "selectattr", "rejectattr":
            return .array(try select(name, try interpreter.iterate(value, at: location), arguments, interpreter))
        case "sort", "max", "min":
            return try sort(name, try interpreter.iterate(value, at: location), arguments, interpreter)
        case "sum":
            var total = arguments.optional(1, "start") ?? .int(0)
            for item in try interpreter.iterate(value, at: location) {
                let term = try arguments.optional(0, "attribute").map { a throws(JinjaError) in
                    try lookup(a, in: item, interpreter, location)
                } ?? item
                total = try JinjaOperators.apply(.add, total, term, at: location)
            }
            return total
        default:
            throw .syntax("no filter named '\(name)'", location)
        }
    }

    // MARK: Conversions

    /// transformers' signature: `tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)`.
    private static func toJSON(_ value: JinjaValue, _ arguments: JinjaCallArguments) throws(JinjaError) -> String {
        var indent: String?
        switch arguments.optional(1, "indent") {
        case nil, .none?: indent = nil
        case let .int(width)?: indent = String(repeating: " ", count: max(0, width))
        case let .string(text)?: indent = text
        case let other?: throw .type("tojson indent must be an int or a string, not \(other.typeName)", arguments.location)
        }
        var separators: (String, String)?
        if case let .array(pair)? = arguments.optional(2, "separators"), pair.count == 2,
           case let .string(item) = pair[0], case let .string(key) = pair[1] {
            separators = (item, key)
        }
        let encoder = JinjaJSON(indent: indent, separators: separators,
                                sortKeys: arguments.bool(3, "sort_keys", default: false),
                                ensureASCII: arguments.bool(0, "ensure_ascii", default: false),
                                location: arguments.location)
        return try encoder.encode(value)
    }

    private static func toInt(_ value: JinjaValue, _ arguments: JinjaCallArguments) throws(JinjaError) -> JinjaValue {
        let fallback = arguments.optional(0, "default") ?? .int(0)
        switch value {
        case let .int(int): return .int(int)
        case let .bool(bool): return .int(bool ? 1 : 0)
        case let .double(double):
            guard double.isFinite, abs(double) < 9.2e18 else { return fallback }
            return .int(Int(double))
        case let .string(text):
            let trimmed = JinjaText.strip(text, characters: nil).replacingUnderscores()
            let base = try arguments.int(1, "base", default: 10)
            if let int = Int(trimmed, radix: base) { return .int(int) }
            if let double = Double(trimmed), double.isFinite, abs(double) < 9.2e18 { return .int(Int(double)) }
            return fallback
        default: return fallback
        }
    }

    private static func toFloat(_ value: JinjaValue, _ arguments: JinjaCallArguments) throws(JinjaError) -> JinjaValue {
        let fallback = arguments.optional(0, "default") ?? .double(0)
        switch value {
        case let .int(int): return .double(Double(int))
        case let .bool(bool): return .double(bool ? 1 : 0)
        case let .double(double): return .double(double)
        case let .string(text): return Double(JinjaText.strip(text, characters: nil)).map(JinjaValue.double) ?? fallback
        default: return fallback
        }
    }

    private static func round(_ value: JinjaValue, _ arguments: JinjaCallArguments) throws(JinjaError) -> JinjaValue {
        let number: Double
        switch value {
        case let .int(int): number = Double(int)
        case let .double(double): number = double
        case let .bool(bool): number = bool ? 1 : 0
        default: throw .type("round needs a number, not \(value.typeName)", arguments.location)
        }
        let precision = try arguments.int(0, "precision", default: 0)
        let method = try arguments.optionalString(1, "method") ?? "common"
        var scale = 1.0
        for _ in 0..<min(abs(precision), 300) { scale *= 10 }
        if precision < 0 { scale = 1 / scale }
        let rule: FloatingPointRoundingRule = switch method {
        case "ceil": .up
        case "floor": .down
        default: .toNearestOrEven
        }
        return .double((number * scale).rounded(rule) / scale)
    }

    private static func escapeHTML(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&#34;"
            case "'": result += "&#39;"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// jinja2's `indent(width=4, first=False, blank=False)`: every line after the first (and the
    /// first too with `first`) gains the indentation; blank lines only with `blank`.
    private static func indent(_ text: String, _ arguments: JinjaCallArguments) throws(JinjaError) -> String {
        let indentation: String = switch arguments.optional(0, "width") {
        case let .string(text)?: text
        case let .int(width)?: String(repeating: " ", count: max(0, width))
        default: "    "
        }
        let first = arguments.bool(1, "first", default: false)
        let blank = arguments.bool(2, "blank", default: false)
        var lines = JinjaText.splitLines(text + "\n")
        var result: String
        if blank {
            result = lines.joined(separator: "\n" + indentation)
        } else {
            result = lines.isEmpty ? "" : lines.removeFirst()
            if !lines.isEmpty {
                result += "\n" + lines.map { $0.isEmpty ? $0 : indentation + $0 }.joined(separator: "\n")
            }
        }
        return first ? indentation + result : result
    }

    // MARK: Sequences

    /// `attribute` as jinja2's filters read it: a name, dotted names, or an integer index.
    private static func lookup(_ attribute: JinjaValue, in item: JinjaValue, _ interpreter: JinjaInterpreter,
                               _ location: JinjaLocation) throws(JinjaError) -> JinjaValue {
        switch attribute {
        case let .string(path):
            var current = item
            for part in path.split(separator: ".", omittingEmptySubsequences: false) {
                if let index = Int(part) {
                    current = try interpreter.item(.int(index), of: current, at: location)
                } else {
                    current = try interpreter.item(.string(String(part)), of: current, at: location)
                }
            }
            return current
        case .int:
            return try interpreter.item(attribute, of: item, at: location)
        default:
            throw .type("attribute must be a string or an integer, not \(attribute.typeName)", location)
        }
    }

    private static func map(_ items: [JinjaValue], _ arguments: JinjaCallArguments,
                            _ interpreter: inout JinjaInterpreter) throws(JinjaError) -> [JinjaValue] {
        if let attribute = arguments.keywords["attribute"] {
            let fallback = arguments.keywords["default"]
            var result: [JinjaValue] = []
            for item in items {
                let value = try lookup(attribute, in: item, interpreter, arguments.location)
                result.append(value.isUndefined ? fallback ?? value : value)
            }
            return result
        }
        guard case let .string(filter)? = arguments.positional.first else {
            throw .type("map needs a filter name or attribute=", arguments.location)
        }
        guard names.contains(filter) else { throw .type("no filter named '\(filter)'", arguments.location) }
        let rest = Array(arguments.positional.dropFirst())
        var result: [JinjaValue] = []
        for item in items {
            result.append(try apply(filter, to: item, rest, arguments.keywords, in: &interpreter, at: arguments.location))
        }
        return result
    }

    private static func select(_ name: String, _ items: [JinjaValue], _ arguments: JinjaCallArguments,
                               _ interpreter: JinjaInterpreter) throws(JinjaError) -> [JinjaValue] {
        let byAttribute = name.hasSuffix("attr")
        let keep = name.hasPrefix("select")
        var positional = arguments.positional
        var attribute: JinjaValue?
        if byAttribute {
            guard !positional.isEmpty else { throw .type("\(name) needs an attribute name", arguments.location) }
            attribute = positional.removeFirst()
        }
        var test: String?
        if !positional.isEmpty {
            guard case let .string(testName) = positional.removeFirst(), JinjaPredicates.names.contains(testName) else {
                throw .type("\(name) needs the name of a test", arguments.location)
            }
            test = testName
        }
        var result: [JinjaValue] = []
        for item in items {
            let subject = try attribute.map { a throws(JinjaError) in try lookup(a, in: item, interpreter, arguments.location) } ?? item
            let passed = try test.map { t throws(JinjaError) in
                try JinjaPredicates.test(t, subject, positional, in: interpreter, at: arguments.location)
            } ?? subject.isTruthy
            if passed == keep { result.append(item) }
        }
        return result
    }

    private static func sort(_ name: String, _ items: [JinjaValue], _ arguments: JinjaCallArguments,
                             _ interpreter: JinjaInterpreter) throws(JinjaError) -> JinjaValue {
        let isSort = name == "sort"
        let reverse = isSort && arguments.bool(0, "reverse", default: false)
        let caseSensitive = arguments.bool(isSort ? 1 : 0, "case_sensitive", default: false)
        let attribute = arguments.optional(isSort ? 2 : 1, "attribute")
        var keyed: [(key: JinjaValue, item: JinjaValue)] = []
        for item in items {
            var key = try attribute.map { a throws(JinjaError) in try lookup(a, in: item, interpreter, arguments.location) } ?? item
            if !caseSensitive, case let .string(text) = key { key = .string(text.lowercased()) }
            keyed.append((key, item))
        }
        // A stable insertion sort keeps Python's sort stability and lets a type error surface.
        var sorted: [(key: JinjaValue, item: JinjaValue)] = []
        for entry in keyed {
            var position = sorted.count
            while position > 0 {
                let order = try JinjaOperators.order(sorted[position - 1].key, entry.key, .less, at: arguments.location)
                if reverse ? order >= 0 : order <= 0 { break }
                position -= 1
            }
            sorted.insert(entry, at: position)
        }
        switch name {
        case "max": return sorted.last?.item ?? .undefined("max of an empty sequence")
        case "min": return sorted.first?.item ?? .undefined("min of an empty sequence")
        default: return .array(sorted.map(\.item))
        }
    }
}

private extension String {
    func replacingUnderscores() -> String { JinjaText.replace(self, "_", "") }
}
