// The key/value cache of one sequence: per layer, one F16 row of keys and one of values per position.
// `length` is how many positions hold data; a forward pass appends its tokens at `length`.

import EmberCompute

public final class KVCache: @unchecked Sendable {
    /// Positions the cache can hold (the context size, `-c`).
    public let capacity: Int
    /// Positions filled so far.
    public internal(set) var length = 0
    /// Per layer: (capacity, kv heads * head dim) F16.
    let keys: [Tensor]
    /// Per layer: (capacity, kv heads * head dim) F16.
    let values: [Tensor]

    init(backend: Backend, layers: Int, capacity: Int, width: Int) {
        self.capacity = capacity
        keys = (0 ..< layers).map { backend.makeTensor(name: "cache_k.\($0)", type: .f16, rows: capacity, columns: width) }
        values = (0 ..< layers).map { backend.makeTensor(name: "cache_v.\($0)", type: .f16, rows: capacity, columns: width) }
    }

    /// Forgets every position (the memory is kept for the next sequence).
    public func reset() { length = 0 }

    /// Bytes the cache occupies.
    public var byteCount: Int { (keys + values).reduce(0) { $0 + $1.byteCount } }
}
