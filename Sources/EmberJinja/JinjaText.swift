// Python's string operations on Unicode scalars (code points), shared by the string methods
// (`s.strip()`, `s.split()`) and the filters (`trim`, `replace`, `title`): Swift's own operate on
// grapheme clusters and compare by canonical equivalence, which would not match jinja2.

enum JinjaText {
    static func scalars(_ text: String) -> [Unicode.Scalar] { Array(text.unicodeScalars) }

    static func string<S: Sequence>(_ scalars: S) -> String where S.Element == Unicode.Scalar {
        var result = String()
        result.unicodeScalars.append(contentsOf: scalars)
        return result
    }

    /// `str.strip` / `lstrip` / `rstrip`: whitespace, or any of `characters` when given.
    static func strip(_ text: String, characters: String?, leading: Bool = true, trailing: Bool = true) -> String {
        let set = characters.map { Set($0.unicodeScalars) }
        func strippable(_ scalar: Unicode.Scalar) -> Bool { set?.contains(scalar) ?? scalar.isPythonWhitespace }
        var view = scalars(text)[...]
        if leading { while let first = view.first, strippable(first) { view.removeFirst() } }
        if trailing { while let last = view.last, strippable(last) { view.removeLast() } }
        return string(view)
    }

    /// `str.split(separator, maxsplit)`; without a separator, runs of whitespace split and edges vanish.
    static func split(_ text: String, separator: String?, maxSplit: Int = -1) -> [String] {
        let source = scalars(text)
        var parts: [String] = []
        guard let separator else {
            var index = 0
            while index < source.count {
                while index < source.count, source[index].isPythonWhitespace { index += 1 }
                guard index < source.count else { break }
                if maxSplit >= 0, parts.count == maxSplit {
                    var rest = source[index...]
                    while let last = rest.last, last.isPythonWhitespace { rest.removeLast() }
                    parts.append(string(rest))
                    break
                }
                let start = index
                while index < source.count, !source[index].isPythonWhitespace { index += 1 }
                parts.append(string(source[start..<index]))
            }
            return parts
        }
        let needle = scalars(separator)
        var start = 0
        while maxSplit < 0 || parts.count < maxSplit, let found = source.firstIndex(ofSubsequence: needle, from: start) {
            parts.append(string(source[start..<found]))
            start = found + needle.count
        }
        parts.append(string(source[start...]))
        return parts
    }

    /// `str.replace(old, new, count)`.
    static func replace(_ text: String, _ old: String, _ new: String, count: Int = -1) -> String {
        let source = scalars(text)
        let needle = scalars(old)
        if needle.isEmpty {
            // Python inserts `new` around every code point.
            var pieces = source.map { String($0) }
            pieces.insert("", at: 0)
            pieces.append("")
            let limit = count < 0 ? pieces.count - 1 : min(count, pieces.count - 1)
            return pieces.prefix(limit + 1).joined(separator: new) + pieces.dropFirst(limit + 1).joined()
        }
        var result = String()
        var start = 0
        var replaced = 0
        while count < 0 || replaced < count, let found = source.firstIndex(ofSubsequence: needle, from: start) {
            result += string(source[start..<found]) + new
            start = found + needle.count
            replaced += 1
        }
        return result + string(source[start...])
    }

    /// `str.splitlines()`.
    static func splitLines(_ text: String) -> [String] {
        let breaks: Set<UInt32> = [0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029]
        let source = scalars(text)
        var lines: [String] = []
        var start = 0
        var index = 0
        while index < source.count {
            if breaks.contains(source[index].value) {
                lines.append(string(source[start..<index]))
                if source[index] == "\r", index + 1 < source.count, source[index + 1] == "\n" { index += 1 }
                start = index + 1
            }
            index += 1
        }
        if start < source.count { lines.append(string(source[start...])) }
        return lines
    }

    /// `str.capitalize()`: the first character upper case, the rest lower case.
    static func capitalize(_ text: String) -> String {
        let source = scalars(text)
        guard let first = source.first else { return "" }
        return String(first).uppercased() + string(source.dropFirst()).lowercased()
    }

    /// `str.title()`: upper case after any character that is not cased, lower case after one that is.
    static func pythonTitle(_ text: String) -> String {
        var result = ""
        var previousCased = false
        for scalar in text.unicodeScalars {
            result += previousCased ? String(scalar).lowercased() : String(scalar).uppercased()
            previousCased = scalar.properties.isCased
        }
        return result
    }

    /// jinja2's `title` filter: words start after spaces, hyphens and opening brackets.
    static func jinjaTitle(_ text: String) -> String {
        let separators: Set<Unicode.Scalar> = ["-", "(", "{", "[", "<"]
        var result = ""
        var atWordStart = true
        for scalar in text.unicodeScalars {
            if scalar.isPythonWhitespace || separators.contains(scalar) {
                result.unicodeScalars.append(scalar)
                atWordStart = true
            } else {
                result += atWordStart ? String(scalar).uppercased() : String(scalar).lowercased()
                atWordStart = false
            }
        }
        return result
    }
}
