// The `tojson` filter as transformers defines it: Python's `json.dumps(x, ensure_ascii=False,
// indent=..., separators=..., sort_keys=...)`. jinja2's own tojson escapes <, >, & and ' for HTML;
// transformers replaces it so tool schemas reach the model verbatim.

struct JinjaJSON {
    /// The text repeated once per nesting level, or nil for everything on one line.
    var indent: String?
    var itemSeparator: String
    var keySeparator: String
    var sortKeys = false
    var ensureASCII = false
    let location: JinjaLocation

    init(indent: String?, separators: (String, String)?, sortKeys: Bool, ensureASCII: Bool, location: JinjaLocation) {
        self.indent = indent
        (itemSeparator, keySeparator) = separators ?? (indent == nil ? (", ", ": ") : (",", ": "))
        self.sortKeys = sortKeys
        self.ensureASCII = ensureASCII
        self.location = location
    }

    func encode(_ value: JinjaValue) throws(JinjaError) -> String {
        var output = ""
        try encode(value, level: 0, into: &output)
        return output
    }

    private func encode(_ value: JinjaValue, level: Int, into output: inout String) throws(JinjaError) {
        switch value {
        case .none: output += "null"
        case let .bool(bool): output += bool ? "true" : "false"
        case let .int(int): output += String(int)
        case let .double(double):
            if double.isNaN {
                output += "NaN"
            } else if double.isInfinite {
                output += double < 0 ? "-Infinity" : "Infinity"
            } else {
                output += JinjaValue.pythonFloat(double)
            }
        case let .string(text): output += quote(text)
        case let .array(items):
            try container("[", "]", items.count, level: level, into: &output) { index, output throws(JinjaError) in
                try encode(items[index], level: level + 1, into: &output)
            }
        case let .object(object):
            var pairs = object.pairs
            if sortKeys {
                pairs.sort { $0.key.unicodeScalars.lexicographicallyPrecedes($1.key.unicodeScalars) { $0.value < $1.value } }
            }
            try container("{", "}", pairs.count, level: level, into: &output) { index, output throws(JinjaError) in
                output += quote(pairs[index].key) + keySeparator
                try encode(pairs[index].value, level: level + 1, into: &output)
            }
        default:
            throw .type("Object of type \(value.typeName) is not JSON serializable", location)
        }
    }

    private func container(_ open: String, _ close: String, _ count: Int, level: Int, into output: inout String,
                           item: (Int, inout String) throws(JinjaError) -> Void) throws(JinjaError) {
        guard count > 0 else {
            output += open + close
            return
        }
        output += open
        let inner = indent.map { "\n" + String(repeating: $0, count: level + 1) }
        if let inner { output += inner }
        for index in 0..<count {
            if index > 0 { output += itemSeparator + (inner ?? "") }
            try item(index, &output)
        }
        if let indent { output += "\n" + String(repeating: indent, count: level) }
        output += close
    }

    private func quote(_ text: String) -> String {
        var output = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "\u{08}": output += "\\b"
            case "\u{0C}": output += "\\f"
            default:
                if scalar.value < 0x20 {
                    output += "\\u" + JinjaValue.hex(scalar.value, width: 4)
                } else if ensureASCII, scalar.value > 0x7E {
                    for unit in String(scalar).utf16 { output += "\\u" + JinjaValue.hex(UInt32(unit), width: 4) }
                } else {
                    output.unicodeScalars.append(scalar)
                }
            }
        }
        return output + "\""
    }
}
