// The tests of `x is name` / `x is not name`: jinja2's built-in tests, answering as they do for
// Python values (a string is iterable and a sequence, a dict is a sequence too, Undefined is
// iterable and a sequence but not a string).

enum JinjaPredicates {
    static let names: Set<String> = [
        "defined", "undefined", "none", "boolean", "false", "true", "integer", "float", "number", "string",
        "mapping", "iterable", "sequence", "callable", "sameas", "equalto", "eq", "ne", "lt", "le", "gt", "ge",
        "greaterthan", "lessthan", "in", "odd", "even", "divisibleby", "lower", "upper", "escaped",
    ]

    static func test(_ name: String, _ value: JinjaValue, _ arguments: [JinjaValue], in interpreter: JinjaInterpreter,
                     at location: JinjaLocation) throws(JinjaError) -> Bool {
        func argument() throws(JinjaError) -> JinjaValue {
            guard let first = arguments.first else { throw .type("test '\(name)' needs an argument", location) }
            return first
        }
        switch name {
        case "defined": return !value.isUndefined
        case "undefined": return value.isUndefined
        case "none": return value == .none
        case "boolean": if case .bool = value { return true } else { return false }
        case "false": return value == .bool(false)
        case "true": return value == .bool(true)
        case "integer": if case .int = value { return true } else { return false }
        case "float": if case .double = value { return true } else { return false }
        case "number":
            switch value {
            case .int, .double, .bool: return true
            default: return false
            }
        case "string": if case .string = value { return true } else { return false }
        case "mapping": if case .object = value { return true } else { return false }
        case "iterable", "sequence":
            switch value {
            case .undefined, .string, .array, .object: return true
            default: return false
            }
        case "callable":
            switch value {
            case .macro, .function: return true
            default: return false
            }
        case "sameas":
            let other = try argument()
            switch (value, other) {
            case (.none, .none), (.undefined, .undefined): return true
            case let (.bool(a), .bool(b)): return a == b
            case let (.namespace(a), .namespace(b)): return a == b
            default: return false
            }
        case "equalto", "eq": return JinjaOperators.equals(value, try argument())
        case "ne": return !JinjaOperators.equals(value, try argument())
        case "lt", "lessthan": return try JinjaOperators.order(value, try argument(), .less, at: location) < 0
        case "le": return try JinjaOperators.order(value, try argument(), .lessOrEqual, at: location) <= 0
        case "gt", "greaterthan": return try JinjaOperators.order(value, try argument(), .greater, at: location) > 0
        case "ge": return try JinjaOperators.order(value, try argument(), .greaterOrEqual, at: location) >= 0
        case "in": return try JinjaOperators.contains(try argument(), value, at: location)
        case "odd", "even", "divisibleby":
            guard case let .int(number) = value else {
                if case let .undefined(reason) = value { throw .undefined(reason, location) }
                throw .type("test '\(name)' needs an integer, not \(value.typeName)", location)
            }
            if name == "odd" { return number & 1 == 1 }
            if name == "even" { return number & 1 == 0 }
            guard case let .int(divisor) = try argument(), divisor != 0 else {
                throw .arithmetic("divisibleby needs a non-zero integer", location)
            }
            return number % divisor == 0
        case "lower", "upper":
            guard case let .string(text) = value else { return false }
            return name == "lower" ? text == text.lowercased() : text == text.uppercased()
        case "escaped": return false
        default: throw .syntax("no test named '\(name)'", location)
        }
    }
}
