// Arithmetic, comparison, membership and slicing with Python's rules: bools count as ints, `/` is
// true division, `//` and `%` floor, `+` joins strings and lists, `*` repeats them, `==` compares 1
// with 1.0, and strings index and slice by Unicode scalar (Python's code points).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif

enum JinjaOperators {
    /// A string or list built by `*` may not exceed this many elements: a template must not exhaust memory.
    static let maximumRepetition = 1 << 24

    private enum Number {
        case int(Int)
        case double(Double)

        var double: Double {
            switch self {
            case let .int(value): Double(value)
            case let .double(value): value
            }
        }
    }

    private static func number(_ value: JinjaValue) -> Number? {
        switch value {
        case let .int(value): .int(value)
        case let .bool(value): .int(value ? 1 : 0)
        case let .double(value): .double(value)
        default: nil
        }
    }

    static func negate(_ value: JinjaValue, at location: JinjaLocation) throws(JinjaError) -> JinjaValue {
        switch number(value) {
        case let .int(int)?:
            guard int != .min else { throw .arithmetic("integer overflow", location) }
            return .int(-int)
        case let .double(double)?: return .double(-double)
        case nil: throw operandError("unary -", value, location)
        }
    }

    static func plus(_ value: JinjaValue, at location: JinjaLocation) throws(JinjaError) -> JinjaValue {
        switch number(value) {
        case let .int(int)?: .int(int)
        case let .double(double)?: .double(double)
        case nil: throw operandError("unary +", value, location)
        }
    }

    private static func operandError(_ operation: String, _ value: JinjaValue, _ location: JinjaLocation) -> JinjaError {
        if case let .undefined(reason) = value { return .undefined(reason, location) }
        return .type("bad operand type for \(operation): '\(value.typeName)'", location)
    }

    static func apply(_ operation: JinjaBinaryOperator, _ left: JinjaValue, _ right: JinjaValue,
                      at location: JinjaLocation) throws(JinjaError) -> JinjaValue {
        if operation == .concatenate { return .string(left.pythonString + right.pythonString) }
        if case let .undefined(reason) = left { throw .undefined(reason, location) }
        if case let .undefined(reason) = right { throw .undefined(reason, location) }
        if let a = number(left), let b = number(right) {
            return try arithmetic(operation, a, b, at: location)
        }
        switch (operation, left, right) {
        case let (.add, .string(a), .string(b)): return .string(a + b)
        case let (.add, .array(a), .array(b)): return .array(a + b)
        case let (.multiply, .string(text), count) where number(count) != nil,
             let (.multiply, count, .string(text)) where number(count) != nil:
            guard case let .int(times)? = number(count) else { break }
            try checkRepetition(text.unicodeScalars.count, times, at: location)
            return .string(String(repeating: text, count: max(0, times)))
        case let (.multiply, .array(items), count) where number(count) != nil,
             let (.multiply, count, .array(items)) where number(count) != nil:
            guard case let .int(times)? = number(count) else { break }
            try checkRepetition(items.count, times, at: location)
            return .array(Array([[JinjaValue]](repeating: items, count: max(0, times)).joined()))
        default: break
        }
        if operation == .add, case .string = left {
            throw .type("can only concatenate str (not \"\(right.typeName)\") to str", location)
        }
        throw .type("unsupported operand type(s) for \(operation.rawValue): '\(left.typeName)' and '\(right.typeName)'",
                    location)
    }

    private static func checkRepetition(_ count: Int, _ times: Int, at location: JinjaLocation) throws(JinjaError) {
        let (total, overflow) = count.multipliedReportingOverflow(by: max(0, times))
        if overflow || total > maximumRepetition {
            throw .arithmetic("repetition would build more than \(maximumRepetition) elements", location)
        }
    }

    private static func arithmetic(_ operation: JinjaBinaryOperator, _ a: Number, _ b: Number,
                                   at location: JinjaLocation) throws(JinjaError) -> JinjaValue {
        if case let .int(x) = a, case let .int(y) = b {
            func checked(_ result: (partialValue: Int, overflow: Bool)) throws(JinjaError) -> JinjaValue {
                if result.overflow { throw .arithmetic("integer overflow in \(operation.rawValue)", location) }
                return .int(result.partialValue)
            }
            switch operation {
            case .add: return try checked(x.addingReportingOverflow(y))
            case .subtract: return try checked(x.subtractingReportingOverflow(y))
            case .multiply: return try checked(x.multipliedReportingOverflow(by: y))
            case .divide:
                guard y != 0 else { throw .arithmetic("division by zero", location) }
                return .double(Double(x) / Double(y))
            case .floorDivide, .modulo:
                guard y != 0 else { throw .arithmetic("integer division or modulo by zero", location) }
                guard !(x == .min && y == -1) else { throw .arithmetic("integer overflow", location) }
                var quotient = x / y
                var remainder = x % y
                if remainder != 0, (remainder < 0) != (y < 0) {
                    quotient -= 1
                    remainder += y
                }
                return .int(operation == .floorDivide ? quotient : remainder)
            case .power:
                if y < 0 { return .double(pow(Double(x), Double(y))) }
                var result = 1
                var base = x
                var exponent = y
                while exponent > 0 {
                    if exponent & 1 == 1 { result = try checked(result.multipliedReportingOverflow(by: base)).intValue }
                    exponent >>= 1
                    if exponent > 0 { base = try checked(base.multipliedReportingOverflow(by: base)).intValue }
                }
                return .int(result)
            case .concatenate:
                break
            }
        }
        let x = a.double
        let y = b.double
        switch operation {
        case .add: return .double(x + y)
        case .subtract: return .double(x - y)
        case .multiply: return .double(x * y)
        case .divide:
            guard y != 0 else { throw .arithmetic("float division by zero", location) }
            return .double(x / y)
        case .floorDivide:
            guard y != 0 else { throw .arithmetic("float floor division by zero", location) }
            return .double((x / y).rounded(.down))
        case .modulo:
            guard y != 0 else { throw .arithmetic("float modulo by zero", location) }
            let remainder = x.truncatingRemainder(dividingBy: y)
            return .double(remainder != 0 && (remainder < 0) != (y < 0) ? remainder + y : remainder)
        case .power: return .double(pow(x, y))
        case .concatenate: return .string(JinjaValue.double(x).pythonString + JinjaValue.double(y).pythonString)
        }
    }

    // MARK: Comparison

    static func compare(_ comparison: JinjaComparison, _ left: JinjaValue, _ right: JinjaValue,
                        at location: JinjaLocation) throws(JinjaError) -> Bool {
        switch comparison {
        case .equal: return equals(left, right)
        case .notEqual: return !equals(left, right)
        case .isIn: return try contains(right, left, at: location)
        case .notIn: return try !contains(right, left, at: location)
        case .less: return try order(left, right, comparison, at: location) < 0
        case .lessOrEqual: return try order(left, right, comparison, at: location) <= 0
        case .greater: return try order(left, right, comparison, at: location) > 0
        case .greaterOrEqual: return try order(left, right, comparison, at: location) >= 0
        }
    }

    /// Python's `==`: numbers across int, float and bool; strings by code point, not Swift's
    /// canonical equivalence; Undefined equals only Undefined.
    static func equals(_ left: JinjaValue, _ right: JinjaValue) -> Bool {
        if let a = number(left), let b = number(right) {
            if case let .int(x) = a, case let .int(y) = b { return x == y }
            return a.double == b.double
        }
        switch (left, right) {
        case (.undefined, .undefined), (.none, .none): return true
        case let (.string(a), .string(b)): return a.unicodeScalars.elementsEqual(b.unicodeScalars)
        case let (.array(a), .array(b)): return a.count == b.count && zip(a, b).allSatisfy { equals($0, $1) }
        case let (.object(a), .object(b)):
            return a.count == b.count && a.pairs.allSatisfy { pair in b[pair.key].map { equals(pair.value, $0) } ?? false }
        case let (.namespace(a), .namespace(b)): return a == b
        case let (.macro(a), .macro(b)): return a == b
        case let (.function(a), .function(b)): return a == b
        default: return false
        }
    }

    /// Python's ordering: numbers, strings by code point, lists item by item; other pairs are a type error.
    static func order(_ left: JinjaValue, _ right: JinjaValue, _ comparison: JinjaComparison,
                      at location: JinjaLocation) throws(JinjaError) -> Int {
        if let a = number(left), let b = number(right) {
            if case let .int(x) = a, case let .int(y) = b { return x < y ? -1 : x > y ? 1 : 0 }
            let x = a.double
            let y = b.double
            return x < y ? -1 : x > y ? 1 : 0
        }
        switch (left, right) {
        case let (.string(a), .string(b)):
            for (x, y) in zip(a.unicodeScalars, b.unicodeScalars) where x != y { return x.value < y.value ? -1 : 1 }
            let (m, n) = (a.unicodeScalars.count, b.unicodeScalars.count)
            return m < n ? -1 : m > n ? 1 : 0
        case let (.array(a), .array(b)):
            for (x, y) in zip(a, b) where !equals(x, y) { return try order(x, y, comparison, at: location) }
            return a.count < b.count ? -1 : a.count > b.count ? 1 : 0
        default:
            throw .type("'\(comparison.rawValue)' not supported between instances of '\(left.typeName)' and "
                + "'\(right.typeName)'", location)
        }
    }

    /// Python's `needle in container`.
    static func contains(_ container: JinjaValue, _ needle: JinjaValue, at location: JinjaLocation) throws(JinjaError) -> Bool {
        switch container {
        case .undefined: return false
        case let .string(text):
            guard case let .string(part) = needle else {
                throw .type("'in <string>' requires string as left operand, not \(needle.typeName)", location)
            }
            return Array(text.unicodeScalars).containsSubsequence(Array(part.unicodeScalars))
        case let .array(items): return items.contains { equals($0, needle) }
        case let .object(object):
            guard case let .string(key) = needle else { return false }
            return object[key] != nil
        default:
            throw .type("argument of type '\(container.typeName)' is not iterable", location)
        }
    }

    // MARK: Slicing

    static func slice(_ value: JinjaValue, start: JinjaValue?, stop: JinjaValue?, step: JinjaValue?,
                      at location: JinjaLocation) throws(JinjaError) -> JinjaValue {
        func bound(_ value: JinjaValue?) throws(JinjaError) -> Int? {
            switch value {
            case nil, .none?, .undefined?: return nil
            case let .int(int)?: return int
            case let .bool(bool)?: return bool ? 1 : 0
            case let other?: throw .type("slice indices must be integers or None, not \(other.typeName)", location)
            }
        }
        let step = try bound(step) ?? 1
        guard step != 0 else { throw .type("slice step cannot be zero", location) }
        switch value {
        case let .array(items):
            return .array(sliceIndices(items.count, try bound(start), try bound(stop), step).map { items[$0] })
        case let .string(text):
            let scalars = Array(text.unicodeScalars)
            var result = String()
            for index in sliceIndices(scalars.count, try bound(start), try bound(stop), step) {
                result.unicodeScalars.append(scalars[index])
            }
            return .string(result)
        case let .undefined(reason):
            throw .undefined(reason, location)
        default:
            throw .type("'\(value.typeName)' object is not subscriptable", location)
        }
    }

    /// The indices Python's `slice(start, stop, step).indices(count)` visits.
    static func sliceIndices(_ count: Int, _ start: Int?, _ stop: Int?, _ step: Int) -> [Int] {
        func clamp(_ value: Int, low: Int, high: Int) -> Int {
            let resolved = value < 0 ? value + count : value
            return min(max(resolved, low), high)
        }
        var indices: [Int] = []
        if step > 0 {
            var index = start.map { clamp($0, low: 0, high: count) } ?? 0
            let end = stop.map { clamp($0, low: 0, high: count) } ?? count
            while index < end {
                indices.append(index)
                index += step
            }
        } else {
            var index = start.map { clamp($0, low: -1, high: count - 1) } ?? count - 1
            let end = stop.map { clamp($0, low: -1, high: count - 1) } ?? -1
            while index > end {
                indices.append(index)
                index += step
            }
        }
        return indices
    }
}

private extension JinjaValue {
    var intValue: Int {
        if case let .int(value) = self { return value }
        return 0
    }
}

extension Array where Element: Equatable {
    func containsSubsequence(_ part: [Element]) -> Bool {
        guard !part.isEmpty else { return true }
        guard part.count <= count else { return false }
        for start in 0...(count - part.count) where self[start..<(start + part.count)].elementsEqual(part) {
            return true
        }
        return false
    }

    func firstIndex(ofSubsequence part: [Element], from start: Int = 0) -> Int? {
        guard !part.isEmpty else { return start <= count ? start : nil }
        guard part.count <= count, start <= count - part.count else { return nil }
        for index in start...(count - part.count) where self[index..<(index + part.count)].elementsEqual(part) {
            return index
        }
        return nil
    }
}
