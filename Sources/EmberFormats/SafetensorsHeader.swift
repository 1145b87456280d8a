// The header of a safetensors file: a little-endian u64 length N, then N bytes of JSON naming each
// tensor's dtype, shape and `data_offsets` [begin, end) relative to the end of the header. Read from
// the start of a file (its first bytes are enough), so that a download can align its ranges to
// tensor boundaries (SafetensorsFile views a whole mapped one). Checked as the safetensors
// library checks it: a known dtype whose shape's bytes are its offsets', the tensors back to back
// from the header to the end of the file, no name twice, no arithmetic that overflows.

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
        let json = UnsafeRawBufferPointer(rebasing: bytes[8 ..< headerSize])
        if let repeated = Self.repeatedTopLevelKey(json) { throw .duplicateTensor(repeated) }
        let entries: [String: Entry]
        do {
            entries = try JSONDecoder().decode([String: Entry].self, from: Data(json))
        } catch {
            throw .invalidJSON("\(error)")
        }
        var tensors: [Tensor] = []
        for (name, entry) in entries where name != "__metadata__" {
            guard let dtype = entry.dtype, let shape = entry.shape, let offsets = entry.data_offsets, offsets.count == 2,
                  offsets[0] >= 0, offsets[0] <= offsets[1], shape.allSatisfy({ $0 >= 0 }) else {
                throw .invalidTensor(name)
            }
            guard let elementBytes = Self.dtypeBytes[dtype] else { throw .unknownDType(name, dtype) }
            var bytes = elementBytes, overflow = false
            for dimension in shape where !overflow { (bytes, overflow) = bytes.multipliedReportingOverflow(by: dimension) }
            guard offsets[1] <= fileSize - headerSize else {
                throw .tensorOutOfBounds(name, end: offsets[1].addingReportingOverflow(headerSize).partialValue, fileSize: fileSize)
            }
            guard !overflow, bytes == offsets[1] - offsets[0] else {
                throw .sizeMismatch(name, shapeBytes: overflow ? nil : bytes, offsets: offsets[0] ..< offsets[1])
            }
            tensors.append(Tensor(name: name, dtype: dtype, shape: shape, range: headerSize + offsets[0] ..< headerSize + offsets[1]))
        }
        tensors.sort { ($0.range.lowerBound, $0.range.upperBound) < ($1.range.lowerBound, $1.range.upperBound) }
        // The data is the tensors back to back from the end of the header, as the safetensors library
        // requires: an overlap or a gap means the offsets are not the file's.
        var expected = headerSize, previous: String?
        for tensor in tensors {
            if tensor.range.lowerBound < expected, let previous { throw .overlappingTensors(previous, tensor.name) }
            guard tensor.range.lowerBound == expected else { throw .gapBeforeTensor(tensor.name, offset: expected - headerSize) }
            expected = tensor.range.upperBound
            previous = tensor.name
        }
        guard expected == fileSize else { throw .trailingData(bytes: fileSize - expected) }
        self.tensors = tensors
    }

    /// Bytes per element of each dtype the safetensors format defines.
    static let dtypeBytes: [String: Int] = ["F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
                                            "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1]

    /// A key the header's object names twice (JSON parsers keep one silently): its text, or nil.
    static func repeatedTopLevelKey(_ json: UnsafeRawBufferPointer) -> String? {
        var seen = Set<String>(), depth = 0, index = 0, keyStart: Int?, expectsKey = false
        while index < json.count {
            let byte = json[index]
            if byte == UInt8(ascii: "\"") {
                let start = index
                index += 1
                while index < json.count, json[index] != UInt8(ascii: "\"") { index += json[index] == UInt8(ascii: "\\") ? 2 : 1 }
                if depth == 1 && expectsKey { keyStart = start }
                if let begin = keyStart, index < json.count {
                    let key = String(decoding: json[begin ... index], as: UTF8.self)
                    if !seen.insert(key).inserted { return String(key.dropFirst().dropLast()) }
                    keyStart = nil
                }
                expectsKey = false
            } else if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") {
                depth += 1
                expectsKey = depth == 1
            } else if byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") {
                depth -= 1
            } else if byte == UInt8(ascii: ",") {
                expectsKey = depth == 1
            }
            index += 1
        }
        return nil
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
    case unknownDType(String, String)
    /// The shape's bytes (nil when they overflow) against the tensor's data_offsets.
    case sizeMismatch(String, shapeBytes: Int?, offsets: Range<Int>)
    /// The data before this tensor's (from `offset`, relative to the end of the header) is no tensor's.
    case gapBeforeTensor(String, offset: Int)
    case duplicateTensor(String)
    /// Bytes after the last tensor's data.
    case trailingData(bytes: Int)
    case file(MappedFileError)
    /// A dtype that is valid but not one of a model's weights (F32, F16, BF16).
    case unsupportedDType(String, String)

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
        case let .unknownDType(name, dtype): "corrupt safetensors header: tensor \"\(name)\" has the unknown dtype \"\(dtype)\""
        case let .sizeMismatch(name, bytes, offsets):
            "corrupt safetensors header: tensor \"\(name)\" has data_offsets [\(offsets.lowerBound), \(offsets.upperBound)) ("
                + "\(offsets.count) bytes) but its dtype and shape make \(bytes.map(String.init) ?? "more than Int.max") bytes"
        case let .gapBeforeTensor(name, offset): "corrupt safetensors header: bytes from data offset \(offset) to tensor \"\(name)\" belong to no tensor"
        case let .duplicateTensor(name): "corrupt safetensors header: \"\(name)\" is named twice"
        case let .trailingData(bytes): "corrupt safetensors file: \(bytes) bytes after the last tensor belong to no tensor"
        case let .file(error): error.description
        case let .unsupportedDType(name, dtype): "tensor \"\(name)\" is \(dtype); Ember computes with F32, F16 and BF16 weights"
        }
    }
}
