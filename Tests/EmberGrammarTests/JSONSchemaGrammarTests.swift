// JSON schemas as grammars: for each of more than thirty schemas, texts the schema accepts are
// sentences of its grammar and texts it rejects are not; unsupported keywords are errors naming them.

import EmberGrammar
import Testing

struct JSONSchemaGrammarTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let schema: String
        let valid: [String]
        let invalid: [String]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "string", schema: #"{"type":"string"}"#, valid: [#""hi""#, #""a \"q\" \\ \u00e9""#, #""""#], invalid: ["hi", "1", #""a"#]),
        Case(name: "string lengths", schema: #"{"type":"string","minLength":2,"maxLength":3}"#, valid: [#""ab""#, #""abc""#],
             invalid: [#""a""#, #""abcd""#]),
        Case(name: "integer", schema: #"{"type":"integer"}"#, valid: ["0", "-12", "1234"], invalid: ["1.5", "01", "+1", "-"]),
        Case(name: "number", schema: #"{"type":"number"}"#, valid: ["0", "-1.25", "3e10", "2.5E-3"], invalid: [".5", "1.", "e3", "NaN"]),
        Case(name: "boolean", schema: #"{"type":"boolean"}"#, valid: ["true", "false"], invalid: ["True", "1", "null"]),
        Case(name: "null", schema: #"{"type":"null"}"#, valid: ["null"], invalid: ["nil", "0"]),
        Case(name: "enum", schema: #"{"enum":["red","green",3,null]}"#, valid: [#""red""#, #""green""#, "3", "null"],
             invalid: [#""blue""#, "4", #""Red""#]),
        Case(name: "const", schema: #"{"const":{"a":[1,2]}}"#, valid: [#"{"a":[1,2]}"#], invalid: [#"{"a":[1]}"#, #"{"a":[1,2],"b":1}"#]),
        Case(name: "type list", schema: #"{"type":["string","null"]}"#, valid: [#""x""#, "null"], invalid: ["1", "false"]),
        Case(name: "anyOf", schema: #"{"anyOf":[{"type":"integer"},{"type":"array","items":{"type":"boolean"}}]}"#,
             valid: ["7", "[true, false]", "[]"], invalid: [#""7""#, "[1]"]),
        Case(name: "oneOf", schema: #"{"oneOf":[{"const":"a"},{"const":"b"}]}"#, valid: [#""a""#, #""b""#], invalid: [#""c""#]),
        Case(name: "any value", schema: "{}", valid: ["1", #"{"x":[null,{"y":"z"}]}"#, #""s""#], invalid: ["{", "tru"]),
        Case(name: "true schema", schema: "true", valid: ["[1,2]", "false"], invalid: ["[1,"]),
        Case(name: "array of integers", schema: #"{"type":"array","items":{"type":"integer"}}"#, valid: ["[]", "[1]", "[1, 2,3]"],
             invalid: ["[1,]", "[\"a\"]", "[1 2]"]),
        Case(name: "array bounds", schema: #"{"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":3}"#,
             valid: ["[1,2]", "[1,2,3]"], invalid: ["[1]", "[1,2,3,4]", "[]"]),
        Case(name: "array exactly one", schema: #"{"type":"array","minItems":1,"maxItems":1}"#, valid: [#"["x"]"#, "[{}]"],
             invalid: ["[]", "[1,2]"]),
        Case(name: "empty array only", schema: #"{"type":"array","maxItems":0}"#, valid: ["[]", "[ ]"], invalid: ["[1]"]),
        Case(name: "array without items", schema: #"{"type":"array"}"#, valid: [#"[1,"a",null,[]]"#], invalid: ["[,]"]),
        Case(name: "object required", schema: #"{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}},"required":["name","age"]}"#,
             valid: [#"{"name":"Ann","age":30}"#, "{ \"name\": \"Bo\",\n  \"age\": 4 }"],
             invalid: [#"{"name":"Ann"}"#, #"{"age":30,"name":"Ann"}"#, #"{"name":"Ann","age":"30"}"#, #"{"name":"Ann","age":30,"x":1}"#]),
        Case(name: "object optional", schema: #"{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"},"c":{"type":"integer"}}}"#,
             valid: ["{}", #"{"a":1}"#, #"{"b":2}"#, #"{"a":1,"c":3}"#, #"{"a":1,"b":2,"c":3}"#, #"{"c":3}"#],
             invalid: [#"{"b":2,"a":1}"#, #"{"a":1,}"#, #"{"d":4}"#]),
        Case(name: "object mixed", schema: #"{"type":"object","properties":{"id":{"type":"integer"},"tag":{"type":"string"},"ok":{"type":"boolean"}},"required":["ok"]}"#,
             valid: [#"{"ok":true}"#, #"{"ok":false,"id":1}"#, #"{"ok":true,"id":1,"tag":"x"}"#, #"{"ok":true,"tag":"x"}"#],
             invalid: [#"{"id":1}"#, #"{"id":1,"ok":true}"#]),
        Case(name: "object additional false", schema: #"{"type":"object","properties":{"a":{"type":"null"}},"additionalProperties":false}"#,
             valid: ["{}", #"{"a":null}"#], invalid: [#"{"b":null}"#]),
        Case(name: "map", schema: #"{"type":"object","additionalProperties":{"type":"integer"}}"#, valid: ["{}", #"{"x":1,"y":2}"#],
             invalid: [#"{"x":"1"}"#]),
        Case(name: "properties and additional", schema: #"{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":{"type":"string"}}"#,
             valid: [#"{"a":1}"#, #"{"a":1,"b":"x","c":"y"}"#], invalid: [#"{"a":1,"b":2}"#]),
        Case(name: "any object", schema: #"{"type":"object"}"#, valid: ["{}", #"{"k":[1,{"j":null}]}"#], invalid: ["[]", "{1:2}"]),
        Case(name: "nested", schema: #"{"type":"object","properties":{"user":{"type":"object","properties":{"tags":{"type":"array","items":{"enum":["a","b"]}}},"required":["tags"]}},"required":["user"]}"#,
             valid: [#"{"user":{"tags":["a","b","a"]}}"#, #"{"user":{"tags":[]}}"#], invalid: [#"{"user":{"tags":["c"]}}"#, #"{"user":{}}"#]),
        Case(name: "defs and ref", schema: ##"{"$defs":{"point":{"type":"object","properties":{"x":{"type":"number"},"y":{"type":"number"}},"required":["x","y"]}},"type":"array","items":{"$ref":"#/$defs/point"}}"##,
             valid: [#"[{"x":1,"y":2},{"x":-0.5,"y":3e2}]"#], invalid: [#"[{"x":1}]"#]),
        Case(name: "definitions ref", schema: ##"{"definitions":{"id":{"type":"integer"}},"$ref":"#/definitions/id"}"##, valid: ["5"], invalid: [#""5""#]),
        Case(name: "recursive", schema: ##"{"$defs":{"node":{"type":"object","properties":{"value":{"type":"integer"},"children":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["value"]}},"$ref":"#/$defs/node"}"##,
             valid: [#"{"value":1}"#, #"{"value":1,"children":[{"value":2,"children":[{"value":3}]}]}"#], invalid: [#"{"children":[]}"#]),
        Case(name: "implicit object", schema: #"{"properties":{"q":{"type":"string"}},"required":["q"]}"#, valid: [#"{"q":"?"}"#], invalid: ["{}"]),
        Case(name: "annotations ignored", schema: #"{"title":"T","description":"d","$schema":"https://json-schema.org/draft/2020-12/schema","type":"integer","examples":[1],"default":0}"#,
             valid: ["1"], invalid: ["x"]),
        Case(name: "enum of strings with quotes", schema: #"{"enum":["say \"hi\"","back\\slash"]}"#, valid: [#""say \"hi\"""#, #""back\\slash""#],
             invalid: [#""say hi""#]),
        Case(name: "unicode property names", schema: #"{"type":"object","properties":{"naïve":{"type":"boolean"}},"required":["naïve"]}"#,
             valid: [#"{"naïve":true}"#], invalid: [#"{"naive":true}"#]),
        Case(name: "whitespace is bounded", schema: #"{"type":"array","items":{"type":"integer"}}"#, valid: ["[1,\n  2]"],
             invalid: ["[1,\n\n2]", "[1,\n" + String(repeating: " ", count: 21) + "2]"]),
    ]

    @Test(arguments: cases)
    func schemaAcceptsExactlyItsInstances(_ test: Case) throws {
        let grammar = try JSONSchemaGrammar.grammar(schema: test.schema)
        for text in test.valid { #expect(accepts(grammar, text), "\(test.name) should accept \(text)") }
        for text in test.invalid { #expect(!accepts(grammar, text), "\(test.name) should reject \(text)") }
    }

    @Test func theAnyObjectGrammarTakesObjectsOnly() throws {
        let grammar = try GBNFParser.parse(JSONSchemaGrammar.anyJSONObject)
        #expect(accepts(grammar, #"{"a": [1, {"b": null}], "c": "d"}"#))
        #expect(!accepts(grammar, "[1]") && !accepts(grammar, "\"s\""))
    }

    @Test(arguments: [
        (#"{"type":"string","pattern":"^a+$"}"#, "'pattern'"), (#"{"type":"string","format":"date"}"#, "'format'"),
        (#"{"type":"integer","minimum":0}"#, "'minimum'"), (#"{"allOf":[{"type":"integer"}]}"#, "'allOf'"),
        (#"{"type":"array","prefixItems":[{"type":"integer"}]}"#, "'prefixItems'"), (#"{"type":"array","uniqueItems":true}"#, "'uniqueItems'"),
        (#"{"type":"object","patternProperties":{"^x":{}}}"#, "'patternProperties'"), (#"{"$ref":"https://example.com/s"}"#, "$ref"),
        (#"{"type":"string","color":"red"}"#, "'color'"), (#"{"not":{"type":"null"}}"#, "'not'"),
    ])
    func unsupportedKeywordsAreNamed(schema: String, feature: String) {
        #expect {
            try JSONSchemaGrammar.grammar(schema: schema)
        } throws: { error in
            guard case let .unsupportedSchema(message) = error as? GrammarError else { return false }
            return message.contains(feature)
        }
    }

    @Test func invalidSchemasAreNamed() {
        #expect(throws: GrammarError.self) { try JSONSchemaGrammar.grammar(schema: "{") }
        #expect(throws: GrammarError.self) { try JSONSchemaGrammar.grammar(schema: #"{"type":"object","required":["a"]}"#) }
        #expect(throws: GrammarError.self) { try JSONSchemaGrammar.grammar(schema: ##"{"$ref":"#/$defs/missing"}"##) }
        #expect(throws: GrammarError.self) { try JSONSchemaGrammar.grammar(schema: #"{"type":"array","minItems":3,"maxItems":1}"#) }
    }
}
