// What a model loader reads: metadata and tensors under GGUF's names and conventions. A GGUF file is
// one; a Hugging Face checkpoint read at load (EmberCheckpoint) is another, so that every
// architecture, the tokenizer and the chat template are built the same way from either.

public protocol ModelSource: AnyObject, Sendable {
    var metadata: GGUFMetadata { get }
    /// In storage order.
    var tensors: [TensorInfo] { get }
    func tensorInfo(named name: String) -> TensorInfo?
    /// A view of the tensor's bytes; nil when there is no such tensor.
    func view(named name: String) -> TensorView?
}

extension ModelSource {
    /// Bytes of all the tensors: the memory the weights take once paged in.
    public var weightBytes: Int { tensors.reduce(0) { $0 + $1.byteCount } }
}

extension GGUFFile: ModelSource {}
