// Rotary position embeddings on the CPU: value pairs of each head, (2i, 2i+1) in llama's "normal"
// mode or (i, i + dims/2) in NeoX's, turn by angle position * scale * base^(-2i/dims) / factor_i. The cosines and sines of each position
// are computed once and kept in a table that grows with the longest context seen, so the 30 layers of
// a step (and every later step) only look them up; attention applies them to Q and K as it reads
// them. The angle recurrence (multiplying by base^(-2/dims) per pair, in Float) is ggml's.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Cosines and sines per position, `pairs` of each, for one set of rope parameters (the CPU's, and the
/// GPU backend's, which uploads them).
public final class RopeTable {
    public let parameters: RopeParameters
    private var values: [Float] = []  // (position, pair, cos|sin)
    public private(set) var positions = 0

    public init(_ parameters: RopeParameters) {
        self.parameters = parameters
    }

    /// Extends the table to cover positions up to `last`.
    public func prepare(through last: Int) {
        let rope = parameters
        guard last >= positions else { return }
        let pairs = rope.dimensions / 2
        let count = max(last + 1, 2 * positions, 256)
        values.reserveCapacity(count * pairs * 2)
        let thetaScale = powf(rope.base, -2 / Float(rope.dimensions))
        for position in positions ..< count {
            var thetaBase = Float(position)
            for pair in 0 ..< pairs {
                let theta = rope.frequencyScale * (thetaBase / (rope.frequencyFactors?[pair] ?? 1))
                values.append(cosf(theta) * rope.magnitude)
                values.append(sinf(theta) * rope.magnitude)
                thetaBase *= thetaScale
            }
        }
        positions = count
    }

    /// The table's values, per position and pair a cosine and a sine.
    public func withValues<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try values.withUnsafeBufferPointer(body)
    }

    /// Rotates the first `dimensions` values of each of `heads` heads at `x` to `position`.
    func rotate(_ x: UnsafeMutablePointer<Float>, heads: Int, headDimension: Int, position: Int) {
        let pairs = parameters.dimensions / 2
        // Where the second value of pair i is, relative to the first, and where pair i starts.
        let (partner, step) = parameters.pairing == .adjacent ? (1, 2) : (pairs, 1)
        precondition(position < positions)
        values.withUnsafeBufferPointer { table in
            let angles = table.baseAddress! + position * pairs * 2
            for head in 0 ..< heads {
                let v = x + head * headDimension
                for pair in 0 ..< pairs {
                    let first = step * pair
                    let a = v[first], b = v[first + partner], c = angles[2 * pair], s = angles[2 * pair + 1]
                    v[first] = a * c - b * s
                    v[first + partner] = a * s + b * c
                }
            }
        }
    }
}

extension CPUBackend {
    /// The table of `rope`, covering positions up to `last`.
    func ropeTable(_ rope: RopeParameters, through last: Int) -> RopeTable {
        let table: RopeTable
        if let known = ropeTables.first(where: { $0.parameters == rope }) {
            table = known
        } else {
            table = RopeTable(rope)
            ropeTables.append(table)
        }
        table.prepare(through: last)
        return table
    }
}
