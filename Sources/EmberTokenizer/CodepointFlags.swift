// Unicode classes of a code point as llama.cpp's pre-tokenizers see them (letter, number, whitespace, ...).
// General categories come from `Unicode.Scalar.Properties`; llama.cpp's tables stop at Unicode 15.1, so a
// scalar assigned later counts as unassigned here too, or the two would split new characters differently.

struct CodepointFlags: OptionSet, Sendable {
    let rawValue: UInt8

    static let letter = CodepointFlags(rawValue: 1 << 0)       // \p{L}
    static let number = CodepointFlags(rawValue: 1 << 1)       // \p{N}
    static let whitespace = CodepointFlags(rawValue: 1 << 2)   // \s (the White_Space property)
    static let punctuation = CodepointFlags(rawValue: 1 << 3)  // \p{P}
    /// Set for every code point inside the text; the splitters read "no flags" as past the end.
    static let present = CodepointFlags(rawValue: 1 << 7)

    /// The flags of one code point (a table lookup below U+10000).
    @inline(__always)
    static func of(_ scalar: UInt32) -> CodepointFlags {
        scalar < 0x10000 ? CodepointFlags(rawValue: basicPlane[Int(scalar)]) : compute(scalar)
    }

    private static let basicPlane: [UInt8] = (0..<0x10000).map { compute(UInt32($0)).rawValue }

    private static func compute(_ value: UInt32) -> CodepointFlags {
        guard let scalar = Unicode.Scalar(value) else { return .present }  // surrogates: category Cs
        let properties = scalar.properties
        var flags: CodepointFlags = properties.isWhitespace ? [.present, .whitespace] : .present
        guard let age = properties.age, age.major < 15 || (age.major == 15 && age.minor <= 1) else { return flags }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            flags.insert(.letter)
        case .decimalNumber, .letterNumber, .otherNumber:
            flags.insert(.number)
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            flags.insert(.punctuation)
        default:
            break
        }
        return flags
    }
}
