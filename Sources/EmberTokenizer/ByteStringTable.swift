// A hash table from byte strings to token ids that is probed with a pointer and a length, so the
// encoders look up slices of their working buffers without building a `String` per lookup.

struct ByteStringTable: Sendable {
    /// All keys back to back; key `i` is `storage[starts[i] ..< starts[i + 1]]`.
    private var storage: [UInt8] = []
    private var starts: [Int] = [0]
    private var values: [Int32] = []
    /// Open addressing with linear probing: a key index, or -1 for an empty slot.
    private var slots: [Int32]
    private var mask: Int

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = Array(repeating: -1, count: size)
        mask = size - 1
        storage.reserveCapacity(capacity * 8)
        starts.reserveCapacity(capacity + 1)
        values.reserveCapacity(capacity)
    }

    var count: Int { values.count }

    /// Maps `key` to `value`, replacing the value of an equal key (the last duplicate wins, as in llama.cpp).
    mutating func insert(_ key: UnsafeBufferPointer<UInt8>, value: Int32) {
        if let index = slotIndex(of: key).key {
            values[index] = value
            return
        }
        if (count + 1) * 2 > slots.count { grow() }
        let slot = slotIndex(of: key).slot
        slots[slot] = Int32(count)
        storage.append(contentsOf: key)
        starts.append(storage.count)
        values.append(value)
    }

    mutating func insert(_ key: String, value: Int32) {
        var key = key
        key.withUTF8 { insert($0, value: value) }
    }

    @inline(__always)
    func value(for key: UnsafeBufferPointer<UInt8>) -> Int32? {
        slotIndex(of: key).key.map { values[$0] }
    }

    func value(for key: String) -> Int32? {
        var key = key
        return key.withUTF8 { value(for: $0) }
    }

    /// The slot holding `key` and its key index, or the empty slot where it would go.
    @inline(__always)
    private func slotIndex(of key: UnsafeBufferPointer<UInt8>) -> (slot: Int, key: Int?) {
        var slot = Int(truncatingIfNeeded: Self.hash(key)) & mask
        return storage.withUnsafeBufferPointer { storage in
            while true {
                let index = Int(slots[slot])
                if index < 0 { return (slot, nil) }
                let start = starts[index]
                let length = starts[index + 1] - start
                if length == key.count && (length == 0 || memoryEqual(storage.baseAddress! + start, key.baseAddress!, length)) {
                    return (slot, index)
                }
                slot = (slot + 1) & mask
            }
        }
    }

    private mutating func grow() {
        slots = Array(repeating: -1, count: slots.count * 2)
        mask = slots.count - 1
        storage.withUnsafeBufferPointer { storage in
            for index in 0..<values.count {
                let key = UnsafeBufferPointer(rebasing: storage[starts[index] ..< starts[index + 1]])
                var slot = Int(truncatingIfNeeded: Self.hash(key)) & mask
                while slots[slot] >= 0 { slot = (slot + 1) & mask }
                slots[slot] = Int32(index)
            }
        }
    }

    /// FNV-1a, 64-bit: token texts are short, so a byte loop is as fast as anything fancier.
    @inline(__always)
    private static func hash(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}

@inline(__always)
private func memoryEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
    for i in 0..<count where a[i] != b[i] { return false }
    return true
}
