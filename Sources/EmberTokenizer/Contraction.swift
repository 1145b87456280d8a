// The English contraction alternatives that open the GPT-2 family of regexes: 's 't 're 've 'm 'll 'd,
// case-sensitive for GPT-2 and case-insensitive (`(?i:...)`, ASCII only in effect) for llama3 and qwen2.

enum Contraction {
    /// The length in code points of the contraction starting at `pos`, or 0 if there is none.
    /// Like llama.cpp, a 2-letter match needs `pos + 1 < end` and a 3-letter one `pos + 2 < end`.
    @inline(__always)
    static func length(
        _ scalars: UnsafeBufferPointer<UInt32>, at pos: Int, end: Int, caseInsensitive: Bool
    ) -> Int {
        guard scalars[pos] == apostrophe, pos + 1 < end else { return 0 }
        let next = letter(scalars[pos + 1], caseInsensitive)
        switch next {
        case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"):
            return 2
        case UInt8(ascii: "r"), UInt8(ascii: "v"), UInt8(ascii: "l"):
            guard pos + 2 < end else { return 0 }
            let expected = next == UInt8(ascii: "l") ? UInt8(ascii: "l") : UInt8(ascii: "e")
            return letter(scalars[pos + 2], caseInsensitive) == expected ? 3 : 0
        default:
            return 0
        }
    }

    private static let apostrophe = UInt32(UInt8(ascii: "'"))

    /// The scalar as an ASCII byte (lowercased when asked), or 0 for anything else.
    @inline(__always)
    private static func letter(_ scalar: UInt32, _ caseInsensitive: Bool) -> UInt8 {
        guard scalar < 0x80 else { return 0 }
        let byte = UInt8(scalar)
        return caseInsensitive && byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 0x20 : byte
    }
}
