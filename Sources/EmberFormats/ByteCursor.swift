// A bounds-checked little-endian reader over the header bytes of a mapped file. Every read names the
// field it is reading, so a failure becomes an error that says what was being read and where.

struct ByteCursor {
    let bytes: UnsafeRawBufferPointer
    private(set) var offset: Int = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var remaining: Int { bytes.count - offset }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ field: @autoclosure () -> String) throws(GGUFError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else {
            throw .truncated(field: field(), offset: offset, needed: size, fileSize: bytes.count)
        }
        let value = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += size
        return T(littleEndian: value)
    }

    mutating func readFloat(_ field: @autoclosure () -> String) throws(GGUFError) -> Float {
        Float(bitPattern: try read(UInt32.self, field()))
    }

    mutating func readDouble(_ field: @autoclosure () -> String) throws(GGUFError) -> Double {
        Double(bitPattern: try read(UInt64.self, field()))
    }

    /// Reads a length-prefixed UTF-8 string, refusing lengths beyond the file or `limit`.
    mutating func readString(_ field: @autoclosure () -> String, limit: Int) throws(GGUFError) -> String {
        let start = offset
        let length = try read(UInt64.self, field())
        guard length <= UInt64(min(remaining, limit)) else {
            if length > UInt64(limit) {
                throw .lengthTooLarge(field: field(), offset: start, length: length, limit: limit)
            }
            throw .truncated(field: field(), offset: offset, needed: Int(length), fileSize: bytes.count)
        }
        let count = Int(length)
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset ..< offset + count])
        guard let string = String(validating: slice, as: UTF8.self) else {
            throw .invalidUTF8(field: field(), offset: start)
        }
        offset += count
        return string
    }

    /// Reads a count that will drive a loop over items of at least `minimumItemSize` bytes each: a count
    /// the rest of the file cannot hold is refused before anything is allocated.
    mutating func readCount(_ field: @autoclosure () -> String, minimumItemSize: Int) throws(GGUFError) -> Int {
        let start = offset
        let count = try read(UInt64.self, field())
        let limit = remaining / max(minimumItemSize, 1)
        guard count <= UInt64(limit) else {
            throw .lengthTooLarge(field: field(), offset: start, length: count, limit: limit)
        }
        return Int(count)
    }

    mutating func align(to alignment: Int) {
        offset = (offset + alignment - 1) / alignment * alignment
    }
}
