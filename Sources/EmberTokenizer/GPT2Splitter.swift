// The GPT-2 pre-tokenizer regex, hand-written as llama.cpp's `unicode_regex_split_custom_gpt2` does it:
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// Segments are code-point lengths; each input segment is split on its own, its end acting as end of text.

enum GPT2Splitter {
    static func split(_ text: ScalarText, _ segments: [Int], into output: inout [Int]) {
        text.scalars.withUnsafeBufferPointer { scalars in
            text.flags.withUnsafeBufferPointer { flags in
                var start = 0
                for length in segments {
                    splitSegment(scalars, flags, start, start + length, &output)
                    start += length
                }
            }
        }
    }

    private static func splitSegment(
        _ scalars: UnsafeBufferPointer<UInt32>, _ flags: UnsafeBufferPointer<UInt8>,
        _ begin: Int, _ end: Int, _ output: inout [Int]
    ) {
        @inline(__always) func scalar(_ p: Int) -> UInt32 { p < end ? scalars[p] : ScalarText.outOfRange }
        @inline(__always) func flag(_ p: Int) -> CodepointFlags { CodepointFlags(rawValue: p < end ? flags[p] : 0) }
        let wordClasses: CodepointFlags = [.whitespace, .letter, .number]

        var previousEnd = begin
        @inline(__always) func emit(_ wordEnd: Int) {
            if wordEnd > previousEnd { output.append(wordEnd - previousEnd) }
            previousEnd = wordEnd
        }

        var pos = begin
        while pos < end {
            let cpt = scalars[pos]

            // 's|'t|'re|'ve|'m|'ll|'d
            let contraction = Contraction.length(scalars, at: pos, end: end, caseInsensitive: false)
            if contraction > 0 {
                pos += contraction
                emit(pos)
                continue
            }

            let isSpace = cpt == ScalarText.space
            var flags2 = flag(isSpace ? pos + 1 : pos)
            // <space>?\p{L}+
            if flags2.contains(.letter) {
                if isSpace { pos += 1 }
                while flags2.contains(.letter) {
                    pos += 1
                    flags2 = flag(pos)
                }
                emit(pos)
                continue
            }
            // <space>?\p{N}+
            if flags2.contains(.number) {
                if isSpace { pos += 1 }
                while flags2.contains(.number) {
                    pos += 1
                    flags2 = flag(pos)
                }
                emit(pos)
                continue
            }
            // <space>?[^\s\p{L}\p{N}]+
            if flags2.isDisjoint(with: wordClasses) && !flags2.isEmpty {
                if isSpace { pos += 1 }
                while flags2.isDisjoint(with: wordClasses) && !flags2.isEmpty {
                    pos += 1
                    flags2 = flag(pos)
                }
                emit(pos)
                continue
            }

            var whitespaceCount = 0
            while flag(pos + whitespaceCount).contains(.whitespace) {
                whitespaceCount += 1
            }
            // \s+(?!\S)
            if whitespaceCount > 1 && scalar(pos + whitespaceCount) != ScalarText.outOfRange {
                pos += whitespaceCount - 1
                emit(pos)
                continue
            }
            // \s+
            if whitespaceCount > 0 {
                pos += whitespaceCount
                emit(pos)
                continue
            }
            // no match
            pos += 1
            emit(pos)
        }
    }
}
