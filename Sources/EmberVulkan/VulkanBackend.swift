// The GPU backend on Vulkan compute (opt-in: `--gpu`). Weights are uploaded once into blocks of
// device memory; activations, caches and scratch are allocated once. Operations are not run as they
// arrive: each becomes a command (CommandList.swift), and the step's commands are recorded and
// submitted together where the host needs a result (the logits), with one wait; an equal list
// replays its command buffer. Token ids and positions live in a small host-visible step buffer that
// the shaders read, so a replayed step costs one copy, one submit and one wait.

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
    let arena: DeviceArena

    /// Per row of the step: its token id and its position.
    private var stepBuffer: VulkanBuffer
    private var rowCount = 0
    private var logitRows: [Int] = []
    private var commands: [Command] = []
    /// Command buffers recorded before, with the lists they hold (most recent last).
    private var recordings: [(commands: [Command], recording: VulkanRecording)] = []
    private static let recordingLimit = 16
    private var readback: VulkanBuffer?
    private var ropeTables: [RopeParameters: (table: RopeTable, buffer: VulkanBuffer)] = [:]
    /// Each gated FFN's gate and up products, by size.
    private var gatedScratch: [Int: (gate: VulkanBuffer, up: VulkanBuffer)] = [:]
    /// Buffers replaced by larger ones, kept while a recording may still name them.
    private var retired: [VulkanBuffer] = []
    /// A failure of work submitted without a result to return (a step without logits), reported at
    /// the next read.
    private var pendingError: BackendError?
    /// A submission whose wait timed out: it may still run, on buffers the next step writes, so the
    /// next step waits for it first.
    private var unfinished: VulkanRecording?
    /// Checkpoints before and after each submit and wait: with `--log-level trace`, the last line of a
    /// stuck run says whether it waits on the GPU.
    private let checkpoint = Checkpoints(label: "ember.gpu")
    /// The GPU's timestamps per operation in the trace, made when op tracing is first seen on.
    private var timeline: GPUTimeline?
    private var timelineChecked = false


    /// Opens Vulkan device `device`; `.unavailable` says what is missing. `spreadRows` picks the matrix
    /// products' shape (default: by the device's kind, or `EMBER_VULKAN_SPREAD_ROWS=0/1`);
    /// `blockBytes` caps the blocks of device memory below what one binding sees (tests split weights
    /// with it).
    public init(device: Int = 0, threadCount: Int = ThreadPool.defaultThreadCount, timeout: Double? = nil,
                spreadRows: Bool? = nil, blockBytes: Int? = nil) throws(VulkanError) {
        context = try VulkanContext(device: device)
        let forced = getenv("EMBER_VULKAN_SPREAD_ROWS").map { String(cString: $0) != "0" }
        spreadsRows = spreadRows ?? forced ?? (context.device.kind != .cpu)
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
                commands.append(.fill(part.buffer, offset: part.offset, bytes: (part.rows * rowBytes + 3) / 4 * 4))
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
        let chunk = 64 << 20
        let staging = try context.makeBuffer(bytes: min(bytes, chunk), hostVisible: true)
        let recording = try context.makeRecording()
        var done = 0
        while done < bytes {
            let count = min(chunk, bytes - done)
            staging.contents!.copyMemory(from: source + done, byteCount: count)
            try recording.record([.copy(from: staging, sourceOffset: 0, to: buffer, destinationOffset: offset + done, bytes: count)])
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
        let bytes = 4 * rows * tensor.rowLength
        if (readback?.byteCount ?? 0) < bytes {
            do {
                if let readback { retired.append(readback) }
                readback = try context.makeBuffer(bytes: bytes, hostVisible: true)
            } catch {
                throw .device("\(error)")
            }
        }
        if bytes > 0 { commands.append(.copy(from: tensor.gpu.buffer, sourceOffset: tensor.gpu.offset, to: readback!, destinationOffset: 0, bytes: bytes)) }
        finishPendingWork()
        if let error = pendingError {
            pendingError = nil
            throw error
        }
        return UnsafeMutableBufferPointer(start: readback!.contents!.assumingMemoryBound(to: Float.self), count: rows * tensor.rowLength)
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
        defer { commands.removeAll(keepingCapacity: true) }
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
                try recording.record(commands)
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

    // MARK: Operations

    public func run(_ operation: StepOperation) {
        if !timelineChecked && Trace.isOn(.op) {
            timelineChecked = true
            timeline = GPUTimeline(context: context)
        }
        guard let timeline, let opening = timeline.begin(operation.name) else { return record(operation) }
        commands.append(contentsOf: opening)
        record(operation)
        commands.append(timeline.end())
    }

    private func record(_ operation: StepOperation) {
        switch operation {
        case let .embed(table, output): embed(table, into: output)
        case let .rmsNorm(x, adding, weight, epsilon, output):
            rmsNorm(x, adding: adding, weight: weight, epsilon: epsilon, width: x.rowLength, rows: rowCount, into: output)
        case let .matmul(x, weights, outputs):
            for (weight, output) in zip(weights, outputs) { matmul(x, weight: weight, tokens: rowCount, into: output) }
            commands.append(.barrier)
        case let .matmulGated(x, gate, up, activation, output): matmulGated(x, gate: gate, up: up, activation: activation, into: output)
        case let .attention(query, key, value, sequences, rope, shape, output):
            attention(query: query, key: key, value: value, sequences: sequences, rope: rope, shape: shape, into: output)
        case let .logits(x, gathered, weights, outputs): logits(x, gathered: gathered, weights: weights, into: outputs)
        case let .addBias(x, bias): elementwise(0, x, other: bias, count: rowCount * x.rowLength, width: x.rowLength)
        case let .rmsNormHeads(x, headDimension, weight, epsilon):
            rmsNorm(x, adding: nil, weight: weight, epsilon: epsilon, width: headDimension, rows: rowCount * x.rowLength / headDimension, into: x)
        case let .scale(x, factor): elementwise(1, x, count: rowCount * x.rowLength, width: x.rowLength, factor: factor)
        case let .softcap(x, rows, cap): elementwise(2, x, count: rows * x.rowLength, width: x.rowLength, factor: cap)
        }
    }

    private func pipeline(_ name: String, bindings: Int, pushWords: Int, constants: [UInt32]) -> UInt32? {
        do {
            return try context.pipeline(name, bindings: bindings, pushBytes: 4 * pushWords, constants: constants)
        } catch {
            pendingError = .device("\(error)")
            return nil
        }
    }

    private func dispatch(_ pipeline: UInt32, _ buffers: [VulkanBuffer], _ push: [UInt32], groups: Int, height: Int = 1) {
        // Past 65,535 workgroups in x (the least a device must allow), the rest go to y.
        let x = min(groups, 65535), y = (groups + x - 1) / max(x, 1)
        commands.append(.dispatch(Dispatch(pipeline: pipeline, buffers: buffers, push: push, groups: [UInt32(x), UInt32(y * height), 1])))
    }

    private func embed(_ table: Tensor, into output: Tensor) {
        guard let pipeline = pipeline("embed", bindings: 5, pushWords: 7, constants: [64, table.type.rawValue]) else { return }
        for part in table.gpuParts {
            commands.append(.dispatch(Dispatch(
                pipeline: pipeline, buffers: [part.buffer, part.buffer, part.buffer, stepBuffer, output.gpu.buffer],
                push: [UInt32(table.rowLength), UInt32(table.rowBytes), UInt32(part.offset), UInt32(part.firstRow), UInt32(part.rows),
                       output.wordOffset, UInt32(output.rowLength)],
                groups: [UInt32(rowCount), 1, 1])))
        }
        commands.append(.barrier)
    }

    private func rmsNorm(_ x: Tensor, adding: Tensor?, weight: Tensor, epsilon: Float, width: Int, rows: Int, into output: Tensor) {
        precondition(weight.type == .f32, "norm weight \(weight.name) is \(weight.type); the GPU reads F32 norms")
        guard let pipeline = pipeline("rms_norm", bindings: 4, pushWords: 7, constants: [128]) else { return }
        let adding = adding ?? x, w = weight.gpu
        dispatch(pipeline, [x.gpu.buffer, adding.gpu.buffer, w.buffer, output.gpu.buffer],
                 [UInt32(width), adding === x ? 0 : 1, epsilon.bitPattern, x.wordOffset, adding.wordOffset, UInt32(w.offset / 4),
                  output.wordOffset], groups: rows)
        commands.append(.barrier)
    }

    /// `output[t] = weight * x[t]` for `tokens` rows of `x` (no barrier: the caller adds one after a group).
    private func matmul(_ x: Tensor, weight: Tensor, tokens: Int, into output: Tensor, outputBuffer: VulkanBuffer? = nil,
                        outputOffset: UInt32? = nil, outputStride: Int? = nil) {
        // Invocations per row: spread, about four chunks of four values each, a power of 2 up to the
        // workgroup, so that a row's reads are spread over its invocations; else one each (on lavapipe,
        // whose SIMD lanes are a workgroup's invocations, 1.3-2x faster).
        let chunks = (weight.rowLength + 3) / 4
        var rowThreads = 1
        while spreadsRows && rowThreads * 2 <= min(64, chunks / 4) { rowThreads *= 2 }
        let rowsPerGroup = 64 / rowThreads
        guard let pipeline = pipeline("matmul", bindings: 5, pushWords: 9, constants: [64, weight.type.rawValue, UInt32(rowThreads)]) else { return }
        for part in weight.gpuParts {
            dispatch(pipeline, [part.buffer, part.buffer, part.buffer, x.gpu.buffer, outputBuffer ?? output.gpu.buffer],
                     [UInt32(weight.rowLength), UInt32(part.rows), UInt32(weight.rowBytes), UInt32(part.offset), UInt32(tokens),
                      x.wordOffset, UInt32(x.rowLength), (outputOffset ?? output.wordOffset) + UInt32(part.firstRow),
                      UInt32(outputStride ?? output.rowLength)], groups: (part.rows + rowsPerGroup - 1) / rowsPerGroup)
        }
    }

    private func matmulGated(_ x: Tensor, gate: Tensor, up: Tensor, activation: GateActivation, into output: Tensor) {
        let count = x.rowCount * gate.rowCount
        if gatedScratch[count] == nil {
            do {
                gatedScratch[count] = (try context.makeBuffer(bytes: 4 * count, hostVisible: false),
                                       try context.makeBuffer(bytes: 4 * count, hostVisible: false))
            } catch {
                pendingError = .device("\(error)")
                return
            }
        }
        let scratch = gatedScratch[count]!
        matmul(x, weight: gate, tokens: rowCount, into: output, outputBuffer: scratch.gate, outputOffset: 0, outputStride: gate.rowCount)
        matmul(x, weight: up, tokens: rowCount, into: output, outputBuffer: scratch.up, outputOffset: 0, outputStride: gate.rowCount)
        commands.append(.barrier)
        guard let pipeline = pipeline("elementwise", bindings: 3, pushWords: 6, constants: [256, activation == .silu ? 3 : 4]) else { return }
        let elements = rowCount * gate.rowCount
        dispatch(pipeline, [scratch.gate, scratch.up, output.gpu.buffer], [UInt32(elements), UInt32(gate.rowCount), 0, 0, 0, output.wordOffset],
                 groups: (elements + 255) / 256)
        commands.append(.barrier)
    }

    private func elementwise(_ operation: UInt32, _ x: Tensor, other: Tensor? = nil, count: Int, width: Int, factor: Float = 0) {
        guard count > 0, let pipeline = pipeline("elementwise", bindings: 3, pushWords: 6, constants: [256, operation]) else { return }
        let other = other ?? x
        dispatch(pipeline, [x.gpu.buffer, other.gpu.buffer, x.gpu.buffer],
                 [UInt32(count), UInt32(width), factor.bitPattern, x.wordOffset, other.wordOffset, x.wordOffset], groups: (count + 255) / 256)
        commands.append(.barrier)
    }

    /// The rope table of `rope` on the device, covering positions up to `last`.
    private func ropeBuffer(_ rope: RopeParameters, through last: Int) -> VulkanBuffer? {
        if let known = ropeTables[rope], known.table.positions > last { return known.buffer }
        let table = ropeTables[rope]?.table ?? RopeTable(rope)
        table.prepare(through: max(last, 4095))
        do {
            let buffer = try context.makeBuffer(bytes: 4 * table.positions * rope.dimensions, hostVisible: true)
            table.withValues { buffer.contents!.copyMemory(from: $0.baseAddress!, byteCount: 4 * table.positions * rope.dimensions) }
            if let old = ropeTables[rope]?.buffer { retired.append(old) }
            ropeTables[rope] = (table, buffer)
            return buffer
        } catch {
            pendingError = .device("\(error)")
            return nil
        }
    }

    private func attention(query: Tensor, key: Tensor, value: Tensor, sequences: [AttentionSequence], rope: RopeParameters,
                           shape: AttentionShape, into output: Tensor) {
        guard let first = sequences.first else { return }
        let half: UInt32 = first.keyCache.type == .f16 ? 1 : 0, elementBytes = first.keyCache.type == .f16 ? 2 : 4
        let last = sequences.map { $0.start + $0.rows.count }.max()! - 1
        guard let table = ropeBuffer(rope, through: last),
              let store = pipeline("rope_store", bindings: 9, pushWords: 15, constants: [64, half]),
              let attend = pipeline("attention", bindings: 7, pushWords: 13, constants: [64, half, 256])
        else { return }
        precondition(shape.headDimension <= 256, "the GPU's attention handles heads up to 256 wide")
        for sequence in sequences {
            let keys = sequence.keyCache.gpu, values = sequence.valueCache.gpu
            dispatch(store, [query.gpu.buffer, key.gpu.buffer, value.gpu.buffer, stepBuffer, table, keys.buffer, keys.buffer,
                             values.buffer, values.buffer],
                     [UInt32(sequence.rows.lowerBound), query.wordOffset, UInt32(query.rowLength), key.wordOffset, UInt32(key.rowLength),
                      value.wordOffset, UInt32(value.rowLength), UInt32(shape.headCount), UInt32(shape.kvHeadCount),
                      UInt32(shape.headDimension), UInt32(rope.dimensions / 2), rope.pairing == .halves ? 1 : 0,
                      UInt32(sequence.keyCache.rowCount), UInt32(keys.offset / elementBytes), UInt32(values.offset / elementBytes)],
                     groups: sequence.rows.count)
        }
        commands.append(.barrier)
        for sequence in sequences {
            let keys = sequence.keyCache.gpu, values = sequence.valueCache.gpu
            dispatch(attend, [query.gpu.buffer, stepBuffer, keys.buffer, keys.buffer, values.buffer, values.buffer, output.gpu.buffer],
                     [UInt32(sequence.rows.lowerBound), query.wordOffset, UInt32(query.rowLength), output.wordOffset, UInt32(output.rowLength),
                      UInt32(shape.headCount), UInt32(shape.kvHeadCount), UInt32(shape.headDimension), UInt32(sequence.keyCache.rowCount),
                      UInt32(keys.offset / elementBytes), UInt32(values.offset / elementBytes), UInt32(shape.slidingWindow ?? 0),
                      shape.scale.bitPattern], groups: sequence.rows.count, height: shape.headCount)
        }
        commands.append(.barrier)
    }

    private func logits(_ x: Tensor, gathered: Tensor, weights: [Tensor], into outputs: [Tensor]) {
        guard !logitRows.isEmpty else { return }
        let rowBytes = 4 * x.rowLength
        for (index, row) in logitRows.enumerated() {
            commands.append(.copy(from: x.gpu.buffer, sourceOffset: x.gpu.offset + row * rowBytes, to: gathered.gpu.buffer,
                                  destinationOffset: gathered.gpu.offset + index * rowBytes, bytes: rowBytes))
        }
        commands.append(.barrier)
        for (weight, output) in zip(weights, outputs) { matmul(gathered, weight: weight, tokens: logitRows.count, into: output) }
        commands.append(.barrier)
    }
}
