// The token attributes llama.cpp derives from token types (and from token texts): what decides whether a
// token's text is matched in input and rendered in output.

/// llama.cpp's `llama_token_attr` bits that Ember acts on. A token may carry several, e.g. a normal token
/// whose text marks end of turn also becomes control.
public struct TokenAttributes: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let unknown = TokenAttributes(rawValue: 1 << 0)
    public static let unused = TokenAttributes(rawValue: 1 << 1)
    public static let normal = TokenAttributes(rawValue: 1 << 2)
    public static let control = TokenAttributes(rawValue: 1 << 3)
    public static let userDefined = TokenAttributes(rawValue: 1 << 4)
    public static let byte = TokenAttributes(rawValue: 1 << 5)

    /// Rendered only on request (`renderSpecial`) and parsed from text only with `parseSpecial`.
    public static let special: TokenAttributes = [.control, .unknown]

    init(_ type: TokenType) {
        switch type {
        case .normal: self = .normal
        case .unknown: self = .unknown
        case .control: self = .control
        case .userDefined: self = .userDefined
        case .unused: self = .unused
        case .byte: self = .byte
        case .undefined: self = []
        }
    }
}
