// A memory-mapped safetensors file: its checked header and zero-copy views of its tensors. A
// safetensors shape lists the outermost dimension first; GGUF's (and Ember's) lists the row length
// first, so views reverse it. Only the floating-point dtypes a model's weights use are viewable.

public final class SafetensorsFile: Sendable {
    public let file: MappedFile
    public let header: SafetensorsHeader
    private let index: [String: Int]

    public convenience init(path: String) throws(SafetensorsError) {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch { throw .file(error) }
        try self.init(file: file)
    }

    public init(file: MappedFile) throws(SafetensorsError) {
        self.file = file
        header = try SafetensorsHeader(prefix: file.bytes, fileSize: file.count)
        index = Dictionary(header.tensors.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public var tensors: [SafetensorsHeader.Tensor] { header.tensors }

    public func tensor(named name: String) -> SafetensorsHeader.Tensor? {
        index[name].map { header.tensors[$0] }
    }

    /// The element type of a safetensors dtype, nil for those a model's weights are never computed in.
    public static func tensorType(of dtype: String) -> TensorType? {
        switch dtype {
        case "F32": .f32
        case "F16": .f16
        case "BF16": .bf16
        default: nil
        }
    }

    /// A zero-copy view of `tensor` named `name`, its shape in GGUF order.
    public func view(_ tensor: SafetensorsHeader.Tensor, name: String) throws(SafetensorsError) -> TensorView {
        guard let type = Self.tensorType(of: tensor.dtype) else { throw .unsupportedDType(tensor.name, tensor.dtype) }
        let shape = Array(tensor.shape.reversed())
        let elements = shape.reduce(1, *)
        let info = TensorInfo(name: name, type: type, shape: shape.isEmpty ? [1] : shape, dataOffset: tensor.range.lowerBound,
                              elementCount: elements, byteCount: tensor.range.count)
        return TensorView(info: info, bytes: UnsafeRawBufferPointer(rebasing: file.bytes[tensor.range]), file: file)
    }
}
