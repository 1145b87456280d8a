// The llama3 and qwen2 pre-tokenizer regexes, hand-written as llama.cpp's
// `unicode_regex_split_custom_llama3` / `_qwen2` do it. They differ only in how digits group:
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// with \p{N}{1,3} for llama3 and \p{N} for qwen2.

enum Llama3Splitter {
    static func split(_ text: ScalarText, _ segments: [Int], digitGroup: Int, into output: inout [Int]) {
        text.scalars.withUnsafeBufferPointer { scalars in
            text.flags.withUnsafeBufferPointer { flags in
                var start = 0
                for length in segments {
                    splitSegment(scalars, flags, start, start + length, digitGroup, &output)
                    start += length
                }
            }
        }
    }

    private static func splitSegment(
        _ scalars: UnsafeBufferPointer<UInt32>, _ flags: UnsafeBufferPointer<UInt8>,
        _ begin: Int, _ end: Int, _ digitGroup: Int, _ output: inout [Int]
    ) {
        @inline(__always) func scalar(_ p: Int) -> UInt32 { p < end ? scalars[p] : ScalarText.outOfRange }
        @inline(__always) func flag(_ p: Int) -> CodepointFlags { CodepointFlags(rawValue: p < end ? flags[p] : 0) }
        @inline(__always) func isNewline(_ c: UInt32) -> Bool { c == ScalarText.carriageReturn || c == ScalarText.lineFeed }
        let wordClasses: CodepointFlags = [.whitespace, .letter, .number]

        var previousEnd = begin
        @inline(__always) func emit(_ wordEnd: Int) {
            if wordEnd > previousEnd { output.append(wordEnd - previousEnd) }
            previousEnd = wordEnd
        }

        var pos = begin
        while pos < end {
            let cpt = scalars[pos]
            let flags = flag(pos)

            // (?i:'s|'t|'re|'ve|'m|'ll|'d)
            let contraction = Contraction.length(scalars, at: pos, end: end, caseInsensitive: true)
            if contraction > 0 {
                pos += contraction
                emit(pos)
                continue
            }

            // [^\r\n\p{L}\p{N}]?\p{L}+
            if !(isNewline(cpt) || flags.contains(.number)) {
                if flags.contains(.letter) || flag(pos + 1).contains(.letter) {
                    pos += 1
                    while flag(pos).contains(.letter) {
                        pos += 1
                    }
                    emit(pos)
                    continue
                }
            }

            // \p{N}{1,3} (llama3) or \p{N} (qwen2)
            if flags.contains(.number) {
                var groupStart = pos
                while flag(pos).contains(.number) {
                    pos += 1
                    if pos - groupStart >= digitGroup {
                        emit(pos)
                        groupStart = pos
                    }
                }
                emit(pos)
                continue
            }

            // <space>?[^\s\p{L}\p{N}]+[\r\n]*
            let isSpace = cpt == ScalarText.space
            var flags2 = isSpace ? flag(pos + 1) : flags
            if flags2.isDisjoint(with: wordClasses) && !flags.isEmpty {
                if isSpace { pos += 1 }
                while flags2.isDisjoint(with: wordClasses) && !flags2.isEmpty {
                    pos += 1
                    flags2 = flag(pos)
                }
                while isNewline(scalar(pos)) {
                    pos += 1
                }
                emit(pos)
                continue
            }

            var whitespaceCount = 0
            var lastNewlineEnd = 0
            while flag(pos + whitespaceCount).contains(.whitespace) {
                if isNewline(scalar(pos + whitespaceCount)) {
                    lastNewlineEnd = pos + whitespaceCount + 1
                }
                whitespaceCount += 1
            }
            // \s*[\r\n]+
            if lastNewlineEnd > 0 {
                pos = lastNewlineEnd
                emit(pos)
                continue
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
