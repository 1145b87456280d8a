// The syntax tree of a parsed template: statements (text, output, if, for, set, macro) and the
// expressions inside them. Every node keeps its source location for runtime error messages.

struct JinjaExpression: Sendable {
    indirect enum Kind: Sendable {
        case literal(JinjaValue)
        case name(String)
        /// A list or tuple display.
        case list([JinjaExpression])
        case dict([(key: JinjaExpression, value: JinjaExpression)])
        case not(JinjaExpression)
        case negate(JinjaExpression)
        case plus(JinjaExpression)
        case binary(JinjaBinaryOperator, JinjaExpression, JinjaExpression)
        case and(JinjaExpression, JinjaExpression)
        case or(JinjaExpression, JinjaExpression)
        /// `a < b <= c`: Python chains comparisons.
        case compare(JinjaExpression, [(JinjaComparison, JinjaExpression)])
        case attribute(JinjaExpression, String)
        case item(JinjaExpression, JinjaExpression)
        case slice(JinjaExpression, start: JinjaExpression?, stop: JinjaExpression?, step: JinjaExpression?)
        case call(JinjaExpression, JinjaArguments)
        case filter(JinjaExpression, name: String, JinjaArguments)
        case test(JinjaExpression, name: String, [JinjaExpression], negated: Bool)
        /// `a if condition else b`; without `else` the result is undefined when the condition fails.
        case conditional(condition: JinjaExpression, then: JinjaExpression, otherwise: JinjaExpression?)
    }

    let kind: Kind
    let location: JinjaLocation
}

struct JinjaArguments: Sendable {
    var positional: [JinjaExpression] = []
    var keywords: [(name: String, value: JinjaExpression)] = []
}

enum JinjaBinaryOperator: String, Sendable {
    case add = "+", subtract = "-", multiply = "*", divide = "/", floorDivide = "//", modulo = "%"
    case power = "**", concatenate = "~"
}

enum JinjaComparison: String, Sendable {
    case equal = "==", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    case isIn = "in", notIn = "not in"
}

indirect enum JinjaNode: Sendable {
    case text(String)
    case output(JinjaExpression)
    case conditional(branches: [(condition: JinjaExpression, body: [JinjaNode])], otherwise: [JinjaNode])
    case loop(JinjaForLoop)
    case assign(JinjaAssignTarget, JinjaExpression, JinjaLocation)
    /// `{% set name %}...{% endset %}`: the rendered body becomes a string.
    case assignBlock(String, [JinjaNode])
    case macro(JinjaMacroDefinition)
    case breakLoop(JinjaLocation)
    case continueLoop(JinjaLocation)
}

struct JinjaForLoop: Sendable {
    let targets: [String]
    let iterable: JinjaExpression
    let filter: JinjaExpression?
    let body: [JinjaNode]
    let otherwise: [JinjaNode]
    let location: JinjaLocation
}

enum JinjaAssignTarget: Sendable {
    case names([String])
    /// `{% set ns.attribute = ... %}`, allowed on namespaces only.
    case attribute(String, String)
}

public struct JinjaMacroDefinition: Sendable, Equatable {
    let id: Int
    let name: String
    let parameters: [(name: String, defaultValue: JinjaExpression?)]
    let body: [JinjaNode]

    /// Macros are equal when they are the same definition of the same template.
    public static func == (lhs: JinjaMacroDefinition, rhs: JinjaMacroDefinition) -> Bool {
        lhs.id == rhs.id && lhs.name == rhs.name
    }
}
