// A chat request's tools: the functions it offers (`tools`), whether and which the model must call
// (`tool_choice`: auto, none, required or a named function) and whether it may call several at once
// (`parallel_tool_calls`). Definitions are read from the request's own text so that the template
// renders their keys in the order the client wrote them.

import EmberGrammar
import EmberJinja

/// A function the client offers the model.
struct ToolDefinition {
    let name: String
    /// The whole `tools[i]` object, as the chat template renders it.
    let definition: SchemaJSON
    /// `function.parameters`, the schema of its arguments (any object when absent).
    let parameters: SchemaJSON
}

struct ToolRequest {
    enum Choice: Equatable {
        case auto, none, required
        case function(String)
    }

    /// The tools the model may call: all of them, or only the named one.
    let callable: [ToolDefinition]
    /// Every tool the request defined, as the template renders them.
    let definitions: [ToolDefinition]
    let choice: Choice
    let parallel: Bool

    /// Whether the reply must be a call (`required` or a named function), which a grammar enforces.
    var mustCall: Bool { choice != .auto && choice != .none }

    /// The tools the template is given: none for `tool_choice: none`, whose reply is plain text.
    var offered: [ToolDefinition]? { choice == .none ? nil : definitions }

    /// The request's tools, or nil when it has none.
    static func read(body: [UInt8], fields: RequestFields) throws(APIError) -> ToolRequest? {
        guard fields.has("tools") else {
            if fields.has("tool_choice") { throw .badRequest("'tool_choice' is only allowed when 'tools' are given", param: "tool_choice") }
            if fields.has("parallel_tool_calls") {
                throw .badRequest("'parallel_tool_calls' is only allowed when 'tools' are given", param: "parallel_tool_calls")
            }
            return nil
        }
        let request: SchemaJSON
        do { request = try SchemaJSON.parse(String(decoding: body, as: UTF8.self)) } catch {
            throw .badRequest("The body is not valid JSON (\(error))")
        }
        guard case let .array(items)? = request["tools"], !items.isEmpty else {
            throw .badRequest("'tools' must be a non-empty array of {\"type\": \"function\", \"function\": {...}}", param: "tools")
        }
        let definitions = try items.enumerated().map { index, item throws(APIError) in try definition(item, index: index) }
        if let repeated = Dictionary(grouping: definitions, by: \.name).first(where: { $0.value.count > 1 })?.key {
            throw .badRequest("'tools' defines the function '\(repeated)' twice", param: "tools")
        }
        let parallel = try fields.bool("parallel_tool_calls") ?? true
        let choice: Choice
        switch request["tool_choice"] {
        case nil, .null?, .string("auto")?: choice = .auto
        case .string("none")?: choice = .none
        case .string("required")?: choice = .required
        case let named?:
            guard case let .object(members) = named, members.count == 2, named["type"] == .string("function"),
                  case let .string(name)? = named["function"]?["name"] else {
                throw .badRequest("'tool_choice' must be \"auto\", \"none\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}",
                                  param: "tool_choice")
            }
            guard definitions.contains(where: { $0.name == name }) else {
                throw .badRequest("'tool_choice' names the function '\(name)', which 'tools' does not define", param: "tool_choice")
            }
            choice = .function(name)
        }
        let callable = if case let .function(name) = choice { definitions.filter { $0.name == name } } else { definitions }
        return ToolRequest(callable: callable, definitions: definitions, choice: choice, parallel: parallel)
    }

    private static func definition(_ item: SchemaJSON, index: Int) throws(APIError) -> ToolDefinition {
        let param = "tools[\(index)]"
        guard case let .object(members) = item, item["type"] == .string("function"), case let .object(function)? = item["function"] else {
            throw .badRequest("\(param) must be {\"type\": \"function\", \"function\": {\"name\": ...}}", param: param)
        }
        if let unknown = members.first(where: { !["type", "function"].contains($0.key) })?.key {
            throw .badRequest("\(param) has '\(unknown)', which Ember does not support", param: param)
        }
        if let unknown = function.first(where: { !["name", "description", "parameters", "strict"].contains($0.key) })?.key {
            throw .badRequest("\(param).function has '\(unknown)', which Ember does not support", param: param)
        }
        guard case let .string(name)? = item["function"]?["name"], (1 ... 64).contains(name.count),
              name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else {
            throw .badRequest("\(param).function.name must be 1 to 64 letters, digits, '_' or '-'", param: param)
        }
        switch item["function"]?["description"] {
        case nil, .string?: break
        default: throw .badRequest("\(param).function.description must be a string", param: param)
        }
        let parameters = item["function"]?["parameters"] ?? .object([("type", .string("object"))])
        guard case .object = parameters else { throw .badRequest("\(param).function.parameters must be a JSON schema object", param: param) }
        return ToolDefinition(name: name, definition: item, parameters: parameters)
    }
}

extension SchemaJSON {
    /// The value as a template sees it: objects keep their key order, numbers are ints where they are
    /// written as integers (as Python's json reads them).
    var jinjaValue: JinjaValue {
        switch self {
        case .null: .none
        case let .bool(value): .bool(value)
        case let .number(text): Int(text).map(JinjaValue.int) ?? .double(Double(text) ?? 0)
        case let .string(value): .string(value)
        case let .array(items): .array(items.map(\.jinjaValue))
        case let .object(members): .object(JinjaObject(members.map { ($0.key, $0.value.jinjaValue) }))
        }
    }
}
