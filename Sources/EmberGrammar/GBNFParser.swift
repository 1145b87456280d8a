// Reads llama.cpp's GBNF into a Grammar: `name ::= alternatives` rules (one named `root`), literals
// in double quotes, character classes in brackets (`[a-z]`, `[^"\\]`), `.` for any character, groups
// in parentheses, the repetitions `*`, `+`, `?`, `{m}`, `{m,}`, `{m,n}`, and `#` comments. A rule
// runs until the next `name ::=`, so alternatives may continue on following lines. Groups and
// repetitions become rules of their own: `x*` is `r ::= x r |`, `x{0,n}` a chain of n optional ones.

public enum GBNFParser {
    public static func parse(_ text: String) throws(GrammarError) -> Grammar {
        var reader = Reader(Array(text.unicodeScalars))
        var rules: [(name: String, alternatives: [[Node]])] = []
        reader.skipSpace()
        while !reader.atEnd {
            let line = reader.line
            guard let name = reader.identifier() else { throw .syntax("expected a rule name", line: line) }
            reader.skipSpace()
            guard reader.consume("::=") else { throw .syntax("expected '::=' after '\(name)'", line: reader.line) }
            let alternatives = try reader.alternatives(nested: false)
            if let index = rules.firstIndex(where: { $0.name == name }) {
                rules[index].alternatives += alternatives
            } else {
                rules.append((name, alternatives))
            }
        }
        var lowering = Lowering(rules: rules)
        return try lowering.grammar()
    }

    /// A parsed item before lowering.
    indirect enum Node {
        case characters(CodePointSet)
        case rule(String)
        case group([[Node]])
        case repeated(Node, min: Int, max: Int?)
    }

    struct Reader {
        let text: [Unicode.Scalar]
        var at = 0
        var line = 1

        init(_ text: [Unicode.Scalar]) { self.text = text }

        var atEnd: Bool { at >= text.count }
        var current: Unicode.Scalar? { at < text.count ? text[at] : nil }

        mutating func advance() {
            if text[at] == "\n" { line += 1 }
            at += 1
        }

        /// Skips spaces, newlines and comments.
        mutating func skipSpace() {
            while let c = current {
                if c == "#" {
                    while current != nil && current != "\n" { advance() }
                } else if c == " " || c == "\t" || c == "\n" || c == "\r" {
                    advance()
                } else {
                    return
                }
            }
        }

        mutating func consume(_ literal: String) -> Bool {
            let scalars = Array(literal.unicodeScalars)
            guard at + scalars.count <= text.count, Array(text[at ..< at + scalars.count]) == scalars else { return false }
            for _ in scalars { advance() }
            return true
        }

        static func isNameCharacter(_ c: Unicode.Scalar) -> Bool {
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "-" || c == "_"
        }

        mutating func identifier() -> String? {
            var name = ""
            while let c = current, Self.isNameCharacter(c) {
                name.unicodeScalars.append(c)
                advance()
            }
            return name.isEmpty ? nil : name
        }

        /// Whether the next thing is `name ::=`: the start of the next rule.
        func atRuleStart() -> Bool {
            var probe = self
            guard probe.identifier() != nil else { return false }
            probe.skipSpace()
            return probe.consume("::=")
        }

        mutating func alternatives(nested: Bool) throws(GrammarError) -> [[Node]] {
            var alternatives: [[Node]] = [try sequence(nested: nested)]
            while current == "|" {
                advance()
                alternatives.append(try sequence(nested: nested))
            }
            return alternatives
        }

        mutating func sequence(nested: Bool) throws(GrammarError) -> [Node] {
            var items: [Node] = []
            while true {
                skipSpace()
                guard let c = current, c != "|", !(nested && c == ")"), !atRuleStart() else { return items }
                var item: Node
                switch c {
                case "\"":
                    advance()
                    var scalars: [UInt32] = []
                    while current != "\"" {
                        guard !atEnd else { throw .syntax("unterminated string", line: line) }
                        scalars.append(try character())
                    }
                    advance()
                    // A literal is a sequence of single characters (a group, so that a repetition
                    // applies to all of it); an empty one matches the empty string.
                    let characters = scalars.map { Node.characters(CodePointSet([$0 ... $0])) }
                    item = characters.count == 1 ? characters[0] : .group([characters])
                case "[":
                    item = .characters(try characterClass())
                case ".":
                    advance()
                    item = .characters(CodePointSet([], negated: true))
                case "(":
                    advance()
                    let inner = try alternatives(nested: true)
                    skipSpace()
                    guard current == ")" else { throw .syntax("expected ')'", line: line) }
                    advance()
                    item = .group(inner)
                default:
                    guard let name = identifier() else { throw .syntax("unexpected '\(c)'", line: line) }
                    item = .rule(name)
                }
                item = try repetitions(of: item)
                items.append(item)
            }
        }

        /// Any `*`, `+`, `?` or `{m,n}` right after an item.
        mutating func repetitions(of item: Node) throws(GrammarError) -> Node {
            var item = item
            while let c = current {
                switch c {
                case "*": item = .repeated(item, min: 0, max: nil)
                case "+": item = .repeated(item, min: 1, max: nil)
                case "?": item = .repeated(item, min: 0, max: 1)
                case "{":
                    advance()
                    skipSpace()
                    guard let low = number() else { throw .syntax("expected a count after '{'", line: line) }
                    skipSpace()
                    var high: Int? = low
                    if current == "," {
                        advance()
                        skipSpace()
                        high = number()
                        skipSpace()
                    }
                    guard current == "}" else { throw .syntax("expected '}'", line: line) }
                    if let high, high < low { throw .syntax("{\(low),\(high)}: the most is less than the least", line: line) }
                    item = .repeated(item, min: low, max: high)
                default: return item
                }
                advance()
            }
            return item
        }

        mutating func number() -> Int? {
            var value: Int?
            while let c = current, c >= "0" && c <= "9" {
                value = (value ?? 0) * 10 + Int(c.value - 48)
                advance()
            }
            return value
        }

        mutating func characterClass() throws(GrammarError) -> CodePointSet {
            advance()  // [
            var negated = false
            if current == "^" {
                negated = true
                advance()
            }
            var ranges: [ClosedRange<UInt32>] = []
            while current != "]" {
                guard !atEnd else { throw .syntax("unterminated character class", line: line) }
                let low = try character()
                if current == "-", at + 1 < text.count, text[at + 1] != "]" {
                    advance()
                    let high = try character()
                    guard high >= low else { throw .syntax("a range that ends before it starts", line: line) }
                    ranges.append(low ... high)
                } else {
                    ranges.append(low ... low)
                }
            }
            advance()
            return CodePointSet(ranges, negated: negated)
        }

        /// One character of a literal or class, escapes decoded.
        mutating func character() throws(GrammarError) -> UInt32 {
            let c = current!
            advance()
            guard c == "\\" else { return c.value }
            guard let escaped = current else { throw .syntax("unterminated escape", line: line) }
            advance()
            switch escaped {
            case "n": return 10
            case "r": return 13
            case "t": return 9
            case "x": return try hexadecimal(2)
            case "u": return try hexadecimal(4)
            case "U": return try hexadecimal(8)
            default: return escaped.value
            }
        }

        mutating func hexadecimal(_ digits: Int) throws(GrammarError) -> UInt32 {
            var value: UInt32 = 0
            for _ in 0 ..< digits {
                let digit: UInt32? = switch current {
                case let c? where c >= "0" && c <= "9": c.value - 48
                case let c? where c >= "a" && c <= "f": c.value - 87
                case let c? where c >= "A" && c <= "F": c.value - 55
                default: nil
                }
                guard let digit else { throw .syntax("expected \(digits) hexadecimal digits", line: line) }
                value = value * 16 + digit
                advance()
            }
            return value
        }
    }

    /// Turns the parsed rules into the flat elements of a Grammar, making rules for groups and
    /// repetitions.
    struct Lowering {
        let parsed: [(name: String, alternatives: [[Node]])]
        var indices: [String: Int] = [:]
        var names: [String] = []
        /// Per rule, its alternatives as elements (without the ends).
        var bodies: [[[Grammar.Element]]] = []

        init(rules: [(name: String, alternatives: [[Node]])]) {
            parsed = rules
            for rule in rules {
                indices[rule.name] = names.count
                names.append(rule.name)
                bodies.append([])
            }
        }

        mutating func grammar() throws(GrammarError) -> Grammar {
            guard let root = indices["root"] else { throw .noRoot }
            for (index, rule) in parsed.enumerated() {
                var alternatives: [[Grammar.Element]] = []
                for alternative in rule.alternatives { alternatives.append(try lower(alternative, in: rule.name)) }
                bodies[index] = alternatives
            }
            // Every alternative laid out after the one before, with its end.
            var elements: [Grammar.Element] = []
            var starts: [[Int]] = []
            for body in bodies {
                var rule: [Int] = []
                for alternative in body {
                    rule.append(elements.count)
                    elements += alternative + [.end]
                }
                starts.append(rule)
            }
            let grammar = Grammar(elements: elements, alternatives: starts, names: names, root: root)
            try Self.checkLeftRecursion(grammar)
            return grammar
        }

        mutating func lower(_ sequence: [Node], in rule: String) throws(GrammarError) -> [Grammar.Element] {
            var elements: [Grammar.Element] = []
            for node in sequence { elements += try lower(node, in: rule) }
            return elements
        }

        mutating func lower(_ node: Node, in rule: String) throws(GrammarError) -> [Grammar.Element] {
            switch node {
            case let .characters(set): return [.characters(set)]
            case let .rule(name):
                guard let index = indices[name] else { throw .undefinedRule(name) }
                return [.rule(index)]
            case let .group(alternatives):
                var lowered: [[Grammar.Element]] = []
                for alternative in alternatives { lowered.append(try lower(alternative, in: rule)) }
                return [.rule(add(lowered, for: rule))]
            case let .repeated(inner, minimum, maximum):
                let item = try lower(inner, in: rule)
                var elements: [Grammar.Element] = []
                for _ in 0 ..< minimum { elements += item }
                if let maximum {
                    // x{0,k}: o_k ::= x o_(k-1) |, o_1 ::= x |.
                    var optional: Int?
                    for _ in 0 ..< maximum - minimum {
                        optional = add([item + (optional.map { [.rule($0)] } ?? []), []], for: rule)
                    }
                    if let optional { elements.append(.rule(optional)) }
                } else {
                    // x*: s ::= x s |.
                    let star = add([], for: rule)
                    bodies[star] = [item + [.rule(star)], []]
                    elements.append(.rule(star))
                }
                return elements
            }
        }

        /// A new rule serving `rule`, with these alternatives.
        mutating func add(_ alternatives: [[Grammar.Element]], for rule: String) -> Int {
            names.append("\(rule)-\(names.count)")
            bodies.append(alternatives)
            return names.count - 1
        }

        /// Throws when some rule can reach itself at its start without reading a character: a matcher
        /// would expand it forever.
        static func checkLeftRecursion(_ grammar: Grammar) throws(GrammarError) {
            // Rules that can match the empty string.
            var nullable = [Bool](repeating: false, count: grammar.alternatives.count)
            var changed = true
            while changed {
                changed = false
                for (rule, starts) in grammar.alternatives.enumerated() where !nullable[rule] {
                    for start in starts {
                        var at = start, empty = true
                        while grammar.elements[at] != .end {
                            if case let .rule(other) = grammar.elements[at], nullable[other] { at += 1; continue }
                            empty = false
                            break
                        }
                        if empty {
                            nullable[rule] = true
                            changed = true
                            break
                        }
                    }
                }
            }
            // Rules each rule can start with.
            let firsts = grammar.alternatives.map { starts -> [Int] in
                var reached: [Int] = []
                for start in starts {
                    var at = start
                    while case let .rule(other) = grammar.elements[at] {
                        reached.append(other)
                        guard nullable[other] else { break }
                        at += 1
                    }
                }
                return reached
            }
            for rule in grammar.alternatives.indices {
                var seen = Set<Int>(), pending = firsts[rule]
                while let next = pending.popLast() {
                    if next == rule { throw .leftRecursion(grammar.names[rule]) }
                    if seen.insert(next).inserted { pending += firsts[next] }
                }
            }
        }
    }
}
