// The key/value cache of one sequence: per layer, keys and values for `capacity` positions of every KV
// head, in F16 (the default, as llama.cpp) or F32, laid out as the backend's attention wants them.
// `length` is how many positions hold data; a forward pass appends its tokens at `length`.

import EmberCompute
import EmberFormats

public final class KVCache: @unchecked Sendable {
    /// Positions the cache can hold (the context size, `-c`).
    public let capacity: Int
    /// Positions filled so far.
    public internal(set) var length = 0
    /// Element type of keys and values.
    public let type: CacheType
    /// Per layer: capacity x (kv heads * head dim) elements.
    let keys: [Tensor]
    /// Per layer: capacity x (kv heads * head dim) elements.
    let values: [Tensor]

    init(backend: Backend, layers: Int, capacity: Int, width: Int, type: CacheType) {
        self.capacity = capacity
        self.type = type
        keys = (0 ..< layers).map { backend.makeTensor(name: "cache_k.\($0)", type: type.tensorType, rows: capacity, columns: width) }
        values = (0 ..< layers).map { backend.makeTensor(name: "cache_v.\($0)", type: type.tensorType, rows: capacity, columns: width) }
    }

    /// Forgets every position (the memory is kept for the next sequence).
    public func reset() { length = 0 }

    /// Keeps the first `count` positions and forgets the rest: a conversation that goes on from a
    /// shared prefix overwrites only what follows it.
    public func truncate(to count: Int) { length = min(length, max(count, 0)) }

    /// Bytes the cache occupies.
    public var byteCount: Int { (keys + values).reduce(0) { $0 + $1.byteCount } }
}

/// What the KV cache stores: F16 halves its memory; F32 keeps keys and values exact.
public enum CacheType: String, Sendable, CaseIterable {
    case f16, f32

    var tensorType: TensorType {
        switch self {
        case .f16: .f16
        case .f32: .f32
        }
    }

    public var elementBytes: Int {
        switch self {
        case .f16: 2
        case .f32: 4
        }
    }
}
