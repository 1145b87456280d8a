// The seam between models and hardware. A model hands a backend each step's inputs once
// (`beginStep`), then describes the step as a sequence of whole-tensor operations (StepOperation; one
// per layer step, never per element); each backend (CPU now, a GPU next) runs them on its own memory.

import EmberFormats

public enum BackendError: Error, Equatable, CustomStringConvertible {
    case unsupportedType(tensor: String, type: TensorType)
    case unsupported(String)
    /// The device failed while running a step (a GPU lost or timed out): the step's results are gone.
    case device(String)

    public var description: String {
        switch self {
        case let .unsupportedType(tensor, type):
            "tensor \"\(tensor)\" has type \(type), which Ember cannot compute with yet (supported: "
                + ComputableTypes.types.map(\.description).joined(separator: ", ") + ")"
        case let .unsupported(what):
            "unsupported: \(what)"
        case let .device(what):
            what
        }
    }
}

/// Which values of a head rotary position embeddings turn together.
public enum RopePairing: Sendable, Equatable {
    /// Values 2i and 2i+1 (llama's "normal" mode, as GGUF stores Llama's Q and K after permuting them).
    case adjacent
    /// Values i and i + dimensions/2 (GPT-NeoX's mode, "rotate half": Qwen2, Qwen3, Gemma, Phi-3).
    case halves
}

/// The activation of a gated feed-forward network's gate.
public enum GateActivation: String, Sendable {
    /// x * sigmoid(x): SwiGLU (Llama, Qwen, Phi-3).
    case silu
    /// GELU with the tanh approximation: GeGLU (Gemma).
    case geluTanh = "gelu_tanh"
}

/// How rotary position embeddings rotate pairs of values.
public struct RopeParameters: Sendable, Hashable {
    /// Values rotated per head (the first `dimensions` of each head).
    public let dimensions: Int
    public let pairing: RopePairing
    public let base: Float
    /// Multiplies every angle (1 / linear scaling factor).
    public let frequencyScale: Float
    /// Per-pair divisors of the angle (llama3 scaling, LongRoPE's factors), `dimensions / 2` of them, or nil.
    public let frequencyFactors: [Float]?
    /// Multiplies every cosine and sine (LongRoPE's attention factor), so a score scales by its square.
    public let magnitude: Float

    public init(dimensions: Int, pairing: RopePairing = .adjacent, base: Float, frequencyScale: Float = 1,
                frequencyFactors: [Float]? = nil, magnitude: Float = 1) {
        self.dimensions = dimensions
        self.pairing = pairing
        self.base = base
        self.frequencyScale = frequencyScale
        self.frequencyFactors = frequencyFactors
        self.magnitude = magnitude
    }
}

/// The heads of one layer's attention, how its scores are scaled, and which positions a query sees.
public struct AttentionShape: Sendable, Equatable {
    public let headCount: Int
    public let kvHeadCount: Int
    public let headDimension: Int
    /// Multiplies each query-key dot product: 1/sqrt(headDimension) unless the model says otherwise.
    public let scale: Float
    /// Positions a query sees, its own included: all before it (nil), or the last `slidingWindow`
    /// (Gemma 3's local layers). A windowed layer's cache may be a ring of fewer rows than the context
    /// (position p at row p % rows), as long as it holds the window and the new rows of a call.
    public let slidingWindow: Int?

    public init(headCount: Int, kvHeadCount: Int, headDimension: Int, scale: Float? = nil, slidingWindow: Int? = nil) {
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.headDimension = headDimension
        self.scale = scale ?? 1 / Float(headDimension).squareRoot()
        self.slidingWindow = slidingWindow
    }

    public var queryWidth: Int { headCount * headDimension }
    public var kvWidth: Int { kvHeadCount * headDimension }
}

/// One sequence's part of an attention call: its rows of the batch, its key and value caches for the
/// layer, and the position of its first new row.
public struct AttentionSequence: Sendable {
    public let rows: Range<Int>
    public let keyCache: Tensor
    public let valueCache: Tensor
    public let start: Int

    public init(rows: Range<Int>, keyCache: Tensor, valueCache: Tensor, start: Int) {
        self.rows = rows
        self.keyCache = keyCache
        self.valueCache = valueCache
        self.start = start
    }
}

public protocol Backend: AnyObject, Sendable {
    var name: String { get }

    /// Makes a weight from a mapped tensor (zero-copy where the backend can read host memory).
    func bind(_ view: TensorView) throws(BackendError) -> Tensor
    /// Allocates a zeroed tensor of `rows` x `columns` elements.
    func makeTensor(name: String, type: TensorType, rows: Int, columns: Int) -> Tensor
    /// Rows `rows` of `tensor` as a tensor of their own, sharing its storage: the parts of a fused
    /// weight (Phi-3's QKV, its gate and up projections).
    func slice(_ tensor: Tensor, rows: Range<Int>, name: String) -> Tensor

    /// Takes the step's inputs (token ids, each sequence's rows and position, the rows that want
    /// logits), once per step: every operation until the next call works on the step's rows, and a
    /// backend organizes them as its hardware needs (the CPU multiplies them a segment at a time, each
    /// computed as it would be alone).
    func beginStep(_ step: StepInputs)

    /// Runs one operation of the step (StepOperation), or records it to run before the next read of
    /// host memory.
    func run(_ operation: StepOperation)
    /// The threads of the host, for host-side work between forward passes (sampling each sequence of
    /// a step); the CPU backend's own pool.
    var hostThreads: ThreadPool { get }
    /// The first `rows` rows of an F32 tensor in host memory, valid until the next operation: where a
    /// backend that records operations runs them. Throws `.device` when the device failed the step.
    func hostFloats(_ tensor: Tensor, rows: Int) throws(BackendError) -> UnsafeMutableBufferPointer<Float>
    /// The index of the largest value of each of the first `rows` rows of an F32 tensor (the lowest on
    /// ties: `LogitScan.argmax`), written to `indices`: greedy tokens, chosen where the logits are, so
    /// that a device sends back only the token ids. Runs what was recorded, as `hostFloats` does.
    func argmaxRows(_ tensor: Tensor, rows: Int, into indices: UnsafeMutablePointer<Int32>) throws(BackendError)
    /// Copies rows `rows` of a tensor to host memory (`rows.count * rowBytes` bytes at `destination`),
    /// after running what was recorded: a KV cache's contents kept aside for a later request.
    func readRows(_ tensor: Tensor, _ rows: Range<Int>, into destination: UnsafeMutableRawPointer) throws(BackendError)
    /// Copies host memory into rows `rows` of a tensor, between steps.
    func writeRows(_ tensor: Tensor, _ rows: Range<Int>, from source: UnsafeRawPointer) throws(BackendError)
    /// Whether its attention reads a KV cache of `type`.
    func supportsCache(_ type: TensorType) -> Bool
}

extension Backend {
    /// F16 and F32, which every backend's attention reads.
    public func supportsCache(_ type: TensorType) -> Bool { type == .f16 || type == .f32 }

    /// On the host: the rows read with `hostFloats`, then scanned.
    public func argmaxRows(_ tensor: Tensor, rows: Int, into indices: UnsafeMutablePointer<Int32>) throws(BackendError) {
        let values = try hostFloats(tensor, rows: rows)
        for row in 0 ..< rows {
            indices[row] = Int32(LogitScan.argmax(values.baseAddress! + row * tensor.rowLength, count: tensor.rowLength))
        }
    }
}
