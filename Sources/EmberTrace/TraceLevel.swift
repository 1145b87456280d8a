// How much a trace records. Each level includes the ones below it: `phase` spans the steps of a run
// (load, tokenize, prefill, each decode step, sample, detokenize), `layer` adds one span per
// transformer layer, `op` adds every backend operation with its shapes and tensor types.

public enum TraceLevel: Int, Comparable, Sendable, CaseIterable {
    case off = 0, phase, layer, op

    /// The level named `name` (`phase`, `layer`, `op` or `off`), or nil.
    public init?(name: String) {
        guard let level = Self.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
        self = level
    }

    public var name: String {
        switch self {
        case .off: "off"
        case .phase: "phase"
        case .layer: "layer"
        case .op: "op"
        }
    }

    @inlinable
    public static func < (a: TraceLevel, b: TraceLevel) -> Bool { a.rawValue < b.rawValue }
}
