// tokenizer.json's two large fields, the vocabulary and the merges (hundreds of thousands of entries
// in 2 to 10 MB), read by a scanner made for their shapes: a generic JSON decoder spends most of a
// checkpoint's load on them. The rest of the document, small, goes to JSONDecoder with the two
// fields' values replaced by empty ones.

import EmberGrammar

struct TokenizerJSONScanner {
    /// `model.vocab`, in file order: every entry, even two whose texts Swift's String would call equal
    /// (canonically equivalent, as a precomposed "é" and "e" with a combining accent: distinct tokens).
    private(set) var vocab: [(text: String, id: Int)]?
    /// `model.merges`, as "left right" strings (either form of the file).
    private(set) var merges: [String]?
    /// The document with those two values emptied.
    private(set) var rest: [UInt8]

    private let bytes: [UInt8]
    private var index = 0

    struct Failure: Error, CustomStringConvertible {
        let offset: Int
        let reason: String
        var description: String { "at byte \(offset): \(reason)" }
    }

    init(_ bytes: [UInt8]) throws(Failure) {
        self.bytes = bytes
        rest = []
        var emptied: [(range: Range<Int>, replacement: [UInt8])] = []
        try object { (scanner, key) throws(Failure) in
            guard key == "model" else { return try scanner.skipValue() }
            try scanner.object { (scanner, key) throws(Failure) in
                let start = scanner.index
                switch key {
                case "vocab":
                    scanner.vocab = try scanner.vocabulary()
                    emptied.append((start ..< scanner.index, Array("{}".utf8)))
                case "merges":
                    scanner.merges = try scanner.mergeList()
                    emptied.append((start ..< scanner.index, Array("[]".utf8)))
                default:
                    try scanner.skipValue()
                }
            }
        }
        var rest: [UInt8] = [], position = 0
        rest.reserveCapacity(bytes.count - emptied.reduce(0) { $0 + $1.range.count })
        for (range, replacement) in emptied {
            rest += bytes[position ..< range.lowerBound]
            rest += replacement
            position = range.upperBound
        }
        rest += bytes[position...]
        self.rest = rest
    }

    // MARK: - Structure

    private mutating func skipWhitespace() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 { index += 1 }
    }

    private mutating func expect(_ byte: UInt8) throws(Failure) {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else { throw fail("expected \"\(Character(UnicodeScalar(byte)))\"") }
        index += 1
    }

    /// Whether the next byte (after whitespace) is `byte`; consumes it if so.
    private mutating func next(is byte: UInt8) -> Bool {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    private func fail(_ reason: String) -> Failure { Failure(offset: index, reason: reason) }

    /// An object, each member's value read by `member` (which must consume it).
    private mutating func object(_ member: (inout TokenizerJSONScanner, String) throws(Failure) -> Void) throws(Failure) {
        try expect(UInt8(ascii: "{"))
        if next(is: UInt8(ascii: "}")) { return }
        repeat {
            skipWhitespace()
            let key = try string()
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            try member(&self, key)
        } while next(is: UInt8(ascii: ","))
        try expect(UInt8(ascii: "}"))
    }

    /// An array, each element read by `element`.
    private mutating func array(_ element: (inout TokenizerJSONScanner) throws(Failure) -> Void) throws(Failure) {
        try expect(UInt8(ascii: "["))
        if next(is: UInt8(ascii: "]")) { return }
        repeat {
            skipWhitespace()
            try element(&self)
        } while next(is: UInt8(ascii: ","))
        try expect(UInt8(ascii: "]"))
    }

    private mutating func skipValue() throws(Failure) {
        skipWhitespace()
        guard index < bytes.count else { throw fail("expected a value") }
        switch bytes[index] {
        case UInt8(ascii: "{"): try object { (scanner, _) throws(Failure) in try scanner.skipValue() }
        case UInt8(ascii: "["): try array { (scanner) throws(Failure) in try scanner.skipValue() }
        case UInt8(ascii: "\""): _ = try string()
        default:  // a number, true, false or null
            let start = index
            while index < bytes.count, !",}] \n\r\t".utf8.contains(bytes[index]) { index += 1 }
            guard index > start else { throw fail("expected a value") }
        }
    }

    // MARK: - The two fields

    private mutating func vocabulary() throws(Failure) -> [(text: String, id: Int)] {
        var vocab: [(text: String, id: Int)] = []
        try object { (scanner, text) throws(Failure) in
            guard let id = try scanner.integer() else { throw scanner.fail("a vocabulary id is not an integer") }
            vocab.append((text, id))
        }
        return vocab
    }

    private mutating func mergeList() throws(Failure) -> [String] {
        var merges: [String] = []
        try array { (scanner) throws(Failure) in
            if scanner.index < scanner.bytes.count, scanner.bytes[scanner.index] == UInt8(ascii: "[") {
                var pair: [String] = []
                try scanner.array { (scanner) throws(Failure) in pair.append(try scanner.string()) }
                guard pair.count == 2 else { throw scanner.fail("a merge is not a pair") }
                merges.append(pair[0] + " " + pair[1])
            } else {
                merges.append(try scanner.string())
            }
        }
        return merges
    }

    private mutating func integer() throws(Failure) -> Int? {
        skipWhitespace()
        var value = 0, digits = 0
        while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39, digits < 18 {
            value = value * 10 + Int(bytes[index] - 0x30)
            index += 1
            digits += 1
        }
        return digits > 0 ? value : nil
    }

    private mutating func string() throws(Failure) -> String {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a string") }
        index += 1
        do { return try JSONStringLiteral.read(bytes, at: &index) } catch { throw fail(error.description) }
    }
}
