// How values print: Python's `str()` for `{{ x }}`, `~` and the `string` filter, and `repr()` for the
// items of a printed list or dict, so `{{ [1, 'a'] }}` reads `[1, 'a']` exactly as jinja2 writes it.

extension JinjaValue {
    /// Python's `str(value)`; jinja2 prints Undefined as "".
    var pythonString: String {
        switch self {
        case .undefined: ""
        case let .string(value): value
        default: pythonRepr
        }
    }

    /// Python's `repr(value)`.
    var pythonRepr: String {
        switch self {
        case .undefined: ""
        case .none: "None"
        case let .bool(value): value ? "True" : "False"
        case let .int(value): String(value)
        case let .double(value): Self.pythonFloat(value)
        case let .string(value): Self.pythonStringRepr(value)
        case let .array(items): "[" + items.map(\.pythonRepr).joined(separator: ", ") + "]"
        case let .object(object):
            "{" + object.pairs.map { Self.pythonStringRepr($0.key) + ": " + $0.value.pythonRepr }
                .joined(separator: ", ") + "}"
        case .namespace: "<Namespace>"
        case .loop: "<LoopContext>"
        case let .macro(macro): "<Macro '\(macro.definition.name)'>"
        case let .function(function): "<function \(function.rawValue)>"
        }
    }

    static func pythonFloat(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        // Swift and Python both print the shortest round-tripping digits; Python switches to an exponent
        // from 1e16 up and below 1e-4, and always shows a fractional part otherwise.
        let magnitude = abs(value)
        if magnitude != 0, magnitude < 1e-4 || magnitude >= 1e16 {
            return exponentForm(value)
        }
        let text = value.description
        if text.contains("e") { return plainForm(value) }
        return text
    }

    /// `1e-05` / `1e+16`: Python's exponent form, from Swift's shortest digits.
    private static func exponentForm(_ value: Double) -> String {
        let (negative, digits, exponent) = decimalDigits(value)
        var mantissa = String(digits.first!)
        if digits.count > 1 { mantissa += "." + digits.dropFirst() }
        let sign = exponent < 0 ? "-" : "+"
        let power = abs(exponent)
        return (negative ? "-" : "") + mantissa + "e" + sign + (power < 10 ? "0" : "") + String(power)
    }

    /// `9500000000000000.0`: positional form for magnitudes where Swift already uses an exponent.
    private static func plainForm(_ value: Double) -> String {
        let (negative, digits, exponent) = decimalDigits(value)
        let sign = negative ? "-" : ""
        if exponent >= 0 {
            let whole = digits.count > exponent + 1
                ? String(digits.prefix(exponent + 1)) + "." + digits.dropFirst(exponent + 1)
                : digits + String(repeating: "0", count: exponent + 1 - digits.count) + ".0"
            return sign + whole
        }
        return sign + "0." + String(repeating: "0", count: -exponent - 1) + digits
    }

    /// The shortest digits of `value` and the decimal exponent of the first one.
    private static func decimalDigits(_ value: Double) -> (negative: Bool, digits: String, exponent: Int) {
        let text = abs(value).description
        let parts = text.split(separator: "e", maxSplits: 1)
        var exponent = parts.count > 1 ? Int(parts[1])! : 0
        let mantissa = parts[0]
        let pieces = mantissa.split(separator: ".", omittingEmptySubsequences: false)
        let whole = String(pieces[0])
        let fraction = pieces.count > 1 ? String(pieces[1]) : ""
        var digits = whole + fraction
        exponent += whole.count - 1
        while digits.hasPrefix("0"), digits.count > 1 {
            digits.removeFirst()
            exponent -= 1
        }
        while digits.hasSuffix("0"), digits.count > 1 { digits.removeLast() }
        return (value < 0, digits, exponent)
    }

    /// Python's `repr(str)`: single quotes unless the text holds a single quote and no double quote.
    static func pythonStringRepr(_ text: String) -> String {
        let quote: Character = text.contains("'") && !text.contains("\"") ? "\"" : "'"
        var result = String(quote)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if Character(scalar) == quote {
                    result += "\\" + String(quote)
                } else if scalar.value < 0x20 || (0x7F...0xA0).contains(scalar.value) {
                    result += "\\x" + hex(scalar.value, width: 2)
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        result.append(quote)
        return result
    }

    static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
