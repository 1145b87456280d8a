// JSON as a schema needs it: objects keep their keys in the order written (a schema's properties are
// generated in that order), and numbers keep their text (an enum's values are written back as given).

public indirect enum SchemaJSON: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([SchemaJSON])
    case object([(key: String, value: SchemaJSON)])

    public static func == (a: SchemaJSON, b: SchemaJSON) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case let (.bool(x), .bool(y)): x == y
        case let (.number(x), .number(y)): x == y
        case let (.string(x), .string(y)): x == y
        case let (.array(x), .array(y)): x == y
        case let (.object(x), .object(y)): x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: false
        }
    }

    public subscript(key: String) -> SchemaJSON? {
        guard case let .object(members) = self else { return nil }
        return members.last { $0.key == key }?.value
    }

    /// The value written as compact JSON.
    public var text: String {
        switch self {
        case .null: "null"
        case let .bool(value): value ? "true" : "false"
        case let .number(text): text
        case let .string(value): Self.quoted(value)
        case let .array(items): "[" + items.map(\.text).joined(separator: ",") + "]"
        case let .object(members): "{" + members.map { Self.quoted($0.key) + ":" + $0.value.text }.joined(separator: ",") + "}"
        }
    }

    static func quoted(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Parses JSON text; `.invalidSchema` says where it is not JSON.
    public static func parse(_ text: String) throws(GrammarError) -> SchemaJSON {
        var parser = Parser(bytes: Array(text.utf8))
        let value = try parser.value()
        parser.skipSpace()
        guard parser.at == parser.bytes.count else { throw parser.error("text after the JSON value") }
        return value
    }

    struct Parser {
        let bytes: [UInt8]
        var at = 0

        func error(_ message: String) -> GrammarError { .invalidSchema("not valid JSON at byte \(at): \(message)") }

        mutating func skipSpace() {
            while at < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[at]) { at += 1 }
        }

        mutating func literal(_ word: String, _ value: SchemaJSON) throws(GrammarError) -> SchemaJSON {
            let expected = Array(word.utf8)
            guard at + expected.count <= bytes.count, Array(bytes[at ..< at + expected.count]) == expected else { throw error("expected \(word)") }
            at += expected.count
            return value
        }

        mutating func value() throws(GrammarError) -> SchemaJSON {
            skipSpace()
            guard at < bytes.count else { throw error("unexpected end") }
            switch bytes[at] {
            case UInt8(ascii: "{"):
                at += 1
                var members: [(key: String, value: SchemaJSON)] = []
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "}") { at += 1; return .object(members) }
                while true {
                    skipSpace()
                    guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw error("expected a key") }
                    let key = try string()
                    skipSpace()
                    guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { throw error("expected ':'") }
                    at += 1
                    members.append((key, try value()))
                    skipSpace()
                    guard at < bytes.count else { throw error("unterminated object") }
                    if bytes[at] == UInt8(ascii: "}") { at += 1; return .object(members) }
                    guard bytes[at] == UInt8(ascii: ",") else { throw error("expected ',' or '}'") }
                    at += 1
                }
            case UInt8(ascii: "["):
                at += 1
                var items: [SchemaJSON] = []
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "]") { at += 1; return .array(items) }
                while true {
                    items.append(try value())
                    skipSpace()
                    guard at < bytes.count else { throw error("unterminated array") }
                    if bytes[at] == UInt8(ascii: "]") { at += 1; return .array(items) }
                    guard bytes[at] == UInt8(ascii: ",") else { throw error("expected ',' or ']'") }
                    at += 1
                }
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "n"): return try literal("null", .null)
            default:
                let start = at
                while at < bytes.count, "+-0123456789.eE".utf8.contains(bytes[at]) { at += 1 }
                let text = String(decoding: bytes[start ..< at], as: UTF8.self)
                guard !text.isEmpty, Double(text) != nil else { throw error("expected a value") }
                return .number(text)
            }
        }

        mutating func string() throws(GrammarError) -> String {
            at += 1
            do { return try JSONStringLiteral.read(bytes, at: &at) } catch { throw self.error(error.description) }
        }
    }
}
