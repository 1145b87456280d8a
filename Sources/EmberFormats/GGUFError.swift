// Everything that can be wrong with a GGUF file. Each case names the field (or tensor) and the byte
// offset where the problem was found, so a user can tell a truncated download from a corrupt header.

public enum GGUFError: Error, Equatable, CustomStringConvertible {
    case file(MappedFileError)
    case badMagic(found: UInt32)
    case unsupportedVersion(UInt32)
    /// `needed` bytes for `field` at `offset` run past the end of the file.
    case truncated(field: String, offset: Int, needed: Int, fileSize: Int)
    /// A string or array length, or a count, is larger than the rest of the file or a sane limit.
    case lengthTooLarge(field: String, offset: Int, length: UInt64, limit: Int)
    case unknownValueType(field: String, offset: Int, rawType: UInt32)
    case arrayNestingTooDeep(field: String, offset: Int)
    case invalidUTF8(field: String, offset: Int)
    case duplicateKey(String, offset: Int)
    /// A metadata key the reader itself interprets has the wrong type or an invalid value.
    case invalidMetadata(key: String, offset: Int, reason: String)
    case tooManyDimensions(tensor: String, offset: Int, count: UInt32)
    case invalidDimension(tensor: String, offset: Int, value: UInt64)
    case elementCountOverflow(tensor: String, offset: Int)
    case unknownTensorType(tensor: String, offset: Int, rawType: UInt32)
    case rowNotWholeBlocks(tensor: String, offset: Int, type: TensorType, rowLength: Int)
    case duplicateTensor(String, offset: Int)
    case misalignedTensor(tensor: String, dataOffset: UInt64, alignment: Int)
    /// The tensor's bytes [start, end) (absolute file offsets) run past the end of the file.
    case tensorOutOfBounds(tensor: String, start: Int, end: Int, fileSize: Int)
    case overlappingTensors(first: String, second: String, offset: Int)

    /// Whether the bytes ran out: for a header read from the start of a larger file, more are needed.
    public var isTruncation: Bool {
        if case .truncated = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case let .file(error):
            "\(error)"
        case let .badMagic(found):
            "not a GGUF file: bad magic 0x\(String(found, radix: 16)) at offset 0 (expected \"GGUF\")"
        case let .unsupportedVersion(version):
            "unsupported GGUF version \(version) at offset 4 (Ember reads versions 2 and 3)"
        case let .truncated(field, offset, needed, fileSize):
            "truncated GGUF file: \(field) at offset \(offset) needs \(needed) bytes but the file ends at \(fileSize) (incomplete download?)"
        case let .lengthTooLarge(field, offset, length, limit):
            "corrupt GGUF file: \(field) at offset \(offset) has length \(length), over the limit of \(limit)"
        case let .unknownValueType(field, offset, rawType):
            "corrupt GGUF file: \(field) at offset \(offset) has unknown value type \(rawType)"
        case let .arrayNestingTooDeep(field, offset):
            "corrupt GGUF file: \(field) at offset \(offset) nests arrays too deeply"
        case let .invalidUTF8(field, offset):
            "corrupt GGUF file: \(field) at offset \(offset) is not valid UTF-8"
        case let .duplicateKey(key, offset):
            "corrupt GGUF file: metadata key \"\(key)\" at offset \(offset) appears twice"
        case let .invalidMetadata(key, offset, reason):
            "invalid GGUF metadata \"\(key)\" at offset \(offset): \(reason)"
        case let .tooManyDimensions(tensor, offset, count):
            "corrupt GGUF file: tensor \"\(tensor)\" at offset \(offset) has \(count) dimensions (at most 4)"
        case let .invalidDimension(tensor, offset, value):
            "corrupt GGUF file: tensor \"\(tensor)\" at offset \(offset) has dimension \(value)"
        case let .elementCountOverflow(tensor, offset):
            "corrupt GGUF file: tensor \"\(tensor)\" at offset \(offset) has more elements than fit in 64 bits"
        case let .unknownTensorType(tensor, offset, rawType):
            "unknown tensor type \(rawType) for tensor \"\(tensor)\" at offset \(offset) (newer GGUF file than Ember knows?)"
        case let .rowNotWholeBlocks(tensor, offset, type, rowLength):
            "corrupt GGUF file: tensor \"\(tensor)\" at offset \(offset) has rows of \(rowLength) elements, not a multiple of \(type)'s block of \(type.blockSize)"
        case let .duplicateTensor(name, offset):
            "corrupt GGUF file: tensor \"\(name)\" at offset \(offset) appears twice"
        case let .misalignedTensor(tensor, dataOffset, alignment):
            "corrupt GGUF file: tensor \"\(tensor)\" data offset \(dataOffset) is not a multiple of the alignment \(alignment)"
        case let .tensorOutOfBounds(tensor, start, end, fileSize):
            "truncated or corrupt GGUF file: tensor \"\(tensor)\" occupies bytes \(start)..<\(end) but the file has \(fileSize) bytes"
        case let .overlappingTensors(first, second, offset):
            "corrupt GGUF file: tensor \"\(second)\" at data offset \(offset) overlaps tensor \"\(first)\""
        }
    }
}
