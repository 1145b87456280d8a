// A bounds-checked little-endian reader over the header bytes of a mapped file. Every read names the
// field it is reading, so a failure becomes an error that says what was being read and where.
// The bytes may be only the start of a file of `fileSize` bytes (a header fetched over the network):
// lengths are judged against the whole file, and running out of the bytes at hand is `truncated`.

struct ByteCursor {
    let bytes: UnsafeRawBufferPointer
    /// Size of the whole file, at least `bytes.count`.
    let fileSize: Int
    private(set) var offset: Int = 0

    init(_ bytes: UnsafeRawBufferPointer, fileSize: Int? = nil) {
        self.bytes = bytes
        self.fileSize = max(fileSize ?? bytes.count, bytes.count)
    }

    /// Bytes at hand after the offset.
    var remaining: Int { bytes.count - offset }
    /// Bytes of the file after the offset.
    var remainingInFile: Int { fileSize - offset }

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
        guard length <= UInt64(min(remainingInFile, limit)), length <= UInt64(remaining) else {
            if length > UInt64(limit) {
                throw .lengthTooLarge(field: field(), offset: start, length: length, limit: limit)
            }
            throw .truncated(field: field(), offset: offset, needed: Int(length), fileSize: bytes.count)
        }
        let count = Int(length)
        let utf8 = UnsafeBufferPointer(start: (bytes.baseAddress! + offset).assumingMemoryBound(to: UInt8.self), count: count)
        // Decoding repairs bad UTF-8 with U+FFFD and is much faster than strict validation (a vocabulary
        // has 50k-250k strings); its output is valid UTF-8, so output equal to the input proves the input.
        let string = String(decoding: utf8, as: UTF8.self)
        let unchanged = string.utf8.withContiguousStorageIfAvailable { $0.elementsEqual(utf8) }
            ?? string.utf8.elementsEqual(utf8)
        guard unchanged else { throw .invalidUTF8(field: field(), offset: start) }
        offset += count
        return string
    }

    /// Reads a count that will drive a loop over items of at least `minimumItemSize` bytes each: a count
    /// the rest of the file cannot hold is refused before anything is allocated.
    mutating func readCount(_ field: @autoclosure () -> String, minimumItemSize: Int) throws(GGUFError) -> Int {
        let start = offset
        let count = try read(UInt64.self, field())
        let limit = remainingInFile / max(minimumItemSize, 1)
        guard count <= UInt64(limit) else {
            throw .lengthTooLarge(field: field(), offset: start, length: count, limit: limit)
        }
        return Int(count)
    }

    /// Moves past `count` bytes.
    mutating func skip(_ count: Int, _ field: @autoclosure () -> String) throws(GGUFError) {
        guard count <= remaining else { throw .truncated(field: field(), offset: offset, needed: count, fileSize: bytes.count) }
        offset += count
    }

    /// Moves past a length-prefixed string without decoding it.
    mutating func skipString(_ field: @autoclosure () -> String) throws(GGUFError) {
        let start = offset
        let length = try read(UInt64.self, field())
        guard length <= UInt64(remainingInFile) else {
            throw .lengthTooLarge(field: field(), offset: start, length: length, limit: remainingInFile)
        }
        try skip(Int(length), field())
    }

    mutating func align(to alignment: Int) {
        offset = (offset + alignment - 1) / alignment * alignment
    }
}
