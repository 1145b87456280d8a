// A JSON schema as a GBNF grammar whose sentences are exactly the JSON texts (with bounded whitespace)
// that the schema accepts: objects with their properties in the schema's order (required ones, then
// the optional ones that appear, in order), arrays with min/max items, enum, const, string (with
// min/max length), number, integer, boolean, null, anyOf/oneOf, type lists, and $ref into $defs or
// definitions (recursion allowed). A keyword that would constrain the value in a way the grammar does
// not is an error naming it, never ignored. `{"type": "json_object"}` is `anyJSON`.

public enum JSONSchemaGrammar {
    /// The grammar of any JSON object (OpenAI's `{"type": "json_object"}`).
    public static var anyJSONObject: String { primitives + "root ::= object\n" }

    /// The GBNF of `schema` (JSON text).
    public static func gbnf(schema text: String) throws(GrammarError) -> String {
        try gbnf(schema: try SchemaJSON.parse(text))
    }

    public static func gbnf(schema: SchemaJSON) throws(GrammarError) -> String {
        primitiveRules + (try rules(schema: schema, named: "root"))
    }

    /// The rules of `schema` alone, for a grammar that embeds several schemas beside its own rules (a
    /// tool call's arguments): the schema's rule is `name`, every other rule made for it starts with
    /// `name-`, and they use the rules of `primitiveRules`, which the grammar must include once.
    public static func rules(schema: SchemaJSON, named name: String) throws(GrammarError) -> String {
        var converter = Converter(root: schema, name: name)
        let body = try converter.expression(schema, name: name)
        return converter.rules.map { "\($0.name) ::= \($0.body)\n" }.joined() + "\(name) ::= \(body)\n"
    }

    /// A GBNF literal that matches exactly `text`.
    public static func literal(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// JSON's rules (`value`, `object`, `string`, `space`, ...), which the rules of a schema refer to.
    public static var primitiveRules: String { primitives }

    public static func grammar(schema text: String) throws(GrammarError) -> Grammar {
        try GBNFParser.parse(try gbnf(schema: text))
    }

    /// Whitespace is at most one newline and 20 spaces or tabs between tokens, so that a model cannot
    /// fill its budget with it; none before or after the whole value, which ends generation at once.
    static let primitives = #"""
    space ::= | " " | "\n" [ \t]{0,20}
    boolean ::= "true" | "false"
    null ::= "null"
    char ::= [^"\\\x7F\x00-\x1F] | [\\] (["\\/bfnrt] | "u" [0-9a-fA-F]{4})
    string ::= "\"" char* "\""
    integral-part ::= [0] | [1-9] [0-9]{0,15}
    decimal-part ::= [0-9]{1,16}
    integer ::= "-"? integral-part
    number ::= "-"? integral-part ("." decimal-part)? ([eE] [-+]? integral-part)?
    value ::= object | array | string | number | boolean | null
    object ::= "{" space ( string space ":" space value space ("," space string space ":" space value space)* )? "}"
    array ::= "[" space ( value space ("," space value space)* )? "]"

    """#

    /// Keywords that describe a value without constraining it.
    static let annotations: Set<String> = ["title", "description", "$schema", "$id", "$comment", "examples", "default", "deprecated",
                                           "readOnly", "writeOnly", "$defs", "definitions"]

    struct Converter {
        let root: SchemaJSON
        /// The root schema's rule; `root` for a whole grammar.
        let rootName: String
        var rules: [(name: String, body: String)] = []
        /// Rules made for $refs, by reference.
        var references: [String: String] = [:]

        init(root: SchemaJSON, name: String) {
            self.root = root
            rootName = name
        }

        /// A rule name like `base` not used yet.
        mutating func name(_ base: String) -> String {
            let cleaned = String(base.map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "-" }).lowercased()
            var candidate = cleaned.isEmpty ? "r" : cleaned, suffix = 1
            while ["space", "boolean", "null", "char", "string", "integral-part", "decimal-part", "integer", "number", "value",
                   "object", "array", "root", rootName].contains(candidate) || rules.contains(where: { $0.name == candidate })
                || references.values.contains(candidate) {
                suffix += 1
                candidate = "\(cleaned)-\(suffix)"
            }
            return candidate
        }

        /// A rule for `schema` named after `base`; returns its name.
        mutating func rule(_ schema: SchemaJSON, name base: String) throws(GrammarError) -> String {
            try define(schema, as: self.name(base))
        }

        /// Rule `name` for `schema`, named before its body is made so that the body may refer to it.
        mutating func define(_ schema: SchemaJSON, as name: String) throws(GrammarError) -> String {
            rules.append((name, ""))
            let body = try expression(schema, name: name)
            rules[rules.firstIndex { $0.name == name }!].body = body
            return name
        }

        /// A GBNF expression for the values `schema` accepts (without whitespace around them).
        mutating func expression(_ schema: SchemaJSON, name: String) throws(GrammarError) -> String {
            if case let .bool(allowed) = schema {
                guard allowed else { throw .unsupportedSchema("the schema `false` (no value allowed)") }
                return "value"
            }
            guard case let .object(members) = schema else { throw .invalidSchema("a schema must be an object or a boolean, got \(schema.text)") }
            let keys = Set(members.map(\.key))
            if let reference = schema["$ref"] {
                guard case let .string(path) = reference else { throw .invalidSchema("$ref must be a string") }
                let others = keys.subtracting(["$ref"]).subtracting(Self.annotationKeys)
                if let other = others.first { throw .unsupportedSchema("'\(other)' beside $ref") }
                return try self.reference(path)
            }
            if let value = schema["const"] {
                try check(keys, allowed: ["const", "type", "enum"])
                return literal(value)
            }
            if let values = schema["enum"] {
                try check(keys, allowed: ["enum", "type"])
                guard case let .array(items) = values, !items.isEmpty else { throw .invalidSchema("enum must be a non-empty array") }
                return "(" + items.map(literal).joined(separator: " | ") + ")"
            }
            for combinator in ["anyOf", "oneOf"] {
                guard let options = schema[combinator] else { continue }
                try check(keys, allowed: [combinator])
                guard case let .array(items) = options, !items.isEmpty else { throw .invalidSchema("\(combinator) must be a non-empty array") }
                var alternatives: [String] = []
                for (index, item) in items.enumerated() { alternatives.append(try rule(item, name: "\(name)-\(index)")) }
                return "(" + alternatives.joined(separator: " | ") + ")"
            }
            for unsupported in ["allOf", "not", "if", "then", "else", "dependentSchemas", "dependentRequired", "patternProperties",
                                "propertyNames", "unevaluatedProperties", "unevaluatedItems", "prefixItems", "contains", "uniqueItems",
                                "pattern", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
                                "minProperties", "maxProperties", "minContains", "maxContains"] where keys.contains(unsupported) {
                throw .unsupportedSchema("'\(unsupported)'")
            }
            let type = schema["type"]
            switch type {
            case let .array(types)?:
                var alternatives: [String] = []
                for case let .string(single) in types {
                    var narrowed = members.filter { $0.key != "type" }
                    narrowed.append(("type", .string(single)))
                    alternatives.append(try expression(.object(narrowed), name: name))
                }
                guard alternatives.count == types.count, !alternatives.isEmpty else { throw .invalidSchema("type must name types") }
                return "(" + alternatives.joined(separator: " | ") + ")"
            case let .string(single)?:
                return try typed(single, schema, keys: keys, name: name)
            case nil:
                if keys.contains("properties") || keys.contains("required") || keys.contains("additionalProperties") {
                    return try typed("object", schema, keys: keys, name: name)
                }
                if keys.contains("items") || keys.contains("minItems") || keys.contains("maxItems") { return try typed("array", schema, keys: keys, name: name) }
                if keys.contains("minLength") || keys.contains("maxLength") { return try typed("string", schema, keys: keys, name: name) }
                try check(keys, allowed: [])
                return "value"
            default: throw .invalidSchema("type must be a string or an array of strings")
            }
        }

        static var annotationKeys: Set<String> { JSONSchemaGrammar.annotations }

        /// Throws naming the first keyword beyond `allowed` and the annotations.
        func check(_ keys: Set<String>, allowed: Set<String>) throws(GrammarError) {
            if let extra = keys.subtracting(allowed).subtracting(Self.annotationKeys).sorted().first {
                throw .unsupportedSchema("'\(extra)' here")
            }
        }

        /// The keywords of one type or another that the grammar follows: a keyword of another type than
        /// the value's own does not apply to it (JSON Schema's rule), so `{"type": ["string", "null"],
        /// "maxLength": 9}` is fine.
        static let typeKeywords: Set<String> = ["type", "minLength", "maxLength", "items", "minItems", "maxItems", "properties", "required",
                                                "additionalProperties"]

        mutating func typed(_ type: String, _ schema: SchemaJSON, keys: Set<String>, name: String) throws(GrammarError) -> String {
            try check(keys, allowed: Self.typeKeywords)
            switch type {
            case "boolean", "null", "number", "integer":
                return type
            case "string":
                let low = try count(schema["minLength"], "minLength") ?? 0, high = try count(schema["maxLength"], "maxLength")
                if low == 0 && high == nil { return "string" }
                return "\"\\\"\" char{\(low),\(high.map(String.init) ?? "")} \"\\\"\""
            case "array":
                let item = try schema["items"].map { items throws(GrammarError) in try rule(items, name: "\(name)-item") } ?? "value"
                let low = try count(schema["minItems"], "minItems") ?? 0, high = try count(schema["maxItems"], "maxItems")
                if let high, high < low { throw .invalidSchema("maxItems is less than minItems") }
                if high == 0 { return "\"[\" space \"]\"" }
                let rest = "(\",\" space \(item) space){\(max(low, 1) - 1),\(high.map { String($0 - 1) } ?? "")}"
                let items = "\(item) space \(rest)"
                return "\"[\" space " + (low == 0 ? "(\(items))?" : items) + " \"]\""
            case "object":
                return try object(schema, keys: keys, name: name)
            default:
                throw .unsupportedSchema("type '\(type)'")
            }
        }

        func count(_ value: SchemaJSON?, _ keyword: String) throws(GrammarError) -> Int? {
            guard let value else { return nil }
            guard case let .number(text) = value, let count = Int(text), count >= 0 else {
                throw .invalidSchema("\(keyword) must be a non-negative integer")
            }
            return count
        }

        mutating func object(_ schema: SchemaJSON, keys: Set<String>, name: String) throws(GrammarError) -> String {
            var properties: [(key: String, value: SchemaJSON)] = []
            if let given = schema["properties"] {
                guard case let .object(members) = given else { throw .invalidSchema("properties must be an object") }
                properties = members
            }
            var required = Set<String>()
            if let given = schema["required"] {
                guard case let .array(names) = given else { throw .invalidSchema("required must be an array of names") }
                for case let .string(key) in names { required.insert(key) }
                if let missing = required.subtracting(properties.map(\.key)).sorted().first {
                    throw .unsupportedSchema("required property '\(missing)' without a schema in properties")
                }
            }
            // Extra properties: none beside declared ones unless asked for; any, when there are none.
            var extra: String?
            switch schema["additionalProperties"] {
            case .bool(false)?: extra = nil
            case nil, .bool(true)?: extra = properties.isEmpty ? "value" : nil
            case let more?: extra = try rule(more, name: "\(name)-additional")
            }
            var pairs: [(key: String, rule: String)] = []
            for property in properties {
                let value = try rule(property.value, name: "\(name)-\(property.key)")
                let pair = self.name("\(name)-\(property.key)-kv")
                rules.append((pair, literal(.string(property.key)) + " space \":\" space " + value + " space"))
                pairs.append((property.key, pair))
            }
            let mandatory = pairs.filter { required.contains($0.key) }.map(\.rule)
            let optional = pairs.filter { !required.contains($0.key) }.map(\.rule)
            var body = mandatory.joined(separator: " \",\" space ")
            if mandatory.isEmpty {
                // Any in-order subset of the optional ones: the first present one, then the others.
                if !optional.isEmpty {
                    let choices = optional.indices.map { first in
                        ([optional[first]] + optional[(first + 1)...].map { "(\",\" space \($0))?" }).joined(separator: " ")
                    }
                    body = "(" + choices.joined(separator: " | ") + ")?"
                }
            } else {
                body += optional.map { " (\",\" space \($0))?" }.joined()
            }
            if let extra {
                let pair = self.name("\(name)-extra-kv")
                rules.append((pair, "string space \":\" space " + extra + " space"))
                body = body.isEmpty ? "(\(pair) (\",\" space \(pair))*)?" : body + " (\",\" space \(pair))*"
            }
            return "\"{\" space " + body + " \"}\""
        }

        mutating func reference(_ path: String) throws(GrammarError) -> String {
            if let known = references[path] { return known }
            let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3, parts[0] == "#", parts[1] == "$defs" || parts[1] == "definitions" else {
                throw .unsupportedSchema("$ref '\(path)' (only #/$defs/NAME and #/definitions/NAME)")
            }
            guard let target = root[parts[1]]?[parts[2]] else { throw .invalidSchema("$ref '\(path)' names no definition") }
            let name = self.name(rootName == "root" ? parts[2] : "\(rootName)-\(parts[2])")
            references[path] = name
            return try define(target, as: name)
        }

        /// A GBNF literal for the JSON text of `value`.
        func literal(_ value: SchemaJSON) -> String { JSONSchemaGrammar.literal(value.text) }
    }
}
