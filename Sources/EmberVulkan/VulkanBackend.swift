// The GPU backend on Vulkan compute (opt-in: `--gpu`). Weights are uploaded once into blocks of
// device memory; activations, caches and scratch are allocated once. Operations are not run as they
// arrive: each becomes a command (CommandList.swift), and the step's commands are recorded and
// submitted together where the host needs a result (the logits), with one wait; an equal list
// replays its command buffer. Token ids and positions live in a small host-visible step buffer that
// the shaders read, so a replayed step costs one copy, one submit and one wait, and allocates nothing
// on the host or the device. The operations' commands are in VulkanOperations.swift.

import EmberCompute
import EmberFormats
import EmberTrace

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public final class VulkanBackend: Backend, @unchecked Sendable {
    public let name = "vulkan"
    public let context: VulkanContext
    public let hostThreads: ThreadPool
    /// The longest a wait for the GPU may take before the step fails (`EMBER_GPU_TIMEOUT`, seconds).
    public var timeout: Double
    /// Whether a matrix row's values are spread over several invocations (the shape for GPUs) rather
    /// than one invocation per row (for CPU devices such as lavapipe).
    public let spreadsRows: Bool
    /// Whether the shaders reduce with subgroup operations (the device has subgroup arithmetic and
    /// shuffles; `EMBER_VULKAN_NO_SUBGROUPS=1` forces the shared-memory reductions).
    public let usesSubgroups: Bool
    /// Ranges a decode row's attention is split into over its cache (nil: by the cache's size on a GPU,
    /// one on a CPU device).
    let attentionSplits: Int?
    /// Matrix products of at least this many tokens go in 64 x 64 blocks (matmul_tiled.comp).
    let tiledProductTokens: Int
    /// Whether a prompt chunk's attention goes in tiles of 8 rows (attention_tiled.comp, heads up to
    /// 128 wide) rather than a workgroup per row.
    let tilesPromptAttention: Bool
    let arena: DeviceArena

    /// Per row of the step: its token id and its position.
    var stepBuffer: VulkanBuffer
    var rowCount = 0
    var logitRows: [Int] = []
    var commands = CommandList()
    /// Command buffers recorded before, with the lists they hold (most recent last).
    private var recordings: [(commands: CommandList, recording: VulkanRecording)] = []
    private static let recordingLimit = 16
    private var readback: VulkanBuffer?
    /// The staging buffer and recording that copy weights to device memory the host cannot map.
    private var uploads: (staging: VulkanBuffer, recording: VulkanRecording)?
    /// The greedy tokens of a step's logit rows, written by the device.
    private var tokenBuffer: VulkanBuffer?
    var ropeTables: [RopeParameters: (table: RopeTable, buffer: VulkanBuffer)] = [:]
    /// Each gated FFN's gate and up products, by size.
    var gatedScratch: [Int: (gate: VulkanBuffer, up: VulkanBuffer)] = [:]
    /// The ranges of split attention (attention_combine.comp), grown to the largest step.
    var attentionPartials: VulkanBuffer?
    /// Buffers replaced by larger ones, kept for the life of the backend: the command lists and their
    /// recordings name buffers by handle.
    var retired: [VulkanBuffer] = []
    /// A failure of work submitted without a result to return (a step without logits), reported at
    /// the next read.
    var pendingError: BackendError?
    /// A submission whose wait timed out: it may still run, on buffers the next step writes, so the
    /// next step waits for it first.
    private var unfinished: VulkanRecording?
    /// Checkpoints before and after each submit and wait: with `--log-level trace`, the last line of a
    /// stuck run says whether it waits on the GPU.
    private let checkpoint = Checkpoints(label: "ember.gpu")
    /// The GPU's timestamps per operation in the trace, made when op tracing is first seen on.
    var timeline: GPUTimeline?
    var timelineChecked = false

    /// Opens Vulkan device `device`; `.unavailable` says what is missing. `spreadRows` picks the matrix
    /// products' shape (default: by the device's kind, or `EMBER_VULKAN_SPREAD_ROWS=0/1`); `subgroups`
    /// whether reductions use subgroup operations where the device has them (default: yes, unless
    /// `EMBER_VULKAN_NO_SUBGROUPS=1`); `attentionSplits` fixes the ranges of decode attention;
    /// `tilePromptAttention` picks the tiled prompt attention; `tiledProductTokens` the fewest tokens
    /// of a tiled matrix product (default: 16 on a GPU, never on a CPU device, where a row per
    /// invocation is faster); `blockBytes` caps the blocks of device memory below what one binding
    /// sees; `mapsDeviceMemory: false` reaches device memory through staging copies, as on a discrete
    /// GPU. Tests force each path with these.
    public init(device: Int = 0, threadCount: Int = ThreadPool.defaultThreadCount, timeout: Double? = nil,
                spreadRows: Bool? = nil, subgroups: Bool? = nil, attentionSplits: Int? = nil, tilePromptAttention: Bool = true,
                tiledProductTokens: Int? = nil, blockBytes: Int? = nil, mapsDeviceMemory: Bool = true) throws(VulkanError) {
        context = try VulkanContext(device: device, mapsDeviceMemory: mapsDeviceMemory)
        let forced = getenv("EMBER_VULKAN_SPREAD_ROWS").map { String(cString: $0) != "0" }
        spreadsRows = spreadRows ?? forced ?? (context.device.kind != .cpu)
        let noSubgroups = getenv("EMBER_VULKAN_NO_SUBGROUPS").map { String(cString: $0) != "0" } ?? false
        usesSubgroups = (subgroups ?? !noSubgroups) && context.device.subgroupArithmetic && context.device.subgroupShuffle
        precondition(attentionSplits.map { $0 >= 1 } ?? true, "attention splits must be at least 1")
        self.attentionSplits = attentionSplits
        tilesPromptAttention = tilePromptAttention
        self.tiledProductTokens = tiledProductTokens ?? (spreadsRows ? 16 : Int.max)
        hostThreads = ThreadPool(threadCount: threadCount)
        let environment = getenv("EMBER_GPU_TIMEOUT").flatMap { Double(String(cString: $0)) }
        self.timeout = timeout ?? environment ?? 120
        let binding = min(Int(context.device.maxStorageBufferRange), 1 << 30) / 4096 * 4096
        arena = DeviceArena(context: context, blockBytes: min(blockBytes ?? binding, binding))
        stepBuffer = try context.makeBuffer(bytes: 8 * 512, hostVisible: true)
    }

    // MARK: Tensors

    public func bind(_ view: TensorView) throws(BackendError) -> Tensor {
        // The shaders decode every computable type (common.glsl; VulkanOperationTests checks each).
        guard ComputableTypes.types.contains(view.type) else { throw .unsupportedType(tensor: view.name, type: view.type) }
        let rowBytes = view.info.rowLength / view.type.blockSize * view.type.bytesPerBlock
        do {
            let parts = try arena.allocate(rows: view.info.rowCount, rowBytes: rowBytes)
            for part in parts {
                try upload(view.base + part.firstRow * rowBytes, bytes: part.rows * rowBytes, to: part.buffer, offset: part.offset)
            }
            return Tensor(name: view.name, type: view.type, rowLength: view.info.rowLength, rowCount: view.info.rowCount,
                          storage: VulkanStorage(parts: parts))
        } catch {
            throw .device("uploading \(view.name) to the GPU: \(error)")
        }
    }

    public func makeTensor(name: String, type: TensorType, rows: Int, columns: Int) -> Tensor {
        let rowBytes = columns / type.blockSize * type.bytesPerBlock
        let parts: [DeviceArena.Part]
        do {
            parts = try arena.allocate(rows: rows, rowBytes: rowBytes)
        } catch {
            preconditionFailure("GPU memory for \(name): \(error)")
        }
        for part in parts {
            if let contents = part.buffer.contents {
                (contents + part.offset).initializeMemory(as: UInt8.self, repeating: 0, count: part.rows * rowBytes)
            } else {
                commands.fill(part.buffer, offset: part.offset, bytes: (part.rows * rowBytes + 3) / 4 * 4)
            }
        }
        return Tensor(name: name, type: type, rowLength: columns, rowCount: rows, storage: VulkanStorage(parts: parts))
    }

    public func slice(_ tensor: Tensor, rows range: Range<Int>, name: String) -> Tensor {
        let rowBytes = tensor.rowBytes
        let parts = tensor.gpuParts.compactMap { part -> DeviceArena.Part? in
            let first = max(range.lowerBound, part.firstRow), end = min(range.upperBound, part.firstRow + part.rows)
            guard first < end else { return nil }
            return DeviceArena.Part(buffer: part.buffer, offset: part.offset + (first - part.firstRow) * rowBytes,
                                    firstRow: first - range.lowerBound, rows: end - first)
        }
        return Tensor(name: name, type: tensor.type, rowLength: tensor.rowLength, rowCount: range.count, storage: VulkanStorage(parts: parts))
    }

    /// Copies `bytes` from the host into `buffer` at `offset`: directly where the host maps the
    /// device's memory, else through a staging buffer.
    private func upload(_ source: UnsafeRawPointer, bytes: Int, to buffer: VulkanBuffer, offset: Int) throws(VulkanError) {
        if let contents = buffer.contents {
            (contents + offset).copyMemory(from: source, byteCount: bytes)
            return
        }
        // One staging buffer and recording serve every upload: grown to the largest piece, at most 64 MiB.
        let chunk = 64 << 20
        if uploads == nil || uploads!.staging.byteCount < min(bytes, chunk) {
            uploads = (try context.makeBuffer(bytes: min(max(bytes, 16 << 20), chunk), hostVisible: true), try context.makeRecording())
        }
        let (staging, recording) = uploads!
        var done = 0
        while done < bytes {
            let count = min(staging.byteCount, bytes - done)
            staging.contents!.copyMemory(from: source + done, byteCount: count)
            var copy = CommandList()
            copy.copy(from: staging, offset: 0, to: buffer, offset: offset + done, bytes: count)
            try copy.record(into: recording)
            try recording.run(timeout: timeout)
            done += count
        }
    }

    // MARK: Steps

    public func beginStep(_ step: StepInputs) {
        finishPendingWork()
        do {
            try awaitUnfinished()
        } catch {
            pendingError = pendingError ?? .device("\(error)")
            return
        }
        rowCount = step.rowCount
        logitRows.removeAll(keepingCapacity: true)
        logitRows.append(contentsOf: step.logitRows)
        if 8 * step.rowCount > stepBuffer.byteCount {
            do {
                retired.append(stepBuffer)
                stepBuffer = try context.makeBuffer(bytes: 8 * max(step.rowCount, 2 * stepBuffer.byteCount / 8), hostVisible: true)
            } catch {
                pendingError = .device("\(error)")
                return
            }
        }
        let words = stepBuffer.contents!.assumingMemoryBound(to: UInt32.self)
        step.tokens.withUnsafeBufferPointer { tokens in
            for (index, token) in tokens.enumerated() { words[2 * index] = UInt32(bitPattern: token) }
        }
        for sequence in step.sequences {
            for (offset, row) in sequence.rows.enumerated() { words[2 * row + 1] = UInt32(sequence.start + offset) }
        }
    }

    public func hostFloats(_ tensor: Tensor, rows: Int) throws(BackendError) -> UnsafeMutableBufferPointer<Float> {
        precondition(tensor.type == .f32 && rows <= tensor.rowCount)
        let bytes = try read(tensor, 0 ..< rows)
        return UnsafeMutableBufferPointer(start: bytes.assumingMemoryBound(to: Float.self), count: rows * tensor.rowLength)
    }

    public func readRows(_ tensor: Tensor, _ rows: Range<Int>, into destination: UnsafeMutableRawPointer) throws(BackendError) {
        destination.copyMemory(from: try read(tensor, rows), byteCount: rows.count * tensor.rowBytes)
    }

    /// Runs what was recorded and copies rows `rows` of `tensor` into the read-back buffer.
    private func read(_ tensor: Tensor, _ rows: Range<Int>) throws(BackendError) -> UnsafeMutableRawPointer {
        precondition(rows.upperBound <= tensor.rowCount)
        let bytes = rows.count * tensor.rowBytes
        if (readback?.byteCount ?? 0) < bytes {
            do {
                if let readback { retired.append(readback) }
                readback = try context.makeBuffer(bytes: bytes, hostVisible: true)
            } catch {
                throw .device("\(error)")
            }
        }
        if bytes > 0 {
            let part = tensor.gpu
            commands.copy(from: part.buffer, offset: part.offset + rows.lowerBound * tensor.rowBytes, to: readback!, offset: 0, bytes: bytes)
        }
        try finishStep()
        return readback!.contents!
    }

    public func writeRows(_ tensor: Tensor, _ rows: Range<Int>, from source: UnsafeRawPointer) throws(BackendError) {
        precondition(rows.upperBound <= tensor.rowCount)
        try finishStep()
        let part = tensor.gpu
        do {
            try upload(source, bytes: rows.count * tensor.rowBytes, to: part.buffer, offset: part.offset + rows.lowerBound * tensor.rowBytes)
        } catch {
            throw .device("writing \(tensor.name) on the GPU: \(error)")
        }
    }

    public func argmaxRows(_ tensor: Tensor, rows: Int, into tokens: UnsafeMutablePointer<Int32>) throws(BackendError) {
        precondition(tensor.type == .f32 && rows <= tensor.rowCount)
        if (tokenBuffer?.byteCount ?? 0) < 4 * rows {
            do {
                if let tokenBuffer { retired.append(tokenBuffer) }
                tokenBuffer = try context.makeBuffer(bytes: 4 * max(rows, 64), hostVisible: true)
            } catch {
                throw .device("\(error)")
            }
        }
        if rows > 0 { argmax(tensor, rows: rows, into: tokenBuffer!) }
        try finishStep()
        tokens.update(from: tokenBuffer!.contents!.assumingMemoryBound(to: Int32.self), count: rows)
    }

    /// Runs what the step recorded and reports its failure.
    private func finishStep() throws(BackendError) {
        finishPendingWork()
        if let error = pendingError {
            pendingError = nil
            throw error
        }
    }

    /// Waits for a submission whose wait timed out before.
    private func awaitUnfinished() throws(VulkanError) {
        guard let unfinished else { return }
        checkpoint("gpu wait for an earlier step", ["timeout_s": "\(timeout)"])
        try unfinished.wait(timeout: timeout)
        self.unfinished = nil
    }

    /// Records (or finds recorded) the commands so far, submits them and waits.
    private func finishPendingWork() {
        guard !commands.isEmpty else { return }
        defer { commands.removeAll() }
        guard pendingError == nil else {
            timeline?.discard()
            return
        }
        do {
            try awaitUnfinished()
            let recording: VulkanRecording
            let known = recordings.firstIndex { $0.commands == commands }
            if let known {
                recording = recordings[known].recording
                recordings.append(recordings.remove(at: known))
            } else {
                recording = try context.makeRecording()
                try commands.record(into: recording)
                recordings.append((commands, recording))
                if recordings.count > Self.recordingLimit { recordings.removeFirst() }
            }
            checkpoint("gpu submit", ["commands": "\(commands.count)", "replayed": "\(known != nil)"])
            try recording.submit()
            checkpoint("gpu wait", ["timeout_s": "\(timeout)"])
            do throws(VulkanError) {
                try recording.wait(timeout: timeout)
            } catch {
                if case .timeout = error { unfinished = recording }
                throw error
            }
            checkpoint("gpu done")
            timeline?.emit(waitReturned: TraceClock.now())
        } catch {
            timeline?.discard()
            pendingError = .device("\(error)")
        }
    }

    /// Recordings made so far (replays do not add one): for tests.
    public var recordingCount: Int { recordings.count }
}
