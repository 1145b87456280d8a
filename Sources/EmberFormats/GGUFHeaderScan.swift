// How much of a GGUF header the first bytes of a file hold, found by walking the header's structure
// without decoding it: lengths are read and what they cover is skipped. That is about a hundred times
// cheaper than parsing (a vocabulary is 50k-250k strings), so a download can check every buffer as it
// arrives and parse once, the moment the header is whole.

public enum GGUFHeaderScan: Equatable, Sendable {
    /// The header (through the last tensor info) is the first `length` bytes.
    case whole(length: Int)
    /// The header runs past the bytes at hand.
    case partial
    /// Not a GGUF header, or a malformed one: parsing says what is wrong.
    case malformed

    /// Scans `prefix`, the first bytes of a `fileSize`-byte file.
    public init(_ prefix: UnsafeRawBufferPointer, fileSize: Int) {
        var cursor = ByteCursor(prefix, fileSize: fileSize)
        do throws(GGUFError) {
            guard try cursor.read(UInt32.self, "magic") == 0x4655_4747 else { self = .malformed; return }
            _ = try cursor.read(UInt32.self, "version")
            let tensorCount = try cursor.readCount("tensor count", minimumItemSize: 24)
            let metadataCount = try cursor.readCount("metadata count", minimumItemSize: 13)
            for _ in 0 ..< metadataCount {
                try cursor.skipString("metadata key")
                try Self.skipValue(&cursor, rawType: try cursor.read(UInt32.self, "value type"), depth: 0)
            }
            for _ in 0 ..< tensorCount {
                try cursor.skipString("tensor name")
                let dimensionCount = try cursor.read(UInt32.self, "dimension count")
                guard dimensionCount <= UInt32(GGUFFile.maxDimensions) else { self = .malformed; return }
                try cursor.skip(Int(dimensionCount) * 8 + 4 + 8, "shape, type and offset")
            }
            self = .whole(length: cursor.offset)
        } catch {
            self = error.isTruncation ? .partial : .malformed
        }
    }

    private static func skipValue(_ cursor: inout ByteCursor, rawType: UInt32, depth: Int) throws(GGUFError) {
        guard let type = GGUFValueType(rawValue: rawType) else {
            throw .unknownValueType(field: "value", offset: cursor.offset - 4, rawType: rawType)
        }
        if let size = type.fixedSize { return try cursor.skip(size, "value") }
        if type == .string { return try cursor.skipString("value") }
        guard depth < GGUFFile.maxArrayDepth else { throw .arrayNestingTooDeep(field: "value", offset: cursor.offset) }
        let elementType = try cursor.read(UInt32.self, "element type")
        guard let element = GGUFValueType(rawValue: elementType) else {
            throw .unknownValueType(field: "element", offset: cursor.offset - 4, rawType: elementType)
        }
        let count = try cursor.readCount("array length", minimumItemSize: element.fixedSize ?? 8)
        if let size = element.fixedSize { return try cursor.skip(count * size, "array") }
        for _ in 0 ..< count { try skipValue(&cursor, rawType: elementType, depth: depth + 1) }
    }
}

extension GGUFValueType {
    /// Bytes of a value of this type, nil for strings and arrays.
    var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64: 8
        case .string, .array: nil
        }
    }
}
