// The CPU backend: weights are read straight from the memory-mapped file, activations live in host
// memory, and every operation is split across one persistent thread pool. One forward pass runs at a
// time (the engine serialises them), so the scratch buffers here are reused without locking.

import EmberFormats

public final class CPUBackend: Backend, @unchecked Sendable {
    public let name = "cpu"
    public let pool: ThreadPool
    /// The matrix kernels in use: portable Swift, or C for AVX2 / AVX-512.
    public let level: KernelLevel
    /// The C kernels of `level` by weight type (empty at the portable level).
    let native: [TensorType: NativeKernels]
    /// Quantized copies of matmul inputs, one buffer per input width, grown to the largest batch seen.
    var quantizedInputs: [Int: Q16Buffer] = [:]
    /// Per-thread attention score rows, grown to the longest context seen.
    let attentionScratch = ScratchBuffer()
    /// The units of work of each sequence of the current attention call (storage kept between calls).
    var attentionPlan: [AttentionPlan] = []
    /// The prefill GEMM's transposed activations, and each thread's weight rows expanded to floats.
    let transposedInput = ScratchBuffer(), weightPanels = ScratchBuffer()
    /// Each thread's up-projection rows while the gated FFN combines them with the gate rows.
    let gatedScratch = ScratchBuffer()
    /// Cosines and sines of the rotary embedding per position, a table per set of parameters (Gemma 3's
    /// local and global layers have one each).
    var ropeTables: [RopeTable] = []
    /// The current step's inputs (`beginStep`).
    let current = StepState()

    public init(threadCount: Int = ThreadPool.defaultThreadCount, kernels level: KernelLevel = .preferred) {
        pool = ThreadPool(threadCount: threadCount)
        self.level = level
        var native: [TensorType: NativeKernels] = [:]
        for type in TensorType.allCases { native[type] = NativeKernels(level: level, type: type) }
        self.native = native
    }

    public var threadCount: Int { pool.threadCount }
    public var hostThreads: ThreadPool { pool }

    public func bind(_ view: TensorView) throws(BackendError) -> Tensor {
        guard ComputableTypes.kernels(for: view.type) != nil else { throw .unsupportedType(tensor: view.name, type: view.type) }
        return Tensor(name: view.name, type: view.type, rowLength: view.info.rowLength, rowCount: view.info.rowCount,
                      storage: HostStorage(address: UnsafeMutableRawPointer(mutating: view.base), owner: .mapped(view)))
    }

    public func makeTensor(name: String, type: TensorType, rows: Int, columns: Int) -> Tensor {
        let bytes = columns / type.blockSize * type.bytesPerBlock * rows
        let allocation = Allocation(bytes: bytes, alignment: 64)
        return Tensor(name: name, type: type, rowLength: columns, rowCount: rows,
                      storage: HostStorage(address: allocation.pointer, owner: .allocation(allocation)))
    }

    public func slice(_ tensor: Tensor, rows range: Range<Int>, name: String) -> Tensor {
        precondition(range.lowerBound >= 0 && range.upperBound <= tensor.rowCount)
        return Tensor(name: name, type: tensor.type, rowLength: tensor.rowLength, rowCount: range.count,
                      storage: HostStorage(address: tensor.data + range.lowerBound * tensor.rowBytes, owner: .slice(of: tensor)))
    }

    public func hostFloats(_ tensor: Tensor, rows: Int) -> UnsafeMutableBufferPointer<Float> {
        precondition(tensor.type == .f32 && rows <= tensor.rowCount)
        return UnsafeMutableBufferPointer(start: tensor.floats(row: 0), count: rows * tensor.rowLength)
    }

    public func readRows(_ tensor: Tensor, _ rows: Range<Int>, into destination: UnsafeMutableRawPointer) {
        precondition(rows.upperBound <= tensor.rowCount)
        destination.copyMemory(from: tensor.data + rows.lowerBound * tensor.rowBytes, byteCount: rows.count * tensor.rowBytes)
    }

    public func supportsCache(_ type: TensorType) -> Bool { type.cacheHeadMultiple != nil }

    public func writeRows(_ tensor: Tensor, _ rows: Range<Int>, from source: UnsafeRawPointer) {
        precondition(rows.upperBound <= tensor.rowCount)
        (tensor.data + rows.lowerBound * tensor.rowBytes).copyMemory(from: source, byteCount: rows.count * tensor.rowBytes)
    }


    /// Expands one row of any supported type to floats.
    func dequantizeRow(_ tensor: Tensor, row: Int, into output: UnsafeMutablePointer<Float>) {
        let source = UnsafeRawPointer(tensor.data + row * tensor.rowBytes)
        let count = tensor.rowLength
        guard let kernels = ComputableTypes.kernels(for: tensor.type) else {
            preconditionFailure("bind() admits only computable types, not \(tensor.type)")
        }
        kernels.dequantize(source, count: count, into: output)
    }
}

/// Float scratch memory that grows to the largest size asked of it and is then reused, so that no
/// operation allocates once the first forward passes have run. 64-byte aligned.
final class ScratchBuffer {
    private var pointer: UnsafeMutableRawPointer?
    private var capacity = 0

    deinit { pointer?.deallocate() }

    /// At least `count` floats; the contents are undefined.
    func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity || pointer == nil {
            pointer?.deallocate()
            capacity = max(count, 1)
            pointer = .allocate(byteCount: capacity * 4, alignment: 64)
        }
        return pointer!.assumingMemoryBound(to: Float.self)
    }
}
