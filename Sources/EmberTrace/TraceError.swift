// Errors of the trace tools. Recording itself never throws into the engine: only starting a recorder
// (the fragment cannot be created) and merging or summarising files can fail.

public enum TraceError: Error, Equatable, CustomStringConvertible {
    case cannotCreate(path: String, reason: String)
    case cannotRead(path: String, reason: String)
    case cannotWrite(path: String, reason: String)
    case noFragments(path: String)
    case malformed(path: String, reason: String)
    case invalidLevel(String)
    case compiledOut

    public var description: String {
        switch self {
        case let .cannotCreate(path, reason): "cannot create the trace fragment \(path): \(reason)"
        case let .cannotRead(path, reason): "cannot read \(path): \(reason)"
        case let .cannotWrite(path, reason): "cannot write \(path): \(reason)"
        case let .noFragments(path): "\(path) holds no trace fragments (*.jsonl)"
        case let .malformed(path, reason): "\(path) is not a trace-event file: \(reason)"
        case let .invalidLevel(name): "trace level \"\(name)\" is not one of phase, layer, op"
        case .compiledOut: "this ember was built with EMBER_NO_TRACE=1, without tracing"
        }
    }
}
