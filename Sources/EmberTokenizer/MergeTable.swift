// The merges of a byte-level BPE vocabulary as an open-addressing hash table keyed by the pair of
// symbol ids: a multiplicative hash of one integer, where Swift's Dictionary would run SipHash over
// it. Tens of thousands of pairs are inserted at every load and looked up for every merge step.

struct MergeTable: Sendable {
    /// A candidate merge of two adjacent symbols: its rank and the symbol it produces.
    struct Merge: Sendable {
        let rank: Int32
        let result: Int32
    }

    /// `left << 32 | right`; `empty` marks a free slot (symbol ids are never negative).
    private var keys: [UInt64]
    private var merges: [Merge]
    private let shift: UInt64
    private static let empty = UInt64.max

    init(capacity: Int) {
        var bits = 4
        while 1 << bits < capacity * 2 { bits += 1 }
        keys = Array(repeating: Self.empty, count: 1 << bits)
        merges = Array(repeating: Merge(rank: 0, result: 0), count: 1 << bits)
        shift = UInt64(64 - bits)
    }

    @inline(__always)
    static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    @inline(__always)
    private func slot(for key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// Adds the merge of `left` and `right` unless the pair has one already (the first wins, as in
    /// llama.cpp). The table never holds more than `capacity` pairs.
    mutating func insertIfAbsent(_ left: Int32, _ right: Int32, _ merge: Merge) {
        let key = Self.key(left, right)
        let mask = keys.count - 1
        var slot = slot(for: key)
        while keys[slot] != Self.empty {
            if keys[slot] == key { return }
            slot = (slot + 1) & mask
        }
        keys[slot] = key
        merges[slot] = merge
    }

    @inline(__always)
    func merge(_ left: Int32, _ right: Int32) -> Merge? {
        let key = Self.key(left, right)
        let mask = keys.count - 1
        var slot = slot(for: key)
        while true {
            let found = keys[slot]
            if found == key { return merges[slot] }
            if found == Self.empty { return nil }
            slot = (slot + 1) & mask
        }
    }
}
