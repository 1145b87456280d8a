// Splits a template into text and the tokens inside `{{ }}` and `{% %}`, applying jinja2's
// whitespace rules as transformers configures them: `trim_blocks` (drop the newline after a block
// or comment tag), `lstrip_blocks` (drop the indentation before one), `-` to strip all whitespace
// on that side, `+` to keep it, and one trailing newline of the template dropped.

struct JinjaToken: Equatable {
    enum Kind: Equatable {
        case text(String)
        case variableStart, variableEnd, blockStart, blockEnd
        case name(String)
        case string(String)
        case integer(Int)
        case float(Double)
        case symbol(String)
        case end
    }

    let kind: Kind
    let location: JinjaLocation
}

struct JinjaLexer {
    private let scalars: [Unicode.Scalar]
    private let lineStarts: [Int]
    private var position = 0
    private var tokens: [JinjaToken] = []

    static func tokenize(_ source: String) throws(JinjaError) -> [JinjaToken] {
        var lexer = JinjaLexer(source)
        try lexer.run()
        return lexer.tokens
    }

    private init(_ source: String) {
        // jinja2 reads \r\n and \r as \n, and drops one trailing newline (keep_trailing_newline=False).
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(source.unicodeScalars.count)
        var previousWasReturn = false
        for scalar in source.unicodeScalars {
            if scalar == "\r" {
                scalars.append("\n")
                previousWasReturn = true
                continue
            }
            if scalar == "\n", previousWasReturn {
                previousWasReturn = false
                continue
            }
            previousWasReturn = false
            scalars.append(scalar)
        }
        if scalars.last == "\n" { scalars.removeLast() }
        self.scalars = scalars
        var starts = [0]
        for (index, scalar) in scalars.enumerated() where scalar == "\n" { starts.append(index + 1) }
        lineStarts = starts
    }

    func location(_ index: Int) -> JinjaLocation {
        var low = 0
        var high = lineStarts.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if lineStarts[middle] <= index { low = middle } else { high = middle - 1 }
        }
        return JinjaLocation(line: low + 1, column: index - lineStarts[low] + 1)
    }

    private func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        let index = position + offset
        return index < scalars.count ? scalars[index] : nil
    }

    private func matches(_ text: String, at index: Int) -> Bool {
        var cursor = index
        for scalar in text.unicodeScalars {
            guard cursor < scalars.count, scalars[cursor] == scalar else { return false }
            cursor += 1
        }
        return true
    }

    private mutating func run() throws(JinjaError) {
        while position < scalars.count {
            let textStart = position
            let tagStart = nextTagStart(from: position)
            var text = scalars[textStart..<(tagStart ?? scalars.count)]
            guard let tagStart else {
                emitText(text, at: textStart)
                break
            }
            let opener = scalars[tagStart + 1]
            let sign = tagStart + 2 < scalars.count ? scalars[tagStart + 2] : nil
            if sign == "-" {
                while let last = text.last, last.isPythonWhitespace { text.removeLast() }
            } else if sign != "+", opener != "{" {
                // lstrip_blocks: indentation alone on the tag's line goes.
                let lineStart = text.lastIndex(of: "\n").map { $0 + 1 } ?? textStart
                let atLineStart = lineStart > textStart || textStart == 0 || scalars[textStart - 1] == "\n"
                let indentation = text[lineStart...]
                if atLineStart, !indentation.isEmpty, indentation.allSatisfy(\.isPythonWhitespace) {
                    text = text[textStart..<lineStart]
                }
            }
            emitText(text, at: textStart)
            position = tagStart + 2 + (sign == "-" || sign == "+" ? 1 : 0)
            switch opener {
            case "#": try skipComment(from: tagStart)
            case "{": try lexTag(start: tagStart, isBlock: false)
            default:
                if try !lexRaw(start: tagStart) { try lexTag(start: tagStart, isBlock: true) }
            }
        }
        tokens.append(JinjaToken(kind: .end, location: location(scalars.count)))
    }

    private func nextTagStart(from start: Int) -> Int? {
        var index = start
        while index + 1 < scalars.count {
            if scalars[index] == "{", ["{", "%", "#"].contains(scalars[index + 1]) { return index }
            index += 1
        }
        return nil
    }

    private mutating func emitText(_ text: ArraySlice<Unicode.Scalar>, at index: Int) {
        guard !text.isEmpty else { return }
        var string = String()
        string.unicodeScalars.append(contentsOf: text)
        tokens.append(JinjaToken(kind: .text(string), location: location(index)))
    }

    /// After a closing `-%}`-style tag: all whitespace goes; after a plain block or comment end the
    /// one newline goes (trim_blocks); `+` keeps everything.
    private mutating func skipAfterTag(sign: Unicode.Scalar?, trimNewline: Bool) {
        if sign == "-" {
            while let scalar = peek(), scalar.isPythonWhitespace { position += 1 }
        } else if sign != "+", trimNewline, peek() == "\n" {
            position += 1
        }
    }

    private mutating func skipComment(from start: Int) throws(JinjaError) {
        while position + 1 < scalars.count, !(scalars[position] == "#" && scalars[position + 1] == "}") {
            position += 1
        }
        guard position + 1 < scalars.count else {
            throw .syntax("missing end of comment tag '#}'", location(start))
        }
        let sign = position > start + 2 ? scalars[position - 1] : nil
        position += 2
        skipAfterTag(sign: sign, trimNewline: true)
    }

    /// `{% raw %}...{% endraw %}`: the text between is emitted as is.
    private mutating func lexRaw(start: Int) throws(JinjaError) -> Bool {
        var cursor = position
        while cursor < scalars.count, scalars[cursor].isPythonWhitespace { cursor += 1 }
        guard matches("raw", at: cursor) else { return false }
        cursor += 3
        while cursor < scalars.count, scalars[cursor].isPythonWhitespace { cursor += 1 }
        let openSign = cursor < scalars.count && scalars[cursor] == "-" ? scalars[cursor] : nil
        if openSign != nil { cursor += 1 }
        guard matches("%}", at: cursor) else { return false }
        position = cursor + 2
        skipAfterTag(sign: openSign, trimNewline: false)
        let contentStart = position
        while position < scalars.count {
            if scalars[position] == "{", peek(1) == "%" {
                var probe = position + 2
                let closeSign = probe < scalars.count && (scalars[probe] == "-" || scalars[probe] == "+")
                    ? scalars[probe] : nil
                if closeSign != nil { probe += 1 }
                while probe < scalars.count, scalars[probe].isPythonWhitespace { probe += 1 }
                if matches("endraw", at: probe) {
                    probe += 6
                    while probe < scalars.count, scalars[probe].isPythonWhitespace { probe += 1 }
                    let endSign = probe < scalars.count && (scalars[probe] == "-" || scalars[probe] == "+")
                        ? scalars[probe] : nil
                    if endSign != nil { probe += 1 }
                    if matches("%}", at: probe) {
                        var content = scalars[contentStart..<position]
                        if closeSign == "-" {
                            while let last = content.last, last.isPythonWhitespace { content.removeLast() }
                        }
                        emitText(content, at: contentStart)
                        position = probe + 2
                        skipAfterTag(sign: endSign, trimNewline: true)
                        return true
                    }
                }
            }
            position += 1
        }
        throw .syntax("missing end of raw directive '{% endraw %}'", location(start))
    }

    private mutating func lexTag(start: Int, isBlock: Bool) throws(JinjaError) {
        tokens.append(JinjaToken(kind: isBlock ? .blockStart : .variableStart, location: location(start)))
        var brackets: [Unicode.Scalar] = []
        while true {
            while let scalar = peek(), scalar.isPythonWhitespace { position += 1 }
            guard let scalar = peek() else {
                throw .syntax("unexpected end of template inside '\(isBlock ? "{%" : "{{")' tag opened at "
                    + "\(location(start))", location(position))
            }
            let here = location(position)
            if brackets.isEmpty, let (length, sign) = closing(isBlock: isBlock) {
                position += length
                tokens.append(JinjaToken(kind: isBlock ? .blockEnd : .variableEnd, location: here))
                skipAfterTag(sign: sign, trimNewline: isBlock)
                return
            }
            if scalar.isASCIIDigit {
                tokens.append(JinjaToken(kind: try lexNumber(), location: here))
            } else if scalar == "_" || scalar.properties.isAlphabetic {
                var name = String()
                while let next = peek(), next == "_" || next.properties.isAlphabetic || next.isASCIIDigit {
                    name.unicodeScalars.append(next)
                    position += 1
                }
                tokens.append(JinjaToken(kind: .name(name), location: here))
            } else if scalar == "'" || scalar == "\"" {
                tokens.append(JinjaToken(kind: .string(try lexString()), location: here))
            } else {
                let symbol = lexSymbol()
                guard let symbol else {
                    throw .syntax("unexpected character '\(Character(scalar))'", here)
                }
                switch symbol {
                case "(": brackets.append(")")
                case "[": brackets.append("]")
                case "{": brackets.append("}")
                case ")", "]", "}":
                    guard brackets.last == symbol.unicodeScalars.first else {
                        throw .syntax("unexpected '\(symbol)'", here)
                    }
                    brackets.removeLast()
                default: break
                }
                tokens.append(JinjaToken(kind: .symbol(symbol), location: here))
            }
        }
    }

    /// The length of the closing delimiter at the cursor and its whitespace sign, if one is there.
    private func closing(isBlock: Bool) -> (Int, Unicode.Scalar?)? {
        let close = isBlock ? "%}" : "}}"
        if matches(close, at: position) { return (2, nil) }
        if peek() == "-", matches(close, at: position + 1) { return (3, "-") }
        if isBlock, peek() == "+", matches(close, at: position + 1) { return (3, "+") }
        return nil
    }

    private static let symbols = ["//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">",
                                  "=", ".", ",", ":", "|", "(", ")", "[", "]", "{", "}", ";"]

    private mutating func lexSymbol() -> String? {
        for symbol in Self.symbols where matches(symbol, at: position) {
            position += symbol.unicodeScalars.count
            return symbol
        }
        return nil
    }

    private mutating func lexNumber() throws(JinjaError) -> JinjaToken.Kind {
        let start = position
        var text = ""
        func digits(_ lexer: inout JinjaLexer, into text: inout String) {
            while let scalar = lexer.peek(), scalar.isASCIIDigit || scalar == "_" {
                if scalar != "_" { text.unicodeScalars.append(scalar) }
                lexer.position += 1
            }
        }
        digits(&self, into: &text)
        var isFloat = false
        if peek() == ".", let next = peek(1), next.isASCIIDigit {
            isFloat = true
            text += "."
            position += 1
            digits(&self, into: &text)
        }
        if peek() == "e" || peek() == "E" {
            var probe = 1
            if peek(1) == "+" || peek(1) == "-" { probe = 2 }
            if let next = peek(probe), next.isASCIIDigit {
                isFloat = true
                text += "e"
                if probe == 2 { text.unicodeScalars.append(peek(1)!) }
                position += probe
                digits(&self, into: &text)
            }
        }
        if isFloat, let value = Double(text) { return .float(value) }
        if !isFloat, let value = Int(text) { return .integer(value) }
        throw .syntax("number \(text) is out of range", location(start))
    }

    /// A quoted string with Python's escapes (jinja2 decodes them with `unicode-escape`).
    private mutating func lexString() throws(JinjaError) -> String {
        let start = position
        let quote = scalars[position]
        position += 1
        var value = String()
        while true {
            guard let scalar = peek() else { throw .syntax("unterminated string literal", location(start)) }
            position += 1
            if scalar == quote { return value }
            guard scalar == "\\" else {
                value.unicodeScalars.append(scalar)
                continue
            }
            guard let escaped = peek() else { throw .syntax("unterminated string literal", location(start)) }
            position += 1
            switch escaped {
            case "n": value += "\n"
            case "t": value += "\t"
            case "r": value += "\r"
            case "\\": value += "\\"
            case "'": value += "'"
            case "\"": value += "\""
            case "a": value += "\u{07}"
            case "b": value += "\u{08}"
            case "f": value += "\u{0C}"
            case "v": value += "\u{0B}"
            case "\n": break
            case "x", "u", "U":
                let width = escaped == "x" ? 2 : escaped == "u" ? 4 : 8
                var code: UInt32 = 0
                for _ in 0..<width {
                    guard let digit = peek(), let nibble = digit.hexValue else {
                        throw .syntax("truncated \\\(escaped) escape in string literal", location(position))
                    }
                    code = code * 16 + nibble
                    position += 1
                }
                guard let decoded = Unicode.Scalar(code) else {
                    throw .syntax("\\\(escaped) escape is not a Unicode scalar", location(position))
                }
                value.unicodeScalars.append(decoded)
            case "0"..."7":
                var code = escaped.value - 48
                var count = 1
                while count < 3, let digit = peek(), ("0"..."7").contains(digit) {
                    code = code * 8 + digit.value - 48
                    position += 1
                    count += 1
                }
                value.unicodeScalars.append(Unicode.Scalar(code)!)
            default:
                // Python keeps unknown escapes as written.
                value += "\\"
                value.unicodeScalars.append(escaped)
            }
        }
    }
}

extension Unicode.Scalar {
    /// Python's `str.isspace()`: Unicode White_Space plus the ASCII separators U+001C...U+001F.
    var isPythonWhitespace: Bool {
        properties.isWhitespace || (0x1C...0x1F).contains(value)
    }

    var isASCIIDigit: Bool { ("0"..."9").contains(self) }

    var hexValue: UInt32? {
        switch self {
        case "0"..."9": value - 48
        case "a"..."f": value - 87
        case "A"..."F": value - 55
        default: nil
        }
    }
}
