// The GPU backend's operations: each step operation becomes dispatches of the shaders in Shaders/
// (with barriers between dependent ones) appended to the step's command list. Pipelines come from the
// context's cache by (shader, specialization constants); buffers and push constants go in inline
// arrays, so describing a step allocates nothing once its scratch buffers exist.

import EmberCompute
import EmberTrace

extension VulkanBackend {
    public func run(_ operation: StepOperation) {
        if !timelineChecked && Trace.isOn(.op) {
            timelineChecked = true
            timeline = GPUTimeline(context: context)
        }
        guard let timeline, timeline.begin(operation.name, in: &commands) else { return record(operation) }
        record(operation)
        timeline.end(in: &commands)
    }

    private func record(_ operation: StepOperation) {
        switch operation {
        case let .embed(table, output): embed(table, into: output)
        case let .rmsNorm(x, adding, weight, epsilon, output):
            rmsNorm(x, adding: adding, weight: weight, epsilon: epsilon, width: x.rowLength, rows: rowCount, into: output)
        case let .matmul(x, weights, outputs):
            for (weight, output) in zip(weights, outputs) { matmul(x, weight: weight, tokens: rowCount, into: output) }
            commands.barrier()
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

    /// The pipeline of `name` (its `_subgroups` build when `subgroups`) with these constants; nil, with
    /// the step failed, when it cannot be made.
    private func pipeline<let N: Int>(_ name: String, subgroups: Bool = false, bindings: Int, pushWords: Int,
                                      constants: InlineArray<N, UInt32>) -> UInt32? {
        do {
            return try context.pipeline(subgroups ? name + "_subgroups" : name, bindings: bindings, pushBytes: 4 * pushWords, constants: constants)
        } catch {
            pendingError = .device("\(error)")
            return nil
        }
    }

    /// A dispatch of `groups` workgroups (past 65,535 in x, the least a device must allow, the rest go
    /// to y), times `height` in y and `depth` in z.
    private func dispatch<let B: Int, let P: Int>(_ pipeline: UInt32, _ buffers: InlineArray<B, VulkanBuffer>, _ push: InlineArray<P, UInt32>,
                                                  groups: Int, height: Int = 1, depth: Int = 1) {
        let x = min(groups, 65535), y = (groups + x - 1) / max(x, 1)
        commands.dispatch(pipeline, buffers, push: push, groups: (x, y * height, depth))
    }

    private func embed(_ table: Tensor, into output: Tensor) {
        guard let pipeline = pipeline("embed", bindings: 5, pushWords: 7, constants: [64, table.type.rawValue]) else { return }
        for part in table.gpuParts {
            commands.dispatch(pipeline, [part.buffer, part.buffer, part.buffer, stepBuffer, output.gpu.buffer],
                              push: [UInt32(table.rowLength), UInt32(table.rowBytes), UInt32(part.offset), UInt32(part.firstRow), UInt32(part.rows),
                                     output.wordOffset, UInt32(output.rowLength)],
                              groups: (rowCount, 1, 1))
        }
        commands.barrier()
    }

    private func rmsNorm(_ x: Tensor, adding: Tensor?, weight: Tensor, epsilon: Float, width: Int, rows: Int, into output: Tensor) {
        precondition(weight.type == .f32, "norm weight \(weight.name) is \(weight.type); the GPU reads F32 norms")
        guard let pipeline = pipeline("rms_norm", subgroups: usesSubgroups, bindings: 4, pushWords: 7, constants: [128]) else { return }
        let adding = adding ?? x, w = weight.gpu
        dispatch(pipeline, [x.gpu.buffer, adding.gpu.buffer, w.buffer, output.gpu.buffer],
                 [UInt32(width), adding === x ? 0 : 1, epsilon.bitPattern, x.wordOffset, adding.wordOffset, UInt32(w.offset / 4),
                  output.wordOffset], groups: rows)
        commands.barrier()
    }

    /// `output[t] = weight * x[t]` for `tokens` rows of `x` (no barrier: the caller adds one after a group):
    /// a prompt's many tokens in 64 x 64 blocks (matmul_tiled.comp), a few a weight row at a time.
    private func matmul(_ x: Tensor, weight: Tensor, tokens: Int, into output: Tensor, outputBuffer: VulkanBuffer? = nil,
                        outputOffset: UInt32? = nil, outputStride: Int? = nil) {
        let tiled = tokens >= tiledProductTokens
        // Invocations per row: spread, about four chunks of four values each, a power of 2 up to the
        // workgroup, so that a row's reads are spread over its invocations; else one each (on lavapipe,
        // whose SIMD lanes are a workgroup's invocations, 1.3-2x faster).
        let chunks = (weight.rowLength + 3) / 4
        var rowThreads = 1
        while spreadsRows && rowThreads * 2 <= min(64, chunks / 4) { rowThreads *= 2 }
        let rowsPerGroup = tiled ? 64 : 64 / rowThreads
        let found = tiled ? pipeline("matmul_tiled", bindings: 5, pushWords: 9, constants: [weight.type.rawValue])
                          : pipeline("matmul", subgroups: usesSubgroups, bindings: 5, pushWords: 9,
                                     constants: [64, weight.type.rawValue, UInt32(rowThreads)])
        guard let pipeline = found else { return }
        for part in weight.gpuParts {
            dispatch(pipeline, [part.buffer, part.buffer, part.buffer, x.gpu.buffer, outputBuffer ?? output.gpu.buffer],
                     [UInt32(weight.rowLength), UInt32(part.rows), UInt32(weight.rowBytes), UInt32(part.offset), UInt32(tokens),
                      x.wordOffset, UInt32(x.rowLength), (outputOffset ?? output.wordOffset) + UInt32(part.firstRow),
                      UInt32(outputStride ?? output.rowLength)],
                     groups: (part.rows + rowsPerGroup - 1) / rowsPerGroup, depth: tiled ? (tokens + 63) / 64 : 1)
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
        commands.barrier()
        guard let pipeline = pipeline("elementwise", bindings: 3, pushWords: 6, constants: [256, activation == .silu ? 3 : 4]) else { return }
        let elements = rowCount * gate.rowCount
        dispatch(pipeline, [scratch.gate, scratch.up, output.gpu.buffer], [UInt32(elements), UInt32(gate.rowCount), 0, 0, 0, output.wordOffset],
                 groups: (elements + 255) / 256)
        commands.barrier()
    }

    private func elementwise(_ operation: UInt32, _ x: Tensor, other: Tensor? = nil, count: Int, width: Int, factor: Float = 0) {
        guard count > 0, let pipeline = pipeline("elementwise", bindings: 3, pushWords: 6, constants: [256, operation]) else { return }
        let other = other ?? x
        dispatch(pipeline, [x.gpu.buffer, other.gpu.buffer, x.gpu.buffer],
                 [UInt32(count), UInt32(width), factor.bitPattern, x.wordOffset, other.wordOffset, x.wordOffset], groups: (count + 255) / 256)
        commands.barrier()
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

    /// Ranges a sequence's attention is split into: a decode row's over a cache of more than 512
    /// positions on a GPU (fixed by the cache's size, so that every step of a decode replays), else one.
    private func splits(_ sequence: AttentionSequence) -> Int {
        guard sequence.rows.count == 1 else { return 1 }
        if let attentionSplits { return attentionSplits }
        return spreadsRows ? min(32, max(1, sequence.keyCache.rowCount / 512)) : 1
    }

    /// Room for the ranges of every split sequence of a step: nil, with the step failed, when none.
    private func partials(floats: Int) -> VulkanBuffer? {
        if let attentionPartials, attentionPartials.byteCount >= 4 * floats { return attentionPartials }
        do {
            let buffer = try context.makeBuffer(bytes: 4 * max(floats, 2 * (attentionPartials?.byteCount ?? 0) / 4), hostVisible: false)
            if let attentionPartials { retired.append(attentionPartials) }
            attentionPartials = buffer
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
        var last = 0, partialFloats = 0
        for sequence in sequences {
            last = max(last, sequence.start + sequence.rows.count - 1)
            let ranges = splits(sequence)
            if ranges > 1 { partialFloats += shape.headCount * ranges * (shape.headDimension + 2) }
        }
        guard let table = ropeBuffer(rope, through: last),
              let store = pipeline("rope_store", bindings: 9, pushWords: 15, constants: [64, half]),
              let attend = pipeline("attention", bindings: 8, pushWords: 15, constants: [64, half, 256]),
              let combine = pipeline("attention_combine", bindings: 2, pushWords: 7, constants: [64]),
              let tiled = pipeline("attention_tiled", bindings: 7, pushWords: 14, constants: [half, 128]),
              let partials = partials(floats: max(partialFloats, 1))
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
        commands.barrier()
        // Prompt chunks go in tiles of 8 rows; split sequences write their ranges one after another
        // into the partials buffer.
        var partialOffset = 0, anySplit = false
        for sequence in sequences {
            let keys = sequence.keyCache.gpu, values = sequence.valueCache.gpu, ranges = splits(sequence)
            if sequence.rows.count > 1 && tilesPromptAttention && shape.headDimension <= 128 {
                dispatch(tiled, [query.gpu.buffer, stepBuffer, keys.buffer, keys.buffer, values.buffer, values.buffer, output.gpu.buffer],
                         [UInt32(sequence.rows.lowerBound), UInt32(sequence.rows.count), query.wordOffset, UInt32(query.rowLength),
                          output.wordOffset, UInt32(output.rowLength), UInt32(shape.headCount), UInt32(shape.kvHeadCount),
                          UInt32(shape.headDimension), UInt32(sequence.keyCache.rowCount), UInt32(keys.offset / elementBytes),
                          UInt32(values.offset / elementBytes), UInt32(shape.slidingWindow ?? 0), shape.scale.bitPattern],
                         groups: (sequence.rows.count + 7) / 8, height: shape.headCount)
                continue
            }
            dispatch(attend, [query.gpu.buffer, stepBuffer, keys.buffer, keys.buffer, values.buffer, values.buffer, output.gpu.buffer, partials],
                     [UInt32(sequence.rows.lowerBound), query.wordOffset, UInt32(query.rowLength), output.wordOffset, UInt32(output.rowLength),
                      UInt32(shape.headCount), UInt32(shape.kvHeadCount), UInt32(shape.headDimension), UInt32(sequence.keyCache.rowCount),
                      UInt32(keys.offset / elementBytes), UInt32(values.offset / elementBytes), UInt32(shape.slidingWindow ?? 0),
                      shape.scale.bitPattern, UInt32(ranges), UInt32(partialOffset)],
                     groups: sequence.rows.count, height: shape.headCount, depth: ranges)
            if ranges > 1 {
                partialOffset += shape.headCount * ranges * (shape.headDimension + 2)
                anySplit = true
            }
        }
        commands.barrier()
        guard anySplit else { return }
        partialOffset = 0
        for sequence in sequences {
            let ranges = splits(sequence)
            guard ranges > 1 else { continue }
            dispatch(combine, [partials, output.gpu.buffer],
                     [UInt32(sequence.rows.lowerBound), output.wordOffset, UInt32(output.rowLength), UInt32(shape.headCount),
                      UInt32(shape.headDimension), UInt32(ranges), UInt32(partialOffset)],
                     groups: 1, height: shape.headCount)
            partialOffset += shape.headCount * ranges * (shape.headDimension + 2)
        }
        commands.barrier()
    }

    private func logits(_ x: Tensor, gathered: Tensor, weights: [Tensor], into outputs: [Tensor]) {
        guard !logitRows.isEmpty else { return }
        let rowBytes = 4 * x.rowLength
        for (index, row) in logitRows.enumerated() {
            commands.copy(from: x.gpu.buffer, offset: x.gpu.offset + row * rowBytes, to: gathered.gpu.buffer,
                          offset: gathered.gpu.offset + index * rowBytes, bytes: rowBytes)
        }
        commands.barrier()
        for (weight, output) in zip(weights, outputs) { matmul(gathered, weight: weight, tokens: logitRows.count, into: output) }
        commands.barrier()
    }

    /// The index of the largest value of each of the first `rows` rows of `tensor`, into `indices`.
    func argmax(_ tensor: Tensor, rows: Int, into indices: VulkanBuffer) {
        guard let pipeline = pipeline("argmax", bindings: 2, pushWords: 2, constants: [256]) else { return }
        dispatch(pipeline, [tensor.gpu.buffer, indices], [UInt32(tensor.rowLength), tensor.wordOffset], groups: rows)
    }
}
