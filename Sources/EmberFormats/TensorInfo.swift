// A tensor's descriptor as a GGUF header gives it, and a zero-copy view of its bytes.

public struct TensorInfo: Sendable, Equatable {
    public let name: String
    public let type: TensorType
    /// Dimensions in ggml order: `shape[0]` is the innermost (contiguous) one, the length of a row.
    public let shape: [Int]
    /// Offset of the tensor's data from the start of the data section.
    public let dataOffset: Int
    public let elementCount: Int
    public let byteCount: Int

    public init(name: String, type: TensorType, shape: [Int], dataOffset: Int, elementCount: Int, byteCount: Int) {
        self.name = name
        self.type = type
        self.shape = shape
        self.dataOffset = dataOffset
        self.elementCount = elementCount
        self.byteCount = byteCount
    }

    /// Elements per row (the innermost dimension).
    public var rowLength: Int { shape.first ?? 1 }
    /// Number of rows (the product of all outer dimensions).
    public var rowCount: Int { elementCount / max(rowLength, 1) }
    /// Bytes per row.
    public var rowBytes: Int { rowLength / type.blockSize * type.bytesPerBlock }
}

/// A tensor's descriptor together with its bytes inside the mapped file. Valid while the file lives;
/// holding the view keeps the file mapped.
public struct TensorView: @unchecked Sendable {
    public let info: TensorInfo
    public let bytes: UnsafeRawBufferPointer
    let file: MappedFile

    /// A view of `bytes`, which lie inside `file` (kept alive with the view).
    public init(info: TensorInfo, bytes: UnsafeRawBufferPointer, file: MappedFile) {
        precondition(bytes.count == info.byteCount, "tensor \(info.name): \(bytes.count) bytes for \(info.byteCount)")
        self.info = info
        self.bytes = bytes
        self.file = file
    }

    public var name: String { info.name }
    public var type: TensorType { info.type }
    public var shape: [Int] { info.shape }
    public var base: UnsafeRawPointer { bytes.baseAddress! }

    /// Start of row `index`.
    public func row(_ index: Int) -> UnsafeRawPointer { base + index * info.rowBytes }
}
