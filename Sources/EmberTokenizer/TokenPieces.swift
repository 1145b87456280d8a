// The bytes each token stands for, computed once per vocabulary as llama.cpp's `token_to_piece` would
// give them with special rendering on: byte-level characters mapped back to bytes (BPE), ▁ to a space
// (SentencePiece), `<0xXX>` to its byte, and control/user-defined texts as they are.

struct TokenPieces: Sendable {
    private let storage: [UInt8]
    private let starts: [Int]
    /// Control and unknown tokens, which render only when asked.
    private let special: [Bool]

    init(vocabulary: Vocabulary) {
        var storage: [UInt8] = []
        var starts = [0]
        storage.reserveCapacity(vocabulary.count * 8)
        starts.reserveCapacity(vocabulary.count + 1)
        for (text, attributes) in zip(vocabulary.tokens, vocabulary.attributes) {
            Self.appendPiece(text, attributes, model: vocabulary.model, to: &storage)
            starts.append(storage.count)
        }
        self.storage = storage
        self.starts = starts
        special = vocabulary.attributes.map { !$0.isDisjoint(with: .special) }
    }

    /// Appends the bytes of `token`; nothing for an id outside the vocabulary or an unrendered special token.
    @inline(__always)
    func append(_ token: Int32, renderSpecial: Bool, to output: inout [UInt8]) {
        let index = Int(token)
        guard index >= 0, index < special.count, renderSpecial || !special[index] else { return }
        output.append(contentsOf: storage[starts[index]..<starts[index + 1]])
    }

    private static func appendPiece(
        _ text: String, _ attributes: TokenAttributes, model: TokenizerModel, to output: inout [UInt8]
    ) {
        if !attributes.isDisjoint(with: [.control, .unknown, .userDefined]) {
            output.append(contentsOf: text.utf8)
        } else if attributes.contains(.normal) {
            switch model {
            case .sentencePiece:
                for scalar in text.unicodeScalars {
                    if scalar == "\u{2581}" {
                        output.append(UInt8(ascii: " "))
                    } else {
                        output.append(contentsOf: String(scalar).utf8)
                    }
                }
            case .bytePairEncoding:
                appendByteLevelDecoded(text, to: &output)
            }
        } else if attributes.contains(.byte) {
            output.append(byteTokenValue(text))
        }
    }

    /// Characters of the byte-level alphabet back to bytes; llama.cpp spells a character outside it as
    /// `[UNK_BYTE_0x<its utf-8 in hex><token text>]`, and so does Ember.
    private static func appendByteLevelDecoded(_ text: String, to output: inout [UInt8]) {
        for scalar in text.unicodeScalars {
            if let byte = ByteLevelAlphabet.byte(for: scalar.value) {
                output.append(byte)
            } else {
                let hex = String(scalar).utf8.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
                output.append(contentsOf: "[UNK_BYTE_0x\(hex)\(text)]".utf8)
            }
        }
    }

    /// The byte of a `<0xXX>` token (its two hex digits, read like llama.cpp's `strtol`).
    private static func byteTokenValue(_ text: String) -> UInt8 {
        let digits = Array(text.utf8.dropFirst(3).prefix(2))
        var value: UInt8 = 0
        for digit in digits {
            guard let nibble = UInt8(String(UnicodeScalar(digit)), radix: 16) else { break }
            value = value << 4 | nibble
        }
        return value
    }
}
