// GGUF's byte encoding (v3, little-endian): the header, metadata key/values of every type, and
// tensor infos. GGUFWriter writes model files with it; the tests build small and broken files with
// it byte by byte (EmberTestSupport's GGUFBuilder).

public struct GGUFEncoder: Sendable {
    public var bytes: [UInt8] = []

    public init() {}

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    public mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    public mutating func i32(_ v: Int32) { u32(UInt32(bitPattern: v)) }
    public mutating func f32(_ v: Float) { u32(v.bitPattern) }
    public mutating func string(_ s: String) {
        u64(UInt64(s.utf8.count))
        bytes += Array(s.utf8)
    }

    /// Magic, version and the two counts.
    public mutating func header(version: UInt32 = 3, tensors: UInt64, keys: UInt64) {
        bytes += Array("GGUF".utf8)
        u32(version)
        u64(tensors)
        u64(keys)
    }

    public mutating func key(_ name: String, u32 value: UInt32) {
        string(name)
        u32(GGUFValueType.uint32.rawValue)
        u32(value)
    }

    public mutating func key(_ name: String, string value: String) {
        string(name)
        u32(GGUFValueType.string.rawValue)
        string(value)
    }

    /// A tensor info: name, shape (GGUF order), type and data offset.
    public mutating func tensor(_ name: String, shape: [UInt64], type: UInt32 = TensorType.f32.rawValue, offset: UInt64) {
        string(name)
        u32(UInt32(shape.count))
        for dimension in shape { u64(dimension) }
        u32(type)
        u64(offset)
    }

    /// Pads with zeros to a multiple of `alignment`.
    public mutating func pad(to alignment: Int) {
        while bytes.count % alignment != 0 { u8(0) }
    }

    /// Everything before the tensor data: magic, counts, `metadata`, the infos of `tensors` laid out
    /// one after another from offset 0, each padded to `alignment`, and the padding before the data.
    /// Returns the data's size.
    @discardableResult
    public mutating func layout(metadata: [(key: String, value: GGUFValue)], tensors: [(name: String, shape: [Int], type: TensorType, byteCount: Int)],
                                alignment: Int) -> Int {
        header(tensors: UInt64(tensors.count), keys: UInt64(metadata.count))
        for (name, value) in metadata { key(name, value) }
        var offset = 0
        for tensor in tensors {
            self.tensor(tensor.name, shape: tensor.shape.map { UInt64($0) }, type: tensor.type.rawValue, offset: UInt64(offset))
            offset += (tensor.byteCount + alignment - 1) / alignment * alignment
        }
        pad(to: alignment)
        return offset
    }

    /// Writes a key/value of any metadata type, arrays included.
    public mutating func key(_ name: String, _ value: GGUFValue) {
        string(name)
        u32(value.type.rawValue)
        self.value(value)
    }

    public mutating func value(_ value: GGUFValue) {
        switch value {
        case let .uint8(v): u8(v)
        case let .int8(v): u8(UInt8(bitPattern: v))
        case let .uint16(v): withUnsafeBytes(of: v.littleEndian) { bytes += $0 }
        case let .int16(v): withUnsafeBytes(of: v.littleEndian) { bytes += $0 }
        case let .uint32(v): u32(v)
        case let .int32(v): i32(v)
        case let .uint64(v): u64(v)
        case let .int64(v): u64(UInt64(bitPattern: v))
        case let .float32(v): f32(v)
        case let .float64(v): u64(v.bitPattern)
        case let .bool(v): u8(v ? 1 : 0)
        case let .string(v): string(v)
        case let .array(a): array(a)
        }
    }

    public mutating func array(_ array: GGUFArray) {
        u32(array.elementType.rawValue)
        u64(UInt64(array.count))
        switch array {
        case let .uint8(a): a.forEach { value(.uint8($0)) }
        case let .int8(a): a.forEach { value(.int8($0)) }
        case let .uint16(a): a.forEach { value(.uint16($0)) }
        case let .int16(a): a.forEach { value(.int16($0)) }
        case let .uint32(a): a.forEach { value(.uint32($0)) }
        case let .int32(a): a.forEach { value(.int32($0)) }
        case let .uint64(a): a.forEach { value(.uint64($0)) }
        case let .int64(a): a.forEach { value(.int64($0)) }
        case let .float32(a): a.forEach { value(.float32($0)) }
        case let .float64(a): a.forEach { value(.float64($0)) }
        case let .bool(a): a.forEach { value(.bool($0)) }
        case let .string(a): a.forEach { value(.string($0)) }
        case let .array(a): a.forEach { self.array($0) }
        }
    }
}
