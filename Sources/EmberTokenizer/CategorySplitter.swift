// The simple pre-tokenizer regexes llama.cpp runs through std::regex (on its "collapsed" one-byte-per-
// code-point text), written out as category scans. Like a regex iterator, each pass finds the leftmost
// match in a segment, emits the gap before it and the match as pieces, and goes on after the match.

enum CategorySplitter {
    /// `\p{N}`: every number code point on its own.
    case isolatedNumbers
    /// `\p{N}+`
    case numberRuns
    /// `[\p{P}\$\+<=>\^~\|]+`
    case punctuationRuns
    /// `[0-9][0-9][0-9]`
    case asciiDigitTriples

    func split(_ text: ScalarText, _ segments: [Int], into output: inout [Int]) {
        text.scalars.withUnsafeBufferPointer { scalars in
            text.flags.withUnsafeBufferPointer { flags in
                var begin = 0
                for length in segments {
                    let end = begin + length
                    var gapStart = begin
                    var pos = begin
                    while pos < end {
                        let match = matchLength(scalars, flags, pos, end)
                        if match == 0 {
                            pos += 1
                            continue
                        }
                        if pos > gapStart { output.append(pos - gapStart) }
                        output.append(match)
                        pos += match
                        gapStart = pos
                    }
                    if end > gapStart { output.append(end - gapStart) }
                    begin = end
                }
            }
        }
    }

    @inline(__always)
    private func matchLength(
        _ scalars: UnsafeBufferPointer<UInt32>, _ flags: UnsafeBufferPointer<UInt8>, _ pos: Int, _ end: Int
    ) -> Int {
        switch self {
        case .isolatedNumbers:
            return Self.isNumber(flags[pos]) ? 1 : 0
        case .numberRuns:
            var p = pos
            while p < end && Self.isNumber(flags[p]) { p += 1 }
            return p - pos
        case .punctuationRuns:
            var p = pos
            while p < end && Self.isPunctuationLike(scalars[p], flags[p]) { p += 1 }
            return p - pos
        case .asciiDigitTriples:
            guard pos + 2 < end else { return 0 }
            return Self.isASCIIDigit(scalars[pos]) && Self.isASCIIDigit(scalars[pos + 1])
                && Self.isASCIIDigit(scalars[pos + 2]) ? 3 : 0
        }
    }

    @inline(__always)
    private static func isNumber(_ flags: UInt8) -> Bool { CodepointFlags(rawValue: flags).contains(.number) }

    @inline(__always)
    private static func isASCIIDigit(_ scalar: UInt32) -> Bool { scalar >= 0x30 && scalar <= 0x39 }

    /// \p{P} or one of `$+<=>^~|` (ASCII symbols the regex lists by hand; the backtick is not among them).
    @inline(__always)
    private static func isPunctuationLike(_ scalar: UInt32, _ flags: UInt8) -> Bool {
        if CodepointFlags(rawValue: flags).contains(.punctuation) { return true }
        switch scalar {
        case 0x24, 0x2B, 0x3C, 0x3D, 0x3E, 0x5E, 0x7E, 0x7C: return true  // $ + < = > ^ ~ |
        default: return false
        }
    }
}
