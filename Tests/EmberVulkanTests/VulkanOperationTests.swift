// Every operation of the Vulkan backend against the CPU backend on the same random inputs: both
// backends bind the same weights of every type the GPU decodes, take the same step, and their
// outputs must agree within a tolerance per operation (the CPU multiplies 16-bit quantized
// activations with quantized weights, the GPU floats, so matrix products differ by the CPU's
// activation rounding). Odd shapes: 37-row weights, rows of 100 and 104 floats, steps of two
// sequences.

import EmberCompute
import EmberFormats
import EmberTestSupport
import EmberVulkan
import Foundation
import Testing

@Suite(.enabled(if: usableVulkanDevice || requireVulkan), .serialized)
struct VulkanOperationTests {
    /// Random weight rows of `type`: random bytes with every scale field a small positive half, so
    /// that no block decodes to a NaN or an infinity.
    static func randomRows(_ type: TensorType, rows: Int, columns: Int, seed: UInt64) -> [UInt8] {
        var random = SeededGenerator(seed: seed)
        if type == .f32 { return floatBytes((0 ..< rows * columns).map { _ in Float.random(in: -1 ... 1, using: &random) }) }
        if type == .f16 || type == .bf16 {
            return (0 ..< rows * columns).flatMap { _ -> [UInt8] in
                let value = Float.random(in: -1 ... 1, using: &random)
                let bits = type == .f16 ? Float16(value).bitPattern : UInt16(value.bitPattern >> 16)
                return [UInt8(bits & 0xFF), UInt8(bits >> 8)]
            }
        }
        let blockBytes = type.bytesPerBlock, blocks = rows * columns / type.blockSize
        var bytes = (0 ..< blocks * blockBytes).map { _ in UInt8.random(in: 0 ... 255, using: &random) }
        // Where each block's f16 scales are: d (and m or dmin) first, or Q6_K's d last.
        let halves: [Int] = switch type {
        case .q8_0, .q4_0, .q5_0: [0]
        case .q4_1, .q5_1, .q4_K, .q5_K: [0, 2]
        case .q6_K: [208]
        default: []
        }
        for block in 0 ..< blocks {
            for offset in halves {
                let bits = Float16(Float.random(in: 0.001 ... 0.02, using: &random)).bitPattern
                bytes[block * blockBytes + offset] = UInt8(bits & 0xFF)
                bytes[block * blockBytes + offset + 1] = UInt8(bits >> 8)
            }
        }
        return bytes
    }

    static let weightTypes: [TensorType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q5_K, .q6_K]

    /// Columns of a weight of `type`: 100 for float types (not a multiple of 32), 512 for the others.
    static func columns(_ type: TensorType) -> Int { type.blockSize == 1 ? 100 : 512 }

    /// A file holding, for every type, a 37-row weight (`w.<type>`), a 1,000-row F32 table of inputs
    /// (`inputs.<columns>`) per width, and norm weights and biases.
    static let file: GGUFFile = {
        var tensors: [(name: String, shape: [Int], type: TensorType, data: [UInt8])] = []
        for (index, type) in weightTypes.enumerated() {
            tensors.append(("w.\(type)", [columns(type), 37], type, randomRows(type, rows: 37, columns: columns(type), seed: UInt64(index + 1))))
        }
        for width in [64, 100, 104, 128, 512] {
            tensors.append(("inputs.\(width)", [width, 1000], .f32, randomRows(.f32, rows: 1000, columns: width, seed: UInt64(100 + width))))
            tensors.append(("norm.\(width)", [width], .f32, randomRows(.f32, rows: 1, columns: width, seed: UInt64(200 + width))))
        }
        return try! GGUFBuilder.file(metadata: [], tensors: tensors).parse()
    }()

    /// The CPU and the GPU backend side by side.
    final class Pair {
        let cpu: Backend = CPUBackend(threadCount: 2)
        let gpu: Backend
        var backends: [Backend] { [cpu, gpu] }

        init(spreadRows: Bool? = nil, subgroups: Bool = false, attentionSplits: Int? = nil, tilePromptAttention: Bool = true,
             tiledProductTokens: Int? = nil, blockBytes: Int? = nil, mapsDeviceMemory: Bool = true) throws {
            let gpu = try VulkanBackend(spreadRows: spreadRows, subgroups: subgroups, attentionSplits: attentionSplits,
                                        tilePromptAttention: tilePromptAttention, tiledProductTokens: tiledProductTokens, blockBytes: blockBytes,
                                        mapsDeviceMemory: mapsDeviceMemory)
            // lavapipe has subgroup arithmetic and shuffles: the subgroup builds are tested wherever asked for.
            #expect(gpu.usesSubgroups == subgroups, "subgroups asked: \(subgroups), used: \(gpu.usesSubgroups)")
            self.gpu = gpu
        }

        func bind(_ name: String) throws -> [Tensor] {
            let view = try #require(VulkanOperationTests.file.view(named: name))
            return try backends.map { try $0.bind(view) }
        }

        func make(_ name: String, rows: Int, columns: Int, type: TensorType = .f32) -> [Tensor] {
            backends.map { $0.makeTensor(name: name, type: type, rows: rows, columns: columns) }
        }

        /// Begins `step` on both and fills `x` with the rows of `inputs.<width>` its tokens select.
        func begin(_ step: StepInputs, x: [Tensor]) throws {
            let table = try bind("inputs.\(x[0].rowLength)")
            for (backend, (t, x)) in zip(backends, zip(table, x)) {
                backend.beginStep(step)
                backend.embed(table: t, into: x)
            }
        }

        /// Rows of `tensors` on each backend, read back.
        func read(_ tensors: [Tensor], rows: Int) throws -> (cpu: [Float], gpu: [Float]) {
            (Array(try cpu.hostFloats(tensors[0], rows: rows)), Array(try gpu.hostFloats(tensors[1], rows: rows)))
        }
    }

    static func step(_ sequences: [(tokens: [Int32], start: Int)], logits: Bool = true) -> StepInputs {
        var step = StepInputs()
        for sequence in sequences { step.append(sequence.tokens, start: sequence.start, wantsLogits: logits) }
        return step
    }

    /// The largest difference between the two, relative to the largest magnitude of the CPU's.
    static func expectClose(_ values: (cpu: [Float], gpu: [Float]), tolerance: Float, _ what: String) {
        #expect(values.cpu.count == values.gpu.count)
        let scale = max(values.cpu.map(abs).max() ?? 0, 1e-6)
        let worst = zip(values.cpu, values.gpu).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= tolerance * scale, "\(what): worst difference \(worst) of a scale \(scale)")
        let finite = values.gpu.allSatisfy { $0.isFinite }
        #expect(finite, "\(what): non-finite values")
    }

    @Test(arguments: weightTypes)
    func embeddingDecodesEveryType(type: TensorType) throws {
        let pair = try Pair()
        let table = try pair.bind("w.\(type)"), output = pair.make("out", rows: 4, columns: Self.columns(type))
        let step = Self.step([(tokens: [36, 0, 17, 5], start: 0)])
        for (backend, (t, o)) in zip(pair.backends, zip(table, output)) {
            backend.beginStep(step)
            backend.embed(table: t, into: o)
        }
        Self.expectClose(try pair.read(output, rows: 4), tolerance: 1e-6, "embed \(type)")
    }

    /// The matrix product's shapes: a row per invocation; rows spread over invocations whose partial
    /// sums meet through shared memory or through subgroup shuffles; 64 x 64 blocks of rows and tokens
    /// (with the weights uploaded through a staging copy, as to a discrete GPU).
    enum MatmulShape: CaseIterable { case rowPerInvocation, spread, spreadWithSubgroups, tiled }

    @Test(arguments: weightTypes, MatmulShape.allCases)
    func matmulOfEveryType(type: TensorType, shape: MatmulShape) throws {
        let pair = try Pair(spreadRows: shape != .rowPerInvocation, subgroups: shape == .spreadWithSubgroups,
                            tiledProductTokens: shape == .tiled ? 1 : .max, mapsDeviceMemory: shape != .tiled)
        let columns = Self.columns(type)
        // Two sequences, one a prompt of ten rows (more than one pass of four tokens), or of 70 for
        // the blocks (two blocks of tokens).
        let prompt = shape == .tiled ? 70 : 10
        let weight = try pair.bind("w.\(type)"), x = pair.make("x", rows: prompt + 1, columns: columns)
        let output = pair.make("y", rows: prompt + 1, columns: 37)
        try pair.begin(Self.step([(tokens: (0 ..< Int32(prompt)).map { $0 * 13 }, start: 0), (tokens: [999], start: 7)]), x: x)
        for (backend, (w, (x, y))) in zip(pair.backends, zip(weight, zip(x, output))) { backend.matmul(x, weights: [w], into: [y]) }
        Self.expectClose(try pair.read(output, rows: prompt + 1), tolerance: 2e-4, "matmul \(type), \(shape)")
    }

    /// Blocks of 8 KiB, as a device whose bindings see little would have: every weight and table
    /// here is split by rows across blocks, and each part multiplies or embeds its own rows.
    @Test(arguments: [TensorType.q4_K, .q8_0, .f32], [false, true])
    func weightsSplitAcrossBlocks(type: TensorType, tiled: Bool) throws {
        let pair = try Pair(tiledProductTokens: tiled ? 1 : .max, blockBytes: 8192)
        #expect(try pair.bind("w.\(type)")[1].byteCount > 8192)
        let columns = Self.columns(type)
        let weight = try pair.bind("w.\(type)")
        #expect(weight[1].rowCount == 37)
        let x = pair.make("x", rows: 3, columns: columns), output = pair.make("y", rows: 3, columns: 37), embedded = pair.make("e", rows: 3, columns: columns)
        let step = Self.step([(tokens: [36, 2, 20], start: 0)])
        let table = try pair.bind("inputs.\(columns)")
        for (index, backend) in pair.backends.enumerated() {
            backend.beginStep(step)
            backend.embed(table: table[index], into: x[index])
            backend.matmul(x[index], weights: [weight[index]], into: [output[index]])
            backend.embed(table: weight[index], into: embedded[index])
        }
        Self.expectClose(try pair.read(output, rows: 3), tolerance: 2e-4, "split matmul \(type), tiled \(tiled)")
        Self.expectClose(try pair.read(embedded, rows: 3), tolerance: 1e-6, "split embedding \(type)")
    }

    @Test(arguments: [GateActivation.silu, .geluTanh])
    func gatedFeedForward(activation: GateActivation) throws {
        let pair = try Pair()
        let gate = try pair.bind("w.\(TensorType.q4_K)"), up = try pair.bind("w.\(TensorType.q6_K)")
        let x = pair.make("x", rows: 3, columns: 512), output = pair.make("h", rows: 3, columns: 37)
        try pair.begin(Self.step([(tokens: [1, 2, 3], start: 0)]), x: x)
        for (index, backend) in pair.backends.enumerated() {
            backend.matmulGated(x[index], gate: gate[index], up: up[index], activation: activation, into: output[index])
        }
        Self.expectClose(try pair.read(output, rows: 3), tolerance: 5e-4, "gated \(activation)")
    }

    /// Rows of 104 (the CPU's norm wants a multiple of 8; not one of the GPU's workgroup), the sums
    /// of squares reduced through shared memory and through subgroups.
    @Test(arguments: [false, true])
    func normsBiasScaleAndSoftcap(subgroups: Bool) throws {
        let pair = try Pair(subgroups: subgroups)
        let width = 104
        let x = pair.make("x", rows: 5, columns: width), adding = pair.make("a", rows: 5, columns: width), normed = pair.make("n", rows: 5, columns: width)
        let weight = try pair.bind("norm.104"), headWeight = try pair.bind("norm.64")
        let heads = pair.make("heads", rows: 5, columns: 128)
        let table104 = try pair.bind("inputs.104")
        try pair.begin(Self.step([(tokens: [4, 8, 15, 16, 23], start: 0)]), x: x)
        for (index, backend) in pair.backends.enumerated() {
            backend.embed(table: table104[index], into: adding[index])
            backend.rmsNorm(x[index], adding: adding[index], weight: weight[index], epsilon: 1e-5, into: normed[index])
        }
        Self.expectClose(try pair.read(normed, rows: 5), tolerance: 1e-5, "rms_norm adding")
        Self.expectClose(try pair.read(x, rows: 5), tolerance: 1e-6, "residual after adding")
        for (index, backend) in pair.backends.enumerated() {
            backend.rmsNorm(x[index], adding: nil, weight: weight[index], epsilon: 1e-5, into: x[index])
            backend.addBias(x[index], bias: weight[index])
            backend.scale(x[index], by: 3.5)
            backend.softcap(x[index], rows: 5, cap: 2)
        }
        Self.expectClose(try pair.read(x, rows: 5), tolerance: 1e-5, "in place, bias, scale, softcap")
        // Per-head norms: two heads of 64.
        let table64 = try pair.bind("inputs.64")
        for (index, backend) in pair.backends.enumerated() {
            backend.embed(table: table64[index], into: heads[index])
            backend.rmsNormHeads(heads[index], headDimension: 64, weight: headWeight[index], epsilon: 1e-6)
        }
        Self.expectClose(try pair.read(heads, rows: 5), tolerance: 1e-5, "rms_norm_heads")
    }

    /// How the GPU lays out attention: the prompt's rows one per workgroup or in tiles of 8, the decode
    /// row's positions whole or split into 3 ranges (some empty).
    enum AttentionLayout: CaseIterable { case rowsWhole, tilesSplit, tilesWhole, rowsSplit }

    /// Two sequences in one step (a prompt of eleven and a decode step), over two steps, with each cache
    /// type, both RoPE pairings, grouped heads and a sliding window whose ring the second step wraps.
    @Test(arguments: [(TensorType.f16, RopePairing.adjacent, Optional<Int>.none), (.f32, .halves, 4), (.f16, .halves, nil)],
          AttentionLayout.allCases)
    func attentionOverTwoSequencesAndTwoSteps(settings: (cache: TensorType, pairing: RopePairing, window: Int?), layout: AttentionLayout) throws {
        let (cache, pairing, window) = settings
        let pair = try Pair(attentionSplits: layout == .tilesSplit || layout == .rowsSplit ? 3 : 1,
                            tilePromptAttention: layout == .tilesSplit || layout == .tilesWhole)
        let shape = AttentionShape(headCount: 4, kvHeadCount: 2, headDimension: 32, slidingWindow: window)
        let rope = RopeParameters(dimensions: 32, pairing: pairing, base: 10000)
        let query = pair.make("q", rows: 12, columns: 128), key = pair.make("k", rows: 12, columns: 64), value = pair.make("v", rows: 12, columns: 64)
        let output = pair.make("o", rows: 12, columns: 128)
        // A ring of window + 11 - 1 rows for a windowed layer (the most rows of one step), else the context.
        let cacheRows = window.map { $0 + 10 } ?? 32
        let caches = (0 ..< 2).map { _ in (pair.make("kc", rows: cacheRows, columns: 64, type: cache), pair.make("vc", rows: cacheRows, columns: 64, type: cache)) }
        let inputs64 = try pair.bind("inputs.64"), inputs128 = try pair.bind("inputs.128")
        var starts = [0, 9]
        for round in 0 ..< 2 {
            let lengths = round == 0 ? [11, 1] : [3, 1]
            let tokens = lengths.enumerated().map { sequence, count in (0 ..< count).map { Int32(100 * round + 10 * sequence + $0) } }
            let step = Self.step(zip(tokens, starts).map { (tokens: $0, start: $1) })
            for (index, backend) in pair.backends.enumerated() {
                backend.beginStep(step)
                backend.embed(table: inputs64[index], into: key[index])
                backend.embed(table: inputs64[index], into: value[index])
                backend.scale(value[index], by: -0.5)
                backend.embed(table: inputs128[index], into: query[index])
                let sequences = zip(step.sequences, caches).map { sequence, cache in
                    AttentionSequence(rows: sequence.rows, keyCache: cache.0[index], valueCache: cache.1[index], start: sequence.start)
                }
                backend.attention(query: query[index], key: key[index], value: value[index], sequences: sequences, rope: rope, shape: shape,
                                  into: output[index])
            }
            Self.expectClose(try pair.read(output, rows: step.rowCount), tolerance: cache == .f16 ? 2e-3 : 1e-5,
                             "attention round \(round) \(cache) \(pairing) window \(window.map(String.init) ?? "none"), \(layout)")
            starts = zip(starts, lengths).map(+)
        }
    }

    @Test func logitsOfTheRowsThatWantThem() throws {
        let pair = try Pair()
        let weight = try pair.bind("w.\(TensorType.q8_0)")
        let x = pair.make("x", rows: 6, columns: 512), gathered = pair.make("g", rows: 4, columns: 512), logits = pair.make("l", rows: 4, columns: 37)
        var step = StepInputs()
        step.append([1, 2, 3], start: 0, wantsLogits: true)
        step.append([4], start: 3, wantsLogits: false)
        step.append([5, 6], start: 0, wantsLogits: true)
        try pair.begin(step, x: x)
        for (index, backend) in pair.backends.enumerated() {
            backend.logits(x[index], gathered: gathered[index], weights: [weight[index]], into: [logits[index]])
        }
        Self.expectClose(try pair.read(logits, rows: 2), tolerance: 2e-4, "logits")
    }

    /// Greedy tokens chosen on the device are the host's: the largest of each row, the lowest index on
    /// ties (every row capped to a few values by a tiny softcap, then all zeros).
    @Test func argmaxOfEachRowIsTheHosts() throws {
        let pair = try Pair()
        let x = pair.make("x", rows: 6, columns: 512)
        try pair.begin(Self.step([(tokens: [3, 14, 159, 265, 358, 979], start: 0)]), x: x)
        /// Each backend's choice, and the first index of each row's largest value; how often it occurs.
        func choices() throws -> (cpu: [Int32], gpu: [Int32], expected: [Int32], ties: [Int]) {
            var tokens = [[Int32]](repeating: [Int32](repeating: -1, count: 6), count: 2)
            for (index, backend) in pair.backends.enumerated() { try backend.argmaxRows(x[index], rows: 6, into: &tokens[index]) }
            let values = try pair.read(x, rows: 6).cpu
            let rows = (0 ..< 6).map { Array(values[$0 * 512 ..< ($0 + 1) * 512]) }
            return (tokens[0], tokens[1], rows.map { Int32($0.firstIndex(of: $0.max()!)!) }, rows.map { row in row.filter { $0 == row.max() }.count })
        }
        let distinct = try choices()
        #expect(distinct.gpu == distinct.expected && distinct.cpu == distinct.expected)
        for (index, backend) in pair.backends.enumerated() { backend.softcap(x[index], rows: 6, cap: 1e-3) }
        let capped = try choices()
        #expect(capped.ties.allSatisfy { $0 > 1 }, "the cap makes ties: \(capped.ties)")
        #expect(capped.gpu == capped.expected && capped.cpu == capped.expected)
        for (index, backend) in pair.backends.enumerated() { backend.scale(x[index], by: 0) }
        let zeros = try choices()
        #expect(zeros.gpu == [0, 0, 0, 0, 0, 0] && zeros.cpu == zeros.gpu)
    }

    /// Rows copied out of a tensor and back in (a KV cache kept aside): the same bytes, through mapped
    /// memory and through staging copies, after the step that wrote them has run.
    @Test(arguments: [true, false])
    func rowsGoToTheHostAndBack(mapped: Bool) throws {
        let gpu = try VulkanBackend(mapsDeviceMemory: mapped)
        let cache = gpu.makeTensor(name: "cache", type: .f16, rows: 10, columns: 64)
        let bytes = (0 ..< 4 * 128).map { UInt8(truncatingIfNeeded: $0 * 7 + 3) }
        try bytes.withUnsafeBytes { try gpu.writeRows(cache, 3 ..< 7, from: $0.baseAddress!) }
        var back = [UInt8](repeating: 0, count: 6 * 128)
        try back.withUnsafeMutableBytes { try gpu.readRows(cache, 2 ..< 8, into: $0.baseAddress!) }
        #expect(Array(back[128 ..< 5 * 128]) == bytes)
        #expect(back[0 ..< 128].allSatisfy { $0 == 0 } && back[5 * 128 ..< 6 * 128].allSatisfy { $0 == 0 }, "rows around stay zero")
    }

    /// A decode step of the same shape as the one before replays its command buffer.
    @Test func equalStepsReplayTheirRecording() throws {
        let gpu = try VulkanBackend()
        let view = try #require(Self.file.view(named: "inputs.64"))
        let table = try gpu.bind(view), x = gpu.makeTensor(name: "x", type: .f32, rows: 1, columns: 64)
        var results: [[Float]] = []
        for token in [Int32(3), 7, 3] {
            gpu.beginStep(Self.step([(tokens: [token], start: 0)]))
            gpu.embed(table: table, into: x)
            gpu.scale(x, by: 2)
            results.append(Array(try gpu.hostFloats(x, rows: 1)))
        }
        #expect(gpu.recordingCount <= 2, "three equal steps made \(gpu.recordingCount) recordings")
        #expect(results[0] == results[2] && results[0] != results[1])
    }
}

extension VulkanOperationTests {
    /// A wait that outlasts its limit ends the step with an error naming the limit; the next step,
    /// with a sane limit, waits for the late one and computes as before.
    @Test func aTimedOutStepIsAnErrorAndTheNextStepWorks() throws {
        let gpu = try VulkanBackend()
        let table = try gpu.bind(try #require(Self.file.view(named: "inputs.512")))
        let weight = try gpu.bind(try #require(Self.file.view(named: "w.\(TensorType.q6_K)")))
        let x = gpu.makeTensor(name: "x", type: .f32, rows: 64, columns: 512), y = gpu.makeTensor(name: "y", type: .f32, rows: 64, columns: 37)
        func step() throws -> [Float] {
            gpu.beginStep(Self.step([(tokens: (0 ..< 64).map { Int32($0 * 7) }, start: 0)]))
            gpu.embed(table: table, into: x)
            for _ in 0 ..< 4 { gpu.matmul(x, weights: [weight], into: [y]) }
            return Array(try gpu.hostFloats(y, rows: 64))
        }
        let expected = try step()
        gpu.timeout = 1e-9
        #expect(throws: BackendError.self) { _ = try step() }
        gpu.timeout = 60
        #expect(try step() == expected)
    }
}
