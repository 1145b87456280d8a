// Turns generated tokens into text one token at a time without ever splitting a UTF-8 character: bytes
// of a character that continues in a later token are held back until it completes. Bytes that can never
// form a character are emitted as U+FFFD, and an incomplete character left at `finish` becomes one too.

public struct StreamingDetokenizer: Sendable {
    private let tokenizer: Tokenizer
    private let renderSpecial: Bool
    private var stripsLeadingSpace: Bool
    private var pending: [UInt8] = []

    /// `stripsLeadingSpace` drops the space SentencePiece puts in front of a text from the first token (after
    /// an optional BOS), so that streaming a whole encoded text gives what `Tokenizer.decode` gives; leave it
    /// off for tokens that continue a prompt.
    public init(tokenizer: Tokenizer, renderSpecial: Bool = false, stripsLeadingSpace: Bool = false) {
        self.tokenizer = tokenizer
        self.renderSpecial = renderSpecial
        self.stripsLeadingSpace = stripsLeadingSpace && tokenizer.removesSpacePrefix
    }

    /// The text that `token` completes: possibly empty, never part of a character.
    public mutating func append(_ token: Int32) -> String {
        tokenizer.appendPiece(token, renderSpecial: renderSpecial, stripsLeadingSpace: &stripsLeadingSpace, to: &pending)
        let complete = Self.completeLength(pending)
        guard complete > 0 else { return "" }
        let text = String(decoding: pending[..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    /// The bytes still held back, with an unfinished character as U+FFFD.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// How many leading bytes can be decoded now: all of them, unless they end in the valid beginning of a
    /// multi-byte character, which is held back.
    static func completeLength(_ bytes: [UInt8]) -> Int {
        var lead = bytes.count - 1
        while lead >= 0 && bytes.count - lead < 4 && bytes[lead] & 0xC0 == 0x80 {
            lead -= 1
        }
        guard lead >= 0 else { return bytes.count }
        let expected: Int
        switch bytes[lead] {
        case 0xC2...0xDF: expected = 2
        case 0xE0...0xEF: expected = 3
        case 0xF0...0xF4: expected = 4
        default: return bytes.count
        }
        let have = bytes.count - lead
        guard have < expected else { return bytes.count }
        if have >= 2 {
            // The second byte of some leads has a narrower range (no overlongs, surrogates or > U+10FFFF).
            let second = bytes[lead + 1]
            let valid = switch bytes[lead] {
            case 0xE0: (0xA0...0xBF).contains(second)
            case 0xED: (0x80...0x9F).contains(second)
            case 0xF0: (0x90...0xBF).contains(second)
            case 0xF4: (0x80...0x8F).contains(second)
            default: true
            }
            guard valid else { return bytes.count }
        }
        return lead
    }
}
