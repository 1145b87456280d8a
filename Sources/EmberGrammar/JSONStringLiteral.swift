// The body of a JSON string literal read from bytes: escapes of every kind, \u surrogate pairs
// joined into one character, and the common case (no escape) decoded as one slice. The one reader
// of JSON strings for the schema parser here and for tokenizer.json's scanner (EmberCheckpoint).

public enum JSONStringLiteral {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case unterminated
        case badEscape

        public var description: String {
            switch self {
            case .unterminated: "unterminated string"
            case .badEscape: "bad \\u escape"
            }
        }
    }

    /// The string whose body starts at `index` (just after the opening quote); `index` ends just after
    /// the closing quote.
    public static func read(_ bytes: [UInt8], at index: inout Int) throws(Failure) -> String {
        let start = index
        while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\") { index += 1 }
        guard index < bytes.count else { throw .unterminated }
        if bytes[index] == UInt8(ascii: "\"") {
            index += 1
            return String(decoding: bytes[start ..< index - 1], as: UTF8.self)
        }
        var utf8 = Array(bytes[start ..< index])
        while true {
            guard index < bytes.count else { throw .unterminated }
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "\"") { return String(decoding: utf8, as: UTF8.self) }
            guard byte == UInt8(ascii: "\\") else {
                utf8.append(byte)
                continue
            }
            guard index < bytes.count else { throw .unterminated }
            let escaped = bytes[index]
            index += 1
            switch escaped {
            case UInt8(ascii: "n"): utf8.append(0x0A)
            case UInt8(ascii: "t"): utf8.append(0x09)
            case UInt8(ascii: "r"): utf8.append(0x0D)
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "u"):
                var scalar = try hex4(bytes, at: &index)
                if (0xD800 ..< 0xDC00).contains(scalar), index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                   bytes[index + 1] == UInt8(ascii: "u") {
                    index += 2
                    let low = try hex4(bytes, at: &index)
                    scalar = (0xDC00 ..< 0xE000).contains(low) ? 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00) : 0xFFFD
                }
                utf8 += Array(String(Character(Unicode.Scalar(scalar) ?? "\u{FFFD}")).utf8)
            default: utf8.append(escaped)  // \" \\ \/
            }
        }
    }

    private static func hex4(_ bytes: [UInt8], at index: inout Int) throws(Failure) -> UInt32 {
        guard index + 4 <= bytes.count, let value = UInt32(String(decoding: bytes[index ..< index + 4], as: UTF8.self), radix: 16) else {
            throw .badEscape
        }
        index += 4
        return value
    }
}
