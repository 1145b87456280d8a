// The key/value cache of one sequence: per layer, keys and values for `capacity` positions of every KV
// head, in F16 (the default, as llama.cpp), F32 or Q8_0, laid out as the backend's attention wants them.
// A sliding-window layer (Gemma 3's local layers) keeps only a ring of its window plus one batch of
// new rows, so a long context costs what the global layers need. `length` is how many positions hold
// data; a forward pass appends its tokens at `length`.

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

    /// Most positions one forward pass may add (a ring is sized for them).
    public let batchRows: Int
    let backend: Backend
    /// How far back `truncate` can go: a ring has overwritten what lies further back.
    private let rewindLimit: Int

    /// A cache of `capacity` positions per layer; a layer with a sliding window (`windows[layer]`) keeps
    /// only a ring of that window plus `batchRows` - 1 positions (the most new rows of one forward pass).
    init(backend: Backend, capacity: Int, windows: [Int?], batchRows: Int, width: Int, type: CacheType) {
        self.capacity = capacity
        self.type = type
        self.batchRows = batchRows
        self.backend = backend
        let rows = Self.layerRows(capacity: capacity, windows: windows, batchRows: batchRows)
        keys = rows.enumerated().map { backend.makeTensor(name: "cache_k.\($0)", type: type.tensorType, rows: $1, columns: width) }
        values = rows.enumerated().map { backend.makeTensor(name: "cache_v.\($0)", type: type.tensorType, rows: $1, columns: width) }
        // Going back to position p needs the window before p, which a ring of R rows holding positions
        // up to `length` still has while length - p <= R - window + 1.
        rewindLimit = zip(rows, windows).map { rows, window in
            guard let window, rows < capacity else { return Int.max }
            return rows - window + 1
        }.min() ?? Int.max
    }

    /// Rows each layer's keys (and values) take.
    static func layerRows(capacity: Int, windows: [Int?], batchRows: Int) -> [Int] {
        windows.map { window in window.map { min(capacity, $0 + batchRows - 1) } ?? capacity }
    }

    /// Bytes of a cache of `capacity` positions, saturating at Int.max.
    static func bytes(capacity: Int, windows: [Int?], batchRows: Int, width: Int, type: CacheType) -> Int {
        var total = 0
        for rows in layerRows(capacity: capacity, windows: windows, batchRows: batchRows) {
            let (layer, overflow) = rows.multipliedReportingOverflow(by: 2 * type.bytes(elements: width))
            let (sum, overflowSum) = total.addingReportingOverflow(layer)
            if overflow || overflowSum { return .max }
            total = sum
        }
        return total
    }

    /// Forgets every position (the memory is kept for the next sequence).
    public func reset() { length = 0 }

    /// Keeps the first `count` positions and forgets the rest: a conversation that goes on from a
    /// shared prefix overwrites only what follows it. Returns the positions kept: `count`, or 0 when a
    /// ring no longer holds the window before `count`.
    @discardableResult
    public func truncate(to count: Int) -> Int {
        let kept = min(length, max(count, 0))
        length = length - kept <= rewindLimit ? kept : 0
        return length
    }

    /// Bytes the cache occupies.
    public var byteCount: Int { (keys + values).reduce(0) { $0 + $1.byteCount } }

    /// The positions held so far, copied to host memory. Each layer's tensors are copied whole: how a
    /// backend lays positions out in them is its own (the CPU keeps each head's positions together).
    public func snapshot() throws(BackendError) -> KVSnapshot {
        var layers: [[UInt8]] = []
        for tensor in keys + values {
            let rows = tensor.rowCount
            var bytes = [UInt8](repeating: 0, count: rows * tensor.rowBytes)
            try bytes.withUnsafeMutableBytes { buffer in
                Result { () throws(BackendError) in if rows > 0 { try backend.readRows(tensor, 0 ..< rows, into: buffer.baseAddress!) } }
            }.get()
            layers.append(bytes)
        }
        return KVSnapshot(length: length, layers: layers)
    }

    /// Takes the positions of `snapshot` (of a cache of the same model and shape).
    public func restore(_ snapshot: KVSnapshot) throws(BackendError) {
        precondition(snapshot.layers.count == keys.count + values.count && snapshot.length <= capacity)
        for (tensor, bytes) in zip(keys + values, snapshot.layers) {
            try bytes.withUnsafeBytes { buffer in
                Result { () throws(BackendError) in
                    if !buffer.isEmpty { try backend.writeRows(tensor, 0 ..< buffer.count / tensor.rowBytes, from: buffer.baseAddress!) }
                }
            }.get()
        }
        length = snapshot.length
    }
}

/// A KV cache's positions in host memory (`KVCache.snapshot`), to be restored into a cache later.
public struct KVSnapshot: Sendable {
    public let length: Int
    /// Per layer, keys then values: the rows' bytes.
    let layers: [[UInt8]]

    public var byteCount: Int { layers.reduce(0) { $0 + $1.count } }
}

/// What the KV cache stores: F16 halves F32's memory; Q8_0 (ggml's blocks of 32 bytes and a scale)
/// nearly halves F16's, and needs a head width that is a multiple of 32. (Q4_0, which llama.cpp offers,
/// is not: tried without the Hadamard turn of the blocks, the default model's logits fell to a cosine
/// of 0.77 with the exact ones.)
public enum CacheType: String, Sendable, CaseIterable {
    case f16, f32, q8_0

    var tensorType: TensorType {
        switch self {
        case .f16: .f16
        case .f32: .f32
        case .q8_0: .q8_0
        }
    }

    /// Bytes of `count` keys or values (a multiple of the head width).
    public func bytes(elements count: Int) -> Int { count / tensorType.blockSize * tensorType.bytesPerBlock }

    /// What a head's width must be a multiple of.
    public var headMultiple: Int { tensorType.cacheHeadMultiple ?? 1 }
}
