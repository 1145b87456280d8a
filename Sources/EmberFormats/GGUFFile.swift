// The GGUF reader: parses and validates the header of a memory-mapped GGUF file (versions 2 and 3)
// and hands out zero-copy tensor views. Format: magic "GGUF", version, tensor count, metadata count,
// the metadata key/values, the tensor infos, padding to `general.alignment`, then the data section.
// Every count and length is checked against the bytes that remain before anything is allocated, so a
// corrupt or hostile header gives a `GGUFError`, never a crash, a hang or an allocation bomb.

import EmberTrace

public final class GGUFFile: Sendable {
    /// The file, or for a header read over the network, its first bytes.
    public let file: MappedFile
    /// Size of the whole file (more than `file.count` when only its start is at hand).
    public let fileSize: Int
    public let version: UInt32
    public let metadata: GGUFMetadata
    /// Tensors in file order.
    public let tensors: [TensorInfo]
    /// The alignment of tensor data (`general.alignment`, default 32).
    public let alignment: Int
    /// Absolute file offset of the data section.
    public let dataSectionOffset: Int
    private let tensorIndex: [String: Int]

    /// Longest string accepted (chat templates are a few KB; token texts a few bytes).
    static let maxStringLength = 16 << 20
    /// Deepest array nesting accepted (real files nest at most once).
    static let maxArrayDepth = 4
    static let maxDimensions = 4
    public static let defaultAlignment = 32

    public convenience init(path: String) throws(GGUFError) {
        let file: MappedFile
        do {
            file = try Trace.span("load.mmap", args: ["path": "\(path)"]) { () throws(MappedFileError) in try MappedFile(path: path) }
        } catch { throw .file(error) }
        let span = Trace.begin("load.parse")
        defer { span?.end(args: ["bytes": .int(file.count)]) }
        try self.init(file: file)
    }

    /// Parses a whole file.
    public convenience init(file: MappedFile) throws(GGUFError) {
        try self.init(prefix: file, fileSize: file.count)
    }

    /// Parses the header of a `fileSize`-byte file from its first bytes, `prefix`: lengths and tensor
    /// ranges are checked against the whole file, and a header that runs past the prefix throws
    /// `truncated` (`isTruncation`): fetch more and try again. Tensor views need the whole file.
    public init(prefix file: MappedFile, fileSize: Int) throws(GGUFError) {
        self.file = file
        self.fileSize = max(fileSize, file.count)
        var cursor = ByteCursor(file.bytes, fileSize: fileSize)

        let magic = try cursor.read(UInt32.self, "magic")
        guard magic == 0x4655_4747 else { throw .badMagic(found: magic) }  // "GGUF" little-endian
        version = try cursor.read(UInt32.self, "version")
        guard version == 2 || version == 3 else { throw .unsupportedVersion(version) }

        // A tensor info is at least 8 (name length) + 4 (dims) + 4 (type) + 8 (offset) bytes; a key/value
        // at least 8 (key length) + 4 (type) + 1 byte.
        let tensorCount = try cursor.readCount("tensor count", minimumItemSize: 24)
        let metadataCount = try cursor.readCount("metadata count", minimumItemSize: 13)

        var keys: [String] = []
        var values: [String: GGUFValue] = [:]
        var keyOffsets: [String: Int] = [:]
        keys.reserveCapacity(metadataCount)
        for index in 0 ..< metadataCount {
            let keyOffset = cursor.offset
            let key = try cursor.readString("metadata key #\(index)", limit: 65535)
            let rawType = try cursor.read(UInt32.self, "type of \(key)")
            let value = try Self.readValue(&cursor, rawType: rawType, field: key, depth: 0)
            guard values.updateValue(value, forKey: key) == nil else { throw .duplicateKey(key, offset: keyOffset) }
            keys.append(key)
            keyOffsets[key] = keyOffset
        }
        metadata = GGUFMetadata(keys: keys, values: values)

        alignment = try Self.alignment(from: metadata, offset: keyOffsets["general.alignment"] ?? 0)

        var infos: [TensorInfo] = []
        var index: [String: Int] = [:]
        infos.reserveCapacity(tensorCount)
        for number in 0 ..< tensorCount {
            let infoOffset = cursor.offset
            let info = try Self.readTensorInfo(&cursor, number: number, alignment: alignment)
            guard index.updateValue(infos.count, forKey: info.name) == nil else {
                throw .duplicateTensor(info.name, offset: infoOffset)
            }
            infos.append(info)
        }
        tensors = infos
        tensorIndex = index

        cursor.align(to: alignment)
        dataSectionOffset = cursor.offset
        try Self.validateLayout(infos, dataSectionOffset: dataSectionOffset, fileSize: self.fileSize)
    }

    /// The byte ranges of the tensors' data in the file, in file order.
    public var tensorRanges: [Range<Int>] {
        tensors.map { dataSectionOffset + $0.dataOffset ..< dataSectionOffset + $0.dataOffset + $0.byteCount }
            .sorted { $0.lowerBound < $1.lowerBound }
    }

    public func tensorInfo(named name: String) -> TensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// A zero-copy view of a tensor's bytes (the file must be whole).
    public func view(_ info: TensorInfo) -> TensorView {
        let start = dataSectionOffset + info.dataOffset
        precondition(start + info.byteCount <= file.count, "tensor \(info.name) lies past the bytes at hand")
        return TensorView(info: info, bytes: UnsafeRawBufferPointer(rebasing: file.bytes[start ..< start + info.byteCount]), file: file)
    }

    public func view(named name: String) -> TensorView? {
        tensorInfo(named: name).map(view)
    }

    // MARK: - Parsing

    /// `offset` is where the key/value starts in the file, for the error message.
    private static func alignment(from metadata: GGUFMetadata, offset: Int) throws(GGUFError) -> Int {
        guard let value = metadata["general.alignment"] else { return defaultAlignment }
        guard case let .uint32(raw) = value else {
            throw .invalidMetadata(key: "general.alignment", offset: offset, reason: "must be u32, found \(value.type)")
        }
        guard raw > 0, raw & (raw - 1) == 0, raw <= 1 << 20 else {
            throw .invalidMetadata(key: "general.alignment", offset: offset, reason: "\(raw) is not a power of two up to 1 MiB")
        }
        return Int(raw)
    }

    private static func readValue(_ cursor: inout ByteCursor, rawType: UInt32, field: String, depth: Int) throws(GGUFError) -> GGUFValue {
        guard let type = GGUFValueType(rawValue: rawType) else {
            throw .unknownValueType(field: field, offset: cursor.offset - 4, rawType: rawType)
        }
        switch type {
        case .uint8: return .uint8(try cursor.read(UInt8.self, field))
        case .int8: return .int8(try cursor.read(Int8.self, field))
        case .uint16: return .uint16(try cursor.read(UInt16.self, field))
        case .int16: return .int16(try cursor.read(Int16.self, field))
        case .uint32: return .uint32(try cursor.read(UInt32.self, field))
        case .int32: return .int32(try cursor.read(Int32.self, field))
        case .uint64: return .uint64(try cursor.read(UInt64.self, field))
        case .int64: return .int64(try cursor.read(Int64.self, field))
        case .float32: return .float32(try cursor.readFloat(field))
        case .float64: return .float64(try cursor.readDouble(field))
        case .bool:
            let offset = cursor.offset
            let byte = try cursor.read(UInt8.self, field)
            guard byte <= 1 else { throw .invalidMetadata(key: field, offset: offset, reason: "bool byte is \(byte)") }
            return .bool(byte == 1)
        case .string: return .string(try cursor.readString(field, limit: maxStringLength))
        case .array: return .array(try readArray(&cursor, field: field, depth: depth + 1))
        }
    }

    private static func readArray(_ cursor: inout ByteCursor, field: String, depth: Int) throws(GGUFError) -> GGUFArray {
        let typeOffset = cursor.offset
        guard depth <= maxArrayDepth else { throw .arrayNestingTooDeep(field: field, offset: typeOffset) }
        let rawType = try cursor.read(UInt32.self, "element type of \(field)")
        guard let type = GGUFValueType(rawValue: rawType) else {
            throw .unknownValueType(field: field, offset: typeOffset, rawType: rawType)
        }
        let minimumSize = type.fixedSize ?? (type == .string ? 8 : 12)
        let count = try cursor.readCount("length of \(field)", minimumItemSize: minimumSize)

        func elements<T>(_ read: (inout ByteCursor) throws(GGUFError) -> T) throws(GGUFError) -> [T] {
            var result: [T] = []
            result.reserveCapacity(count)
            for _ in 0 ..< count { result.append(try read(&cursor)) }
            return result
        }
        switch type {
        case .uint8: return .uint8(try elements { c throws(GGUFError) in try c.read(UInt8.self, field) })
        case .int8: return .int8(try elements { c throws(GGUFError) in try c.read(Int8.self, field) })
        case .uint16: return .uint16(try elements { c throws(GGUFError) in try c.read(UInt16.self, field) })
        case .int16: return .int16(try elements { c throws(GGUFError) in try c.read(Int16.self, field) })
        case .uint32: return .uint32(try elements { c throws(GGUFError) in try c.read(UInt32.self, field) })
        case .int32: return .int32(try elements { c throws(GGUFError) in try c.read(Int32.self, field) })
        case .uint64: return .uint64(try elements { c throws(GGUFError) in try c.read(UInt64.self, field) })
        case .int64: return .int64(try elements { c throws(GGUFError) in try c.read(Int64.self, field) })
        case .float32: return .float32(try elements { c throws(GGUFError) in try c.readFloat(field) })
        case .float64: return .float64(try elements { c throws(GGUFError) in try c.readDouble(field) })
        case .bool:
            return .bool(try elements { c throws(GGUFError) in
                let offset = c.offset
                let byte = try c.read(UInt8.self, field)
                guard byte <= 1 else { throw .invalidMetadata(key: field, offset: offset, reason: "bool byte is \(byte)") }
                return byte == 1
            })
        case .string: return .string(try elements { c throws(GGUFError) in try c.readString(field, limit: maxStringLength) })
        case .array: return .array(try elements { c throws(GGUFError) in try readArray(&c, field: field, depth: depth + 1) })
        }
    }

    private static func readTensorInfo(_ cursor: inout ByteCursor, number: Int, alignment: Int) throws(GGUFError) -> TensorInfo {
        let start = cursor.offset
        let name = try cursor.readString("name of tensor #\(number)", limit: 65535)
        let dimensionCount = try cursor.read(UInt32.self, "dimension count of \(name)")
        guard dimensionCount <= UInt32(maxDimensions) else {
            throw .tooManyDimensions(tensor: name, offset: start, count: dimensionCount)
        }
        var shape: [Int] = []
        var elements = 1
        var overflow = false
        for _ in 0 ..< dimensionCount {
            let dimension = try cursor.read(UInt64.self, "shape of \(name)")
            guard dimension <= UInt64(Int64.max) else { throw .invalidDimension(tensor: name, offset: start, value: dimension) }
            shape.append(Int(dimension))
            if !overflow { (elements, overflow) = elements.multipliedReportingOverflow(by: Int(dimension)) }
        }
        let typeOffset = cursor.offset
        let rawType = try cursor.read(UInt32.self, "type of \(name)")
        let dataOffset = try cursor.read(UInt64.self, "data offset of \(name)")
        guard !overflow else { throw .elementCountOverflow(tensor: name, offset: start) }
        guard let type = TensorType(rawValue: rawType) else {
            throw .unknownTensorType(tensor: name, offset: typeOffset, rawType: rawType)
        }
        let rowLength = shape.first ?? 1
        guard rowLength % type.blockSize == 0 else {
            throw .rowNotWholeBlocks(tensor: name, offset: start, type: type, rowLength: rowLength)
        }
        guard let bytes = type.byteCount(elements: elements) else { throw .elementCountOverflow(tensor: name, offset: start) }
        guard dataOffset % UInt64(alignment) == 0 else {
            throw .misalignedTensor(tensor: name, dataOffset: dataOffset, alignment: alignment)
        }
        guard dataOffset <= UInt64(Int.max) else {
            throw .tensorOutOfBounds(tensor: name, start: Int.max, end: Int.max, fileSize: cursor.bytes.count)
        }
        return TensorInfo(name: name, type: type, shape: shape, dataOffset: Int(dataOffset), elementCount: elements, byteCount: bytes)
    }

    private static func validateLayout(_ tensors: [TensorInfo], dataSectionOffset: Int, fileSize: Int) throws(GGUFError) {
        for info in tensors {
            let (start, overflowStart) = dataSectionOffset.addingReportingOverflow(info.dataOffset)
            let (end, overflowEnd) = start.addingReportingOverflow(info.byteCount)
            guard !overflowStart, !overflowEnd, end <= fileSize else {
                throw .tensorOutOfBounds(tensor: info.name, start: overflowStart ? Int.max : start,
                                         end: overflowStart || overflowEnd ? Int.max : end, fileSize: fileSize)
            }
        }
        let byOffset = tensors.sorted { ($0.dataOffset, $0.byteCount) < ($1.dataOffset, $1.byteCount) }
        for (previous, next) in zip(byOffset, byOffset.dropFirst())
        where previous.byteCount > 0 && next.dataOffset < previous.dataOffset + previous.byteCount {
            throw .overlappingTensors(first: previous.name, second: next.name, offset: next.dataOffset)
        }
    }
}
