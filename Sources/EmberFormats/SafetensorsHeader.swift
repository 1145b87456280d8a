// The header of a safetensors file: a little-endian u64 length N, then N bytes of JSON naming each
// tensor's dtype, shape and `data_offsets` [begin, end) relative to the end of the header. Read from
// the start of a file (its first bytes are enough), so that a download can align its ranges to
// tensor boundaries; computing with safetensors models comes later.

import FoundationEssentials

public struct SafetensorsHeader: Sendable, Equatable {
    public struct Tensor: Sendable, Equatable {
        public let name: String
        public let dtype: String
        public let shape: [Int]
        /// Absolute byte range in the file.
        public let range: Range<Int>
    }

    /// Bytes before the tensor data: the 8-byte length and the JSON.
    public let headerSize: Int
    /// In file order.
    public let tensors: [Tensor]

    /// Largest JSON header accepted (real ones are well under a megabyte).
    static let maxHeaderLength = 100 << 20

    /// Parses the header of a `fileSize`-byte file from its first bytes.
    public init(prefix bytes: UnsafeRawBufferPointer, fileSize: Int) throws(SafetensorsError) {
        guard bytes.count >= 8 else { throw .truncated(needed: 8) }
        let length = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard length >= 2, length <= UInt64(min(Self.maxHeaderLength, fileSize - 8)) else {
            throw .invalidHeaderLength(length, fileSize: fileSize)
        }
        headerSize = 8 + Int(length)
        guard bytes.count >= headerSize else { throw .truncated(needed: headerSize) }

        struct Entry: Decodable {
            let dtype: String?
            let shape: [Int]?
            let data_offsets: [Int]?
        }
        let entries: [String: Entry]
        do {
            entries = try JSONDecoder().decode([String: Entry].self, from: Data(bytes[8 ..< headerSize]))
        } catch {
            throw .invalidJSON("\(error)")
        }
        var tensors: [Tensor] = []
        for (name, entry) in entries where name != "__metadata__" {
            guard let dtype = entry.dtype, let shape = entry.shape, let offsets = entry.data_offsets, offsets.count == 2,
                  offsets[0] >= 0, offsets[0] <= offsets[1], shape.allSatisfy({ $0 >= 0 }) else {
                throw .invalidTensor(name)
            }
            let range = headerSize + offsets[0] ..< headerSize + offsets[1]
            guard range.upperBound <= fileSize else { throw .tensorOutOfBounds(name, end: range.upperBound, fileSize: fileSize) }
            tensors.append(Tensor(name: name, dtype: dtype, shape: shape, range: range))
        }
        tensors.sort { $0.range.lowerBound < $1.range.lowerBound }
        for (previous, next) in zip(tensors, tensors.dropFirst()) where next.range.lowerBound < previous.range.upperBound {
            throw .overlappingTensors(previous.name, next.name)
        }
        self.tensors = tensors
    }

    /// Whether `bytes` start like a safetensors file: a plausible length, then a JSON object.
    public static func looksLike(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 9 else { return false }
        let length = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        return length >= 2 && length <= UInt64(maxHeaderLength) && bytes[8] == UInt8(ascii: "{")
    }
}

public enum SafetensorsError: Error, Equatable, CustomStringConvertible {
    /// The header needs the first `needed` bytes of the file.
    case truncated(needed: Int)
    case invalidHeaderLength(UInt64, fileSize: Int)
    case invalidJSON(String)
    case invalidTensor(String)
    case tensorOutOfBounds(String, end: Int, fileSize: Int)
    case overlappingTensors(String, String)

    public var description: String {
        switch self {
        case let .truncated(needed): "truncated safetensors header: it needs the first \(needed) bytes of the file"
        case let .invalidHeaderLength(length, fileSize):
            "not a safetensors file: header length \(length) does not fit a file of \(fileSize) bytes"
        case let .invalidJSON(reason): "corrupt safetensors header: \(reason)"
        case let .invalidTensor(name): "corrupt safetensors header: tensor \"\(name)\" lacks a dtype, shape or valid data_offsets"
        case let .tensorOutOfBounds(name, end, fileSize):
            "corrupt safetensors header: tensor \"\(name)\" ends at \(end), past the end of the file (\(fileSize) bytes)"
        case let .overlappingTensors(first, second): "corrupt safetensors header: tensors \"\(first)\" and \"\(second)\" overlap"
        }
    }
}
