// The values a chat template computes with, modelled on the Python objects jinja2 sees: None, bools,
// ints, floats, strings, lists, insertion-ordered dicts, plus jinja2's Undefined and the few runtime
// objects a template can hold (a namespace, a loop, a macro, a global function).

public enum JinjaValue: Sendable, Equatable {
    /// jinja2's default `Undefined`: prints as "", is falsy, iterates as empty; using its attributes fails.
    case undefined(String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    /// A Python list (tuples are lists here too).
    case array([JinjaValue])
    /// A Python dict with string keys, in insertion order.
    case object(JinjaObject)
    /// A `namespace()`; its attributes live in the renderer so that `{% set ns.x %}` is seen everywhere.
    case namespace(JinjaNamespace)
    /// The `loop` variable of a for loop.
    indirect case loop(JinjaLoop)
    /// A `{% macro %}` defined by the template.
    case macro(JinjaMacro)
    /// A global function: `range`, `namespace`, `raise_exception`, `strftime_now`, `dict`.
    case function(JinjaFunction)

    var isUndefined: Bool {
        if case .undefined = self { true } else { false }
    }

    /// Python truthiness.
    var isTruthy: Bool {
        switch self {
        case .undefined, .none: false
        case let .bool(value): value
        case let .int(value): value != 0
        case let .double(value): value != 0
        case let .string(value): !value.isEmpty
        case let .array(value): !value.isEmpty
        case let .object(value): !value.isEmpty
        case .namespace, .loop, .macro, .function: true
        }
    }

    /// The Python type name, as jinja2's error messages spell it.
    var typeName: String {
        switch self {
        case .undefined: "Undefined"
        case .none: "NoneType"
        case .bool: "bool"
        case .int: "int"
        case .double: "float"
        case .string: "str"
        case .array: "list"
        case .object: "dict"
        case .namespace: "Namespace"
        case .loop: "LoopContext"
        case .macro: "Macro"
        case .function: "function"
        }
    }
}

/// A dict that keeps insertion order, as Python's does: `tojson` and `items()` must list keys in the
/// order the template or the caller wrote them.
public struct JinjaObject: Sendable, Equatable {
    public private(set) var keys: [String] = []
    private var storage: [String: JinjaValue] = [:]

    public init() {}

    public init(_ pairs: [(String, JinjaValue)]) {
        for (key, value) in pairs { self[key] = value }
    }

    public var isEmpty: Bool { keys.isEmpty }
    public var count: Int { keys.count }

    public subscript(key: String) -> JinjaValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    public var pairs: [(key: String, value: JinjaValue)] { keys.map { ($0, storage[$0]!) } }
    public var values: [JinjaValue] { keys.map { storage[$0]! } }
}

/// A handle to a namespace's attributes, which the renderer owns for the length of one render.
public struct JinjaNamespace: Sendable, Equatable {
    let id: Int
}

/// The state of one for loop at one iteration; `loop.index`, `loop.last` and friends derive from it.
public struct JinjaLoop: Sendable, Equatable {
    let index0: Int
    let length: Int
    let previous: JinjaValue?
    let next: JinjaValue?
}

public struct JinjaMacro: Sendable, Equatable {
    let definition: JinjaMacroDefinition
}

public enum JinjaFunction: String, Sendable, Equatable, CaseIterable {
    case range
    case namespace
    case raiseException = "raise_exception"
    case strftimeNow = "strftime_now"
    case dict
}

/// Literals, so callers can write `extra: ["date_string": "26 Jul 2024", "tools": [["type": "function"]]]`.
extension JinjaValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JinjaValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JinjaValue)...) { self = .object(JinjaObject(elements)) }
}
