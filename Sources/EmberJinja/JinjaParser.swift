// Builds the syntax tree from the lexer's tokens with jinja2's grammar and operator precedence
// (conditional < or < and < not < comparison < + - < ~ < * / // % < ** < unary < filters, tests
// and postfix). Unknown tags, filters and tests are rejected here, as jinja2 rejects them when it
// compiles the template, not halfway through a render.

struct JinjaParser {
    private let tokens: [JinjaToken]
    private var index = 0
    private var depth = 0
    private var macroCount = 0
    private var loopDepth = 0

    /// Deeper nesting than this is refused rather than risking the stack on a hostile template.
    private static let maximumDepth = 200

    static func parse(_ source: String) throws(JinjaError) -> [JinjaNode] {
        var parser = JinjaParser(tokens: try JinjaLexer.tokenize(source))
        let (nodes, end) = try parser.parseStatements(until: [])
        if let end { throw .syntax("unexpected '\(end.name)' outside any block", end.location) }
        return nodes
    }

    private init(tokens: [JinjaToken]) {
        self.tokens = tokens
    }

    // MARK: Tokens

    private var current: JinjaToken { tokens[index] }

    private mutating func advance() -> JinjaToken {
        let token = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return token
    }

    private func isSymbol(_ symbol: String) -> Bool { current.kind == .symbol(symbol) }
    private func isName(_ name: String) -> Bool { current.kind == .name(name) }

    private mutating func skip(symbol: String) -> Bool {
        guard isSymbol(symbol) else { return false }
        _ = advance()
        return true
    }

    private mutating func skip(name: String) -> Bool {
        guard isName(name) else { return false }
        _ = advance()
        return true
    }

    private mutating func expect(symbol: String) throws(JinjaError) {
        guard skip(symbol: symbol) else { throw unexpected(expected: "'\(symbol)'") }
    }

    private mutating func expectName() throws(JinjaError) -> String {
        guard case let .name(name) = current.kind else { throw unexpected(expected: "a name") }
        _ = advance()
        return name
    }

    private mutating func expectBlockEnd() throws(JinjaError) {
        guard current.kind == .blockEnd else { throw unexpected(expected: "end of statement '%}'") }
        _ = advance()
    }

    private func unexpected(expected: String) -> JinjaError {
        .syntax("expected \(expected), found \(describe(current.kind))", current.location)
    }

    private func describe(_ kind: JinjaToken.Kind) -> String {
        switch kind {
        case .text: "text"
        case .variableStart: "'{{'"
        case .variableEnd: "'}}'"
        case .blockStart: "'{%'"
        case .blockEnd: "'%}'"
        case let .name(name): "'\(name)'"
        case let .string(value): "string \(JinjaValue.pythonStringRepr(value))"
        case let .integer(value): "\(value)"
        case let .float(value): "\(value)"
        case let .symbol(symbol): "'\(symbol)'"
        case .end: "end of template"
        }
    }

    private mutating func nest() throws(JinjaError) {
        depth += 1
        if depth > Self.maximumDepth {
            throw .syntax("template nests deeper than \(Self.maximumDepth) levels", current.location)
        }
    }

    // MARK: Statements

    struct EndTag {
        let name: String
        let location: JinjaLocation
    }

    /// Statements up to one of the tags in `ends` (consumed up to its name) or the end of the template.
    private mutating func parseStatements(until ends: Set<String>) throws(JinjaError) -> ([JinjaNode], EndTag?) {
        try nest()
        defer { depth -= 1 }
        var nodes: [JinjaNode] = []
        while true {
            let token = advance()
            switch token.kind {
            case .end:
                if !ends.isEmpty {
                    let names = ends.sorted().map { "'\($0)'" }.joined(separator: " or ")
                    throw .syntax("unexpected end of template; expected \(names)", token.location)
                }
                return (nodes, nil)
            case let .text(text):
                nodes.append(.text(text))
            case .variableStart:
                let expression = try parseTuple()
                guard current.kind == .variableEnd else { throw unexpected(expected: "end of print statement '}}'") }
                _ = advance()
                nodes.append(.output(expression))
            case .blockStart:
                let location = current.location
                let keyword = try expectName()
                if ends.contains(keyword) { return (nodes, EndTag(name: keyword, location: location)) }
                nodes.append(contentsOf: try parseStatement(keyword, at: location))
            default:
                throw .syntax("unexpected \(describe(token.kind))", token.location)
            }
        }
    }

    private mutating func parseStatement(_ keyword: String, at location: JinjaLocation) throws(JinjaError) -> [JinjaNode] {
        switch keyword {
        case "if": return [try parseIf()]
        case "for": return [try parseFor(at: location)]
        case "set": return [try parseSet(at: location)]
        case "macro": return [try parseMacro()]
        case "break", "continue":
            guard loopDepth > 0 else { throw .syntax("'\(keyword)' outside a for loop", location) }
            try expectBlockEnd()
            return [keyword == "break" ? .breakLoop(location) : .continueLoop(location)]
        case "generation":
            // transformers' `{% generation %}` marks assistant text for its token mask; the text renders as is.
            try expectBlockEnd()
            let (body, _) = try parseStatements(until: ["endgeneration"])
            try expectBlockEnd()
            return body
        case "endif", "endfor", "endset", "endmacro", "else", "elif", "endgeneration":
            throw .syntax("unexpected '\(keyword)' outside the block it closes", location)
        default:
            throw .syntax("unknown tag '\(keyword)' (Ember supports if, for, set, macro, break, continue, "
                + "generation and raw)", location)
        }
    }

    private mutating func parseIf() throws(JinjaError) -> JinjaNode {
        var branches: [(condition: JinjaExpression, body: [JinjaNode])] = []
        var condition = try parseExpression()
        while true {
            try expectBlockEnd()
            let (body, end) = try parseStatements(until: ["elif", "else", "endif"])
            branches.append((condition, body))
            switch end?.name {
            case "elif":
                condition = try parseExpression()
            case "else":
                try expectBlockEnd()
                let (otherwise, _) = try parseStatements(until: ["endif"])
                try expectBlockEnd()
                return .conditional(branches: branches, otherwise: otherwise)
            default:
                try expectBlockEnd()
                return .conditional(branches: branches, otherwise: [])
            }
        }
    }

    private mutating func parseFor(at location: JinjaLocation) throws(JinjaError) -> JinjaNode {
        let targets = try parseTargetNames()
        guard skip(name: "in") else { throw unexpected(expected: "'in'") }
        let iterable = try parseTuple(allowConditional: false)
        let filter = skip(name: "if") ? try parseExpression() : nil
        if isName("recursive") { throw .syntax("recursive for loops are not supported", current.location) }
        try expectBlockEnd()
        loopDepth += 1
        let (body, end) = try parseStatements(until: ["else", "endfor"])
        loopDepth -= 1
        var otherwise: [JinjaNode] = []
        if end?.name == "else" {
            try expectBlockEnd()
            (otherwise, _) = try parseStatements(until: ["endfor"])
        }
        try expectBlockEnd()
        return .loop(JinjaForLoop(targets: targets, iterable: iterable, filter: filter, body: body,
                                  otherwise: otherwise, location: location))
    }

    /// `x` or `a, b` or `(a, b)`.
    private mutating func parseTargetNames() throws(JinjaError) -> [String] {
        let parenthesized = skip(symbol: "(")
        var names = [try expectName()]
        while skip(symbol: ",") {
            if case .name = current.kind { names.append(try expectName()) } else { break }
        }
        if parenthesized { try expect(symbol: ")") }
        return names
    }

    private mutating func parseSet(at location: JinjaLocation) throws(JinjaError) -> JinjaNode {
        let first = try expectName()
        if skip(symbol: ".") {
            let attribute = try expectName()
            try expect(symbol: "=")
            let value = try parseTuple()
            try expectBlockEnd()
            return .assign(.attribute(first, attribute), value, location)
        }
        var names = [first]
        while skip(symbol: ",") { names.append(try expectName()) }
        if skip(symbol: "=") {
            let value = try parseTuple()
            try expectBlockEnd()
            return .assign(.names(names), value, location)
        }
        guard names.count == 1 else { throw unexpected(expected: "'='") }
        try expectBlockEnd()
        let (body, _) = try parseStatements(until: ["endset"])
        try expectBlockEnd()
        return .assignBlock(first, body)
    }

    private mutating func parseMacro() throws(JinjaError) -> JinjaNode {
        let name = try expectName()
        try expect(symbol: "(")
        var parameters: [(name: String, defaultValue: JinjaExpression?)] = []
        while !skip(symbol: ")") {
            if !parameters.isEmpty { try expect(symbol: ",") }
            if skip(symbol: ")") { break }
            let parameter = try expectName()
            parameters.append((parameter, skip(symbol: "=") ? try parseExpression() : nil))
        }
        try expectBlockEnd()
        let (body, _) = try parseStatements(until: ["endmacro"])
        if case .name = current.kind { _ = advance() }
        try expectBlockEnd()
        macroCount += 1
        return .macro(JinjaMacroDefinition(id: macroCount, name: name, parameters: parameters, body: body))
    }

    // MARK: Expressions

    /// An expression, or a tuple of them when commas follow (`{% set a = 1, 2 %}`).
    private mutating func parseTuple(allowConditional: Bool = true) throws(JinjaError) -> JinjaExpression {
        let location = current.location
        let first = allowConditional ? try parseExpression() : try parseOr()
        guard isSymbol(",") else { return first }
        var items = [first]
        while skip(symbol: ",") {
            if [.variableEnd, .blockEnd].contains(current.kind) || isSymbol(")") || isName("if") { break }
            items.append(allowConditional ? try parseExpression() : try parseOr())
        }
        return JinjaExpression(kind: .list(items), location: location)
    }

    private mutating func parseExpression() throws(JinjaError) -> JinjaExpression {
        try nest()
        defer { depth -= 1 }
        var expression = try parseOr()
        while isName("if") {
            let location = advance().location
            let condition = try parseOr()
            let otherwise = skip(name: "else") ? try parseExpression() : nil
            expression = JinjaExpression(kind: .conditional(condition: condition, then: expression, otherwise: otherwise),
                                         location: location)
        }
        return expression
    }

    private mutating func parseOr() throws(JinjaError) -> JinjaExpression {
        var left = try parseAnd()
        while isName("or") {
            let location = advance().location
            left = JinjaExpression(kind: .or(left, try parseAnd()), location: location)
        }
        return left
    }

    private mutating func parseAnd() throws(JinjaError) -> JinjaExpression {
        var left = try parseNot()
        while isName("and") {
            let location = advance().location
            left = JinjaExpression(kind: .and(left, try parseNot()), location: location)
        }
        return left
    }

    private mutating func parseNot() throws(JinjaError) -> JinjaExpression {
        if isName("not") {
            let location = advance().location
            try nest()
            defer { depth -= 1 }
            return JinjaExpression(kind: .not(try parseNot()), location: location)
        }
        return try parseCompare()
    }

    private mutating func parseCompare() throws(JinjaError) -> JinjaExpression {
        let location = current.location
        let left = try parseAdditive()
        var operations: [(JinjaComparison, JinjaExpression)] = []
        while true {
            let comparison: JinjaComparison
            if case let .symbol(symbol) = current.kind, let found = JinjaComparison(rawValue: symbol) {
                comparison = found
                _ = advance()
            } else if isName("in") {
                comparison = .isIn
                _ = advance()
            } else if isName("not"), tokens[index + 1].kind == .name("in") {
                comparison = .notIn
                _ = advance()
                _ = advance()
            } else {
                break
            }
            operations.append((comparison, try parseAdditive()))
        }
        return operations.isEmpty ? left : JinjaExpression(kind: .compare(left, operations), location: location)
    }

    private mutating func parseAdditive() throws(JinjaError) -> JinjaExpression {
        var left = try parseConcatenation()
        while isSymbol("+") || isSymbol("-") {
            let token = advance()
            let operation: JinjaBinaryOperator = token.kind == .symbol("+") ? .add : .subtract
            left = JinjaExpression(kind: .binary(operation, left, try parseConcatenation()), location: token.location)
        }
        return left
    }

    private mutating func parseConcatenation() throws(JinjaError) -> JinjaExpression {
        var left = try parseMultiplicative()
        while isSymbol("~") {
            let location = advance().location
            left = JinjaExpression(kind: .binary(.concatenate, left, try parseMultiplicative()), location: location)
        }
        return left
    }

    private mutating func parseMultiplicative() throws(JinjaError) -> JinjaExpression {
        var left = try parsePower()
        while case let .symbol(symbol) = current.kind, ["*", "/", "//", "%"].contains(symbol) {
            let location = advance().location
            left = JinjaExpression(kind: .binary(JinjaBinaryOperator(rawValue: symbol)!, left, try parsePower()),
                                   location: location)
        }
        return left
    }

    private mutating func parsePower() throws(JinjaError) -> JinjaExpression {
        var left = try parseUnary()
        while isSymbol("**") {
            let location = advance().location
            left = JinjaExpression(kind: .binary(.power, left, try parseUnary()), location: location)
        }
        return left
    }

    private mutating func parseUnary(withFilters: Bool = true) throws(JinjaError) -> JinjaExpression {
        try nest()
        defer { depth -= 1 }
        let location = current.location
        var expression: JinjaExpression
        if skip(symbol: "-") {
            expression = JinjaExpression(kind: .negate(try parseUnary(withFilters: false)), location: location)
        } else if skip(symbol: "+") {
            expression = JinjaExpression(kind: .plus(try parseUnary(withFilters: false)), location: location)
        } else {
            expression = try parsePrimary()
        }
        expression = try parsePostfix(expression)
        return withFilters ? try parseFiltersAndTests(expression) : expression
    }

    private mutating func parsePrimary() throws(JinjaError) -> JinjaExpression {
        let token = advance()
        let location = token.location
        switch token.kind {
        case let .name(name):
            let literal: JinjaValue? = switch name {
            case "true", "True": .bool(true)
            case "false", "False": .bool(false)
            case "none", "None": JinjaValue.none
            default: nil
            }
            return JinjaExpression(kind: literal.map { .literal($0) } ?? .name(name), location: location)
        case var .string(value):
            // Adjacent string literals concatenate, as in Python.
            while case let .string(more) = current.kind {
                value += more
                _ = advance()
            }
            return JinjaExpression(kind: .literal(.string(value)), location: location)
        case let .integer(value):
            return JinjaExpression(kind: .literal(.int(value)), location: location)
        case let .float(value):
            return JinjaExpression(kind: .literal(.double(value)), location: location)
        case .symbol("("):
            if skip(symbol: ")") { return JinjaExpression(kind: .list([]), location: location) }
            let inner = try parseTuple()
            try expect(symbol: ")")
            return inner
        case .symbol("["):
            var items: [JinjaExpression] = []
            while !skip(symbol: "]") {
                if !items.isEmpty { try expect(symbol: ",") }
                if skip(symbol: "]") { break }
                items.append(try parseExpression())
            }
            return JinjaExpression(kind: .list(items), location: location)
        case .symbol("{"):
            var entries: [(key: JinjaExpression, value: JinjaExpression)] = []
            while !skip(symbol: "}") {
                if !entries.isEmpty { try expect(symbol: ",") }
                if skip(symbol: "}") { break }
                let key = try parseExpression()
                try expect(symbol: ":")
                entries.append((key, try parseExpression()))
            }
            return JinjaExpression(kind: .dict(entries), location: location)
        default:
            throw .syntax("expected an expression, found \(describe(token.kind))", location)
        }
    }

    private mutating func parsePostfix(_ base: JinjaExpression) throws(JinjaError) -> JinjaExpression {
        var expression = base
        while true {
            let location = current.location
            if skip(symbol: ".") {
                switch advance().kind {
                case let .name(name):
                    expression = JinjaExpression(kind: .attribute(expression, name), location: location)
                case let .integer(value):
                    let index = JinjaExpression(kind: .literal(.int(value)), location: location)
                    expression = JinjaExpression(kind: .item(expression, index), location: location)
                default:
                    throw .syntax("expected an attribute name after '.'", location)
                }
            } else if skip(symbol: "[") {
                expression = try parseSubscript(of: expression, at: location)
            } else if skip(symbol: "(") {
                expression = JinjaExpression(kind: .call(expression, try parseArguments()), location: location)
            } else {
                return expression
            }
        }
    }

    private mutating func parseSubscript(of base: JinjaExpression, at location: JinjaLocation) throws(JinjaError) -> JinjaExpression {
        var parts: [JinjaExpression?] = [nil]
        var isSlice = false
        while !skip(symbol: "]") {
            if skip(symbol: ":") {
                isSlice = true
                guard parts.count < 3 else { throw .syntax("a slice takes at most three parts", location) }
                parts.append(nil)
            } else {
                guard parts[parts.count - 1] == nil else { throw unexpected(expected: "']'") }
                parts[parts.count - 1] = try parseExpression()
            }
        }
        if isSlice {
            while parts.count < 3 { parts.append(nil) }
            return JinjaExpression(kind: .slice(base, start: parts[0], stop: parts[1], step: parts[2]), location: location)
        }
        guard let index = parts[0] else { throw .syntax("empty subscript", location) }
        return JinjaExpression(kind: .item(base, index), location: location)
    }

    /// Call arguments after the opening parenthesis: positional first, then `name=value`.
    private mutating func parseArguments() throws(JinjaError) -> JinjaArguments {
        var arguments = JinjaArguments()
        while !skip(symbol: ")") {
            if !arguments.positional.isEmpty || !arguments.keywords.isEmpty { try expect(symbol: ",") }
            if skip(symbol: ")") { break }
            if case let .name(name) = current.kind, tokens[index + 1].kind == .symbol("=") {
                _ = advance()
                _ = advance()
                arguments.keywords.append((name, try parseExpression()))
            } else {
                guard arguments.keywords.isEmpty else {
                    throw .syntax("positional argument after keyword argument", current.location)
                }
                arguments.positional.append(try parseExpression())
            }
        }
        return arguments
    }

    private mutating func parseFiltersAndTests(_ base: JinjaExpression) throws(JinjaError) -> JinjaExpression {
        var expression = base
        while true {
            let location = current.location
            if skip(symbol: "|") {
                let name = try expectName()
                guard JinjaFilters.names.contains(name) else { throw .syntax("no filter named '\(name)'", location) }
                let arguments = skip(symbol: "(") ? try parseArguments() : JinjaArguments()
                expression = JinjaExpression(kind: .filter(expression, name: name, arguments), location: location)
            } else if skip(name: "is") {
                let negated = skip(name: "not")
                let name = try expectName()
                guard JinjaPredicates.names.contains(name) else { throw .syntax("no test named '\(name)'", location) }
                var arguments: [JinjaExpression] = []
                if skip(symbol: "(") {
                    arguments = try parseArguments().positional
                } else if startsTestArgument {
                    arguments = [try parsePostfix(try parsePrimary())]
                }
                expression = JinjaExpression(kind: .test(expression, name: name, arguments, negated: negated),
                                             location: location)
            } else {
                return expression
            }
        }
    }

    /// jinja2 lets a test take one argument without parentheses: `x is divisibleby 3`.
    private var startsTestArgument: Bool {
        switch current.kind {
        case let .name(name): !["else", "or", "and", "if", "in", "not", "is"].contains(name)
        case .string, .integer, .float, .symbol("["), .symbol("{"): true
        default: false
        }
    }
}
