// The grammar a request's output must follow: OpenAI's `response_format` (`{"type": "json_object"}`,
// or `{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}`) or llama.cpp's `grammar`
// (GBNF text). A schema is read from the request's own text so that its properties keep their order;
// a schema or grammar Ember cannot follow is a 400 naming what is wrong, never ignored.

import EmberGrammar

enum StructuredOutput {
    static func grammar(body: [UInt8], fields: RequestFields) throws(APIError) -> Grammar? {
        let format = try fields.object("response_format")
        let gbnf = try fields.string("grammar")
        if let gbnf {
            if let type = format?["type"], type != .string("text") {
                throw .badRequest("Give 'response_format' or 'grammar', not both", param: "grammar")
            }
            do { return try GBNFParser.parse(gbnf) } catch { throw .badRequest("'grammar': \(error)", param: "grammar") }
        }
        guard let format else { return nil }
        switch format["type"] {
        case .string("text")?: return nil
        case .string("json_object")?:
            return anyObject
        case .string("json_schema")?:
            guard case let .object(wrapper)? = format["json_schema"] else {
                throw .badRequest("'response_format' of type json_schema needs a 'json_schema' object", param: "response_format")
            }
            if let unknown = wrapper.keys.first(where: { !["name", "schema", "strict", "description"].contains($0) }) {
                throw .badRequest("Unsupported field '\(unknown)' in 'response_format.json_schema'", param: "response_format")
            }
            guard wrapper["schema"] != nil else {
                throw .badRequest("'response_format.json_schema' needs a 'schema'", param: "response_format")
            }
            return try schemaGrammar(body: body, at: ["response_format", "json_schema", "schema"], param: "response_format")
        default:
            throw .badRequest("'response_format' type must be text, json_object or json_schema", param: "response_format")
        }
    }

    /// The grammar of any JSON object (`json_object`, Ollama's `"json"`).
    static var anyObject: Grammar {
        do { return try GBNFParser.parse(JSONSchemaGrammar.anyJSONObject) } catch { preconditionFailure("\(error)") }
    }

    /// The grammar of the schema at `path` in the request, read from its own text so that its
    /// properties keep their order; a schema Ember cannot follow is a 400 on `param`.
    static func schemaGrammar(body: [UInt8], at path: [String], param: String) throws(APIError) -> Grammar {
        do {
            var value: SchemaJSON? = try SchemaJSON.parse(String(decoding: body, as: UTF8.self))
            for key in path { value = value?[key] }
            guard let schema = value else { throw GrammarError.invalidSchema("no schema") }
            return try GBNFParser.parse(try JSONSchemaGrammar.gbnf(schema: schema))
        } catch {
            throw .badRequest("'\(param)': \(error)", param: param)
        }
    }
}
