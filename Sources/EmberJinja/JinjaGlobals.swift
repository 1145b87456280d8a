// The global functions transformers gives chat templates that need no renderer state: `range`,
// `raise_exception` (a template's way to reject a conversation) and `strftime_now` (today's date,
// which Llama 3.1+ templates print). `namespace` and `dict` live in the interpreter.

enum JinjaGlobals {
    /// jinja2's sandbox refuses larger ranges (`MAX_RANGE`).
    static let maximumRange = 100_000

    static func call(_ function: JinjaFunction, _ positional: [JinjaValue], _ keywords: JinjaObject, now: JinjaDateTime,
                     at location: JinjaLocation) throws(JinjaError) -> JinjaValue {
        let arguments = JinjaCallArguments(function: function.rawValue, positional: positional, keywords: keywords,
                                           location: location)
        switch function {
        case .raiseException:
            throw .raised(arguments.optional(0, "message")?.pythonString ?? "")
        case .strftimeNow:
            return .string(now.formatted(try arguments.string(0, "format")))
        case .range:
            return .array(try range(positional, at: location).map(JinjaValue.int))
        case .namespace, .dict:
            throw .type("\(function.rawValue)() is handled by the renderer", location)
        }
    }

    private static func range(_ arguments: [JinjaValue], at location: JinjaLocation) throws(JinjaError) -> [Int] {
        var bounds: [Int] = []
        for argument in arguments {
            switch argument {
            case let .int(value): bounds.append(value)
            case let .bool(value): bounds.append(value ? 1 : 0)
            default: throw .type("range() needs integers, not \(argument.typeName)", location)
            }
        }
        let (start, stop, step): (Int, Int, Int) = switch bounds.count {
        case 1: (0, bounds[0], 1)
        case 2: (bounds[0], bounds[1], 1)
        case 3: (bounds[0], bounds[1], bounds[2])
        default: throw .type("range expected 1 to 3 arguments, got \(bounds.count)", location)
        }
        guard step != 0 else { throw .type("range() arg 3 must not be zero", location) }
        let count = step > 0
            ? (stop > start ? (stop - start - 1) / step + 1 : 0)
            : (start > stop ? (start - stop - 1) / -step + 1 : 0)
        guard count <= maximumRange else {
            throw .arithmetic("range of \(count) items is larger than the sandbox allows (\(maximumRange))", location)
        }
        return (0..<count).map { start + $0 * step }
    }
}
