// Renders a parsed template: runs the statements, evaluates expressions with Python's semantics, and
// keeps the scopes jinja2 keeps: each iteration of a for loop has its own scope, `if` has none, and a
// macro sees only its arguments and the template's top level.

struct JinjaInterpreter {
    private var output = ""
    /// Innermost last; index 0 is the template's top level (the render context plus its `set`s).
    private var scopes: [[String: JinjaValue]]
    /// The attributes of every `namespace()` created so far, addressed by `JinjaNamespace.id`.
    private var namespaces: [JinjaObject] = []
    private var macroDepth = 0
    let now: JinjaDateTime

    /// Macro recursion deeper than this fails rather than exhausting the stack.
    private static let maximumMacroDepth = 32

    private enum Flow {
        case normal, breakLoop, continueLoop
    }

    init(context: [String: JinjaValue], now: JinjaDateTime) {
        scopes = [context]
        self.now = now
    }

    mutating func render(_ nodes: [JinjaNode]) throws(JinjaError) -> String {
        _ = try execute(nodes)
        return output
    }

    // MARK: Statements

    private mutating func execute(_ nodes: [JinjaNode]) throws(JinjaError) -> Flow {
        for node in nodes {
            let flow = try execute(node)
            if flow != .normal { return flow }
        }
        return .normal
    }

    private mutating func execute(_ node: JinjaNode) throws(JinjaError) -> Flow {
        switch node {
        case let .text(text):
            output += text
        case let .output(expression):
            output += try evaluate(expression).pythonString
        case let .conditional(branches, otherwise):
            for branch in branches where try evaluate(branch.condition).isTruthy {
                return try execute(branch.body)
            }
            return try execute(otherwise)
        case let .loop(loop):
            try run(loop)
        case let .assign(target, expression, location):
            try assign(try evaluate(expression), to: target, at: location)
        case let .assignBlock(name, body):
            let text = try capture(body)
            scopes[scopes.count - 1][name] = .string(text)
        case let .macro(definition):
            scopes[scopes.count - 1][definition.name] = .macro(JinjaMacro(definition: definition))
        case .breakLoop:
            return .breakLoop
        case .continueLoop:
            return .continueLoop
        }
        return .normal
    }

    /// Runs `body` with its output collected separately and returned.
    private mutating func capture(_ body: [JinjaNode]) throws(JinjaError) -> String {
        let saved = output
        output = ""
        defer { output = saved }
        _ = try execute(body)
        return output
    }

    private mutating func assign(_ value: JinjaValue, to target: JinjaAssignTarget, at location: JinjaLocation) throws(JinjaError) {
        switch target {
        case let .names(names):
            try bind(names, to: value, at: location)
        case let .attribute(name, attribute):
            guard case let .namespace(namespace) = lookup(name) else {
                throw .type("cannot assign attribute '\(attribute)' on '\(name)': only a namespace() takes "
                    + "attribute assignment", location)
            }
            // transformers refuses these so that a template cannot reach Python internals.
            guard !attribute.hasPrefix("_") else {
                throw .type("chat templates cannot store underscore-prefixed attributes on a namespace, but "
                    + "got '\(attribute)'", location)
            }
            namespaces[namespace.id][attribute] = value
        }
    }

    /// Sets `names` in the innermost scope, unpacking a sequence when there are several.
    private mutating func bind(_ names: [String], to value: JinjaValue, at location: JinjaLocation) throws(JinjaError) {
        if names.count == 1 {
            scopes[scopes.count - 1][names[0]] = value
            return
        }
        let items = try iterate(value, at: location)
        guard items.count == names.count else {
            throw .type(items.count > names.count
                ? "too many values to unpack (expected \(names.count))"
                : "not enough values to unpack (expected \(names.count), got \(items.count))", location)
        }
        for (name, item) in zip(names, items) { scopes[scopes.count - 1][name] = item }
    }

    private mutating func run(_ loop: JinjaForLoop) throws(JinjaError) {
        var items = try iterate(try evaluate(loop.iterable), at: loop.iterable.location)
        scopes.append([:])
        defer { scopes.removeLast() }
        if let filter = loop.filter {
            var kept: [JinjaValue] = []
            for item in items {
                try bind(loop.targets, to: item, at: loop.location)
                if try evaluate(filter).isTruthy { kept.append(item) }
            }
            items = kept
        }
        for (index, item) in items.enumerated() {
            // Each iteration starts afresh: a `set` in the body is not seen by the next iteration.
            scopes[scopes.count - 1] = [:]
            try bind(loop.targets, to: item, at: loop.location)
            scopes[scopes.count - 1]["loop"] = .loop(JinjaLoop(
                index0: index, length: items.count,
                previous: index > 0 ? items[index - 1] : nil,
                next: index + 1 < items.count ? items[index + 1] : nil))
            if try execute(loop.body) == .breakLoop { break }
        }
        if items.isEmpty { _ = try execute(loop.otherwise) }
    }

    /// The items a for loop or an unpacking sees: list items, dict keys, string characters.
    func iterate(_ value: JinjaValue, at location: JinjaLocation) throws(JinjaError) -> [JinjaValue] {
        switch value {
        case .undefined: return []
        case let .array(items): return items
        case let .object(object): return object.keys.map(JinjaValue.string)
        case let .string(text): return text.unicodeScalars.map { .string(String($0)) }
        case let .namespace(namespace): return namespaces[namespace.id].keys.map(JinjaValue.string)
        default: throw .type("'\(value.typeName)' object is not iterable", location)
        }
    }

    // MARK: Names

    func lookup(_ name: String) -> JinjaValue {
        for scope in scopes.reversed() {
            if let value = scope[name] { return value }
        }
        if let function = JinjaFunction(rawValue: name) { return .function(function) }
        return .undefined("'\(name)' is undefined")
    }

    // MARK: Expressions

    mutating func evaluate(_ expression: JinjaExpression) throws(JinjaError) -> JinjaValue {
        let location = expression.location
        switch expression.kind {
        case let .literal(value):
            return value
        case let .name(name):
            return lookup(name)
        case let .list(items):
            var values: [JinjaValue] = []
            for item in items { values.append(try evaluate(item)) }
            return .array(values)
        case let .dict(entries):
            var object = JinjaObject()
            for entry in entries {
                guard case let .string(key) = try evaluate(entry.key) else {
                    throw .type("dict keys must be strings in Ember's chat templates", entry.key.location)
                }
                object[key] = try evaluate(entry.value)
            }
            return .object(object)
        case let .not(operand):
            return .bool(!(try evaluate(operand).isTruthy))
        case let .negate(operand):
            return try JinjaOperators.negate(try evaluate(operand), at: location)
        case let .plus(operand):
            return try JinjaOperators.plus(try evaluate(operand), at: location)
        case let .binary(operation, left, right):
            return try JinjaOperators.apply(operation, try evaluate(left), try evaluate(right), at: location)
        case let .and(left, right):
            let value = try evaluate(left)
            return value.isTruthy ? try evaluate(right) : value
        case let .or(left, right):
            let value = try evaluate(left)
            return value.isTruthy ? value : try evaluate(right)
        case let .compare(first, operations):
            var left = try evaluate(first)
            for (comparison, rightExpression) in operations {
                let right = try evaluate(rightExpression)
                guard try JinjaOperators.compare(comparison, left, right, at: rightExpression.location) else {
                    return .bool(false)
                }
                left = right
            }
            return .bool(true)
        case let .attribute(base, name):
            return try attribute(name, of: try evaluate(base), at: location)
        case let .item(base, index):
            return try item(try evaluate(index), of: try evaluate(base), at: location)
        case let .slice(base, start, stop, step):
            let value = try evaluate(base)
            return try JinjaOperators.slice(value, start: try start.map { e throws(JinjaError) in try evaluate(e) },
                                            stop: try stop.map { e throws(JinjaError) in try evaluate(e) },
                                            step: try step.map { e throws(JinjaError) in try evaluate(e) }, at: location)
        case let .call(callee, arguments):
            return try call(callee, arguments, at: location)
        case let .filter(base, name, arguments):
            let value = try evaluate(base)
            let (positional, keywords) = try evaluate(arguments)
            return try JinjaFilters.apply(name, to: value, positional, keywords, in: &self, at: location)
        case let .test(base, name, arguments, negated):
            let value = try evaluate(base)
            var values: [JinjaValue] = []
            for argument in arguments { values.append(try evaluate(argument)) }
            let passed = try JinjaPredicates.test(name, value, values, in: self, at: location)
            return .bool(passed != negated)
        case let .conditional(condition, then, otherwise):
            if try evaluate(condition).isTruthy { return try evaluate(then) }
            return try otherwise.map { e throws(JinjaError) in try evaluate(e) } ?? .undefined("the condition of an inline if was false and it has no else")
        }
    }

    private mutating func evaluate(_ arguments: JinjaArguments) throws(JinjaError) -> ([JinjaValue], JinjaObject) {
        var positional: [JinjaValue] = []
        for argument in arguments.positional { positional.append(try evaluate(argument)) }
        var keywords = JinjaObject()
        for (name, value) in arguments.keywords { keywords[name] = try evaluate(value) }
        return (positional, keywords)
    }

    /// `value.name`: jinja2 tries the Python attribute, then the item; a missing one is undefined.
    func attribute(_ name: String, of value: JinjaValue, at location: JinjaLocation) throws(JinjaError) -> JinjaValue {
        switch value {
        case let .undefined(reason):
            throw .undefined(reason.isEmpty ? "attribute '\(name)' of an undefined value" : reason, location)
        case let .object(object):
            return object[name] ?? .undefined("'dict object' has no attribute '\(name)'")
        case let .namespace(namespace):
            return namespaces[namespace.id][name] ?? .undefined("'Namespace' object has no attribute '\(name)'")
        case let .loop(loop):
            return loop.attribute(name)
        default:
            return .undefined("'\(value.typeName) object' has no attribute '\(name)'")
        }
    }

    /// `value[index]`: a missing key or an index out of range is undefined, as in jinja2.
    func item(_ index: JinjaValue, of value: JinjaValue, at location: JinjaLocation) throws(JinjaError) -> JinjaValue {
        switch (value, index) {
        case let (.undefined(reason), _):
            throw .undefined(reason.isEmpty ? "item of an undefined value" : reason, location)
        case let (.array(items), .int(position)):
            let resolved = position < 0 ? position + items.count : position
            return items.indices.contains(resolved) ? items[resolved] : .undefined("list index out of range")
        case let (.string(text), .int(position)):
            let scalars = Array(text.unicodeScalars)
            let resolved = position < 0 ? position + scalars.count : position
            return scalars.indices.contains(resolved)
                ? .string(String(scalars[resolved])) : .undefined("string index out of range")
        case let (.object(object), .string(key)):
            return object[key] ?? .undefined("'dict object' has no attribute '\(key)'")
        case let (_, .string(key)):
            return try attribute(key, of: value, at: location)
        default:
            return .undefined("'\(value.typeName) object' has no item \(index.pythonRepr)")
        }
    }

    // MARK: Calls

    private mutating func call(_ callee: JinjaExpression, _ arguments: JinjaArguments, at location: JinjaLocation) throws(JinjaError) -> JinjaValue {
        if case let .attribute(baseExpression, name) = callee.kind {
            let base = try evaluate(baseExpression)
            let (positional, keywords) = try evaluate(arguments)
            if let result = try JinjaMethods.call(name, on: base, positional, keywords, at: location) {
                return result
            }
            return try call(try attribute(name, of: base, at: location), positional, keywords, at: location)
        }
        let function = try evaluate(callee)
        let (positional, keywords) = try evaluate(arguments)
        return try call(function, positional, keywords, at: location)
    }

    private mutating func call(_ function: JinjaValue, _ positional: [JinjaValue], _ keywords: JinjaObject,
                               at location: JinjaLocation) throws(JinjaError) -> JinjaValue {
        switch function {
        case let .function(builtin):
            return try callBuiltin(builtin, positional, keywords, at: location)
        case let .macro(macro):
            return try callMacro(macro.definition, positional, keywords, at: location)
        case let .undefined(reason):
            throw .undefined(reason.isEmpty ? "call of an undefined value" : reason, location)
        default:
            throw .type("'\(function.typeName)' object is not callable", location)
        }
    }

    private mutating func callBuiltin(_ function: JinjaFunction, _ positional: [JinjaValue], _ keywords: JinjaObject,
                                      at location: JinjaLocation) throws(JinjaError) -> JinjaValue {
        switch function {
        case .namespace:
            var attributes = JinjaObject()
            if let first = positional.first {
                guard case let .object(initial) = first else {
                    throw .type("namespace() takes a dict or keyword arguments, not \(first.typeName)", location)
                }
                attributes = initial
            }
            for (key, value) in keywords.pairs { attributes[key] = value }
            namespaces.append(attributes)
            return .namespace(JinjaNamespace(id: namespaces.count - 1))
        case .dict:
            var object = JinjaObject()
            if case let .object(initial)? = positional.first { object = initial }
            for (key, value) in keywords.pairs { object[key] = value }
            return .object(object)
        default:
            return try JinjaGlobals.call(function, positional, keywords, now: now, at: location)
        }
    }

    private mutating func callMacro(_ macro: JinjaMacroDefinition, _ positional: [JinjaValue], _ keywords: JinjaObject,
                                    at location: JinjaLocation) throws(JinjaError) -> JinjaValue {
        guard positional.count <= macro.parameters.count else {
            throw .type("macro '\(macro.name)' takes not more than \(macro.parameters.count) argument(s)", location)
        }
        guard macroDepth < Self.maximumMacroDepth else {
            throw .arithmetic("macro '\(macro.name)' recursed deeper than \(Self.maximumMacroDepth) calls", location)
        }
        let savedScopes = scopes
        scopes = [scopes[0], [:]]
        macroDepth += 1
        defer {
            scopes = savedScopes
            macroDepth -= 1
        }
        for (index, parameter) in macro.parameters.enumerated() {
            let value: JinjaValue
            if index < positional.count {
                value = positional[index]
            } else if let keyword = keywords[parameter.name] {
                value = keyword
            } else if let defaultValue = parameter.defaultValue {
                value = try evaluate(defaultValue)
            } else {
                value = .undefined("parameter '\(parameter.name)' was not provided")
            }
            scopes[1][parameter.name] = value
        }
        return .string(try capture(macro.body))
    }
}

extension JinjaLoop {
    func attribute(_ name: String) -> JinjaValue {
        switch name {
        case "index": .int(index0 + 1)
        case "index0": .int(index0)
        case "revindex": .int(length - index0)
        case "revindex0": .int(length - index0 - 1)
        case "first": .bool(index0 == 0)
        case "last": .bool(index0 == length - 1)
        case "length": .int(length)
        case "depth": .int(1)
        case "depth0": .int(0)
        case "previtem": previous ?? .undefined("there is no previous item")
        case "nextitem": next ?? .undefined("there is no next item")
        default: .undefined("'LoopContext' object has no attribute '\(name)'")
        }
    }
}
