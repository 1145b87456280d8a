// Causal grouped-query attention on the CPU over the key/value cache (F16 by default; F32 or Q8_0 on
// request).
// The cache is laid out head by head: each KV head's keys (and values) for all positions lie one after
// another, so a unit of work reads its head's positions as one contiguous stream (position-major rows,
// of which a head is a third or a quarter, left the reads strided and cost a third of the attention's
// time in stalls at four sequences). First the new rows: Q and K rotated (RoPE) and K and V stored in
// the cache (a sliding-window layer's cache may be a ring: position p at row p % rows). Then one unit
// of work per (token, KV head) serves all the query heads of that group, so each cached key and value is read
// once for them: positions go by in blocks of 16, whose scores get one online-softmax update (the
// running maximum and sum rescale the accumulated values only when the maximum grows), so the scores
// of a whole context are never stored and the values are read in the same single pass.

import CEmberKernels
import EmberFormats

/// How one element type of the KV cache is stored and read back: a head's position (`count` elements,
/// a multiple of 32 for Q8_0) is stored whole, and read eight elements at a time.
protocol CacheElement {
    /// Bytes of `count` elements.
    static func bytes(_ count: Int) -> Int
    /// Elements index ..< index + 8 (index a multiple of 8) of the position at `row`.
    static func load8(_ row: UnsafeRawPointer, _ index: Int) -> SIMD8<Float>
    static func store(_ source: UnsafePointer<Float>, count: Int, into row: UnsafeMutableRawPointer)
}

extension CacheElement {
    /// The eight floats at `source + index`.
    @inline(__always) static func floats8(_ source: UnsafePointer<Float>, _ index: Int) -> SIMD8<Float> {
        UnsafeRawPointer(source).loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self)
    }
}

enum HalfCacheElement: CacheElement {
    static func bytes(_ count: Int) -> Int { count * 2 }
    @inline(__always) static func load8(_ row: UnsafeRawPointer, _ index: Int) -> SIMD8<Float> {
        widen(row.loadUnaligned(fromByteOffset: index * 2, as: SIMD8<Float16>.self))
    }
    static func store(_ source: UnsafePointer<Float>, count: Int, into row: UnsafeMutableRawPointer) {
        for index in stride(from: 0, to: count, by: 8) {
            row.storeBytes(of: narrow(floats8(source, index)), toByteOffset: index * 2, as: SIMD8<Float16>.self)
        }
    }
}

enum FloatCacheElement: CacheElement {
    static func bytes(_ count: Int) -> Int { count * 4 }
    @inline(__always) static func load8(_ row: UnsafeRawPointer, _ index: Int) -> SIMD8<Float> {
        row.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self)
    }
    static func store(_ source: UnsafePointer<Float>, count: Int, into row: UnsafeMutableRawPointer) {
        row.copyMemory(from: source, byteCount: count * 4)
    }
}

/// ggml's Q8_0: per 32 elements an F16 scale d and 32 signed bytes q, the element being d * q, with d
/// the block's largest magnitude over 127.
enum Q8CacheElement: CacheElement {
    static func bytes(_ count: Int) -> Int { count / 32 * 34 }
    @inline(__always) static func load8(_ row: UnsafeRawPointer, _ index: Int) -> SIMD8<Float> {
        let block = index >> 5 * 34
        let scale = Float(row.loadUnaligned(fromByteOffset: block, as: Float16.self))
        let quanta = row.loadUnaligned(fromByteOffset: block + 2 + index & 31, as: SIMD8<Int8>.self)
        return SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: quanta)) * scale
    }
    static func store(_ source: UnsafePointer<Float>, count: Int, into row: UnsafeMutableRawPointer) {
        for first in stride(from: 0, to: count, by: 32) {
            let block = row + first / 32 * 34
            var largest: Float = 0
            for i in first ..< first + 32 { largest = max(largest, abs(source[i])) }
            let scale = largest / 127, inverse = scale == 0 ? 0 : 1 / scale
            block.storeBytes(of: Float16(scale), as: Float16.self)
            for i in 0 ..< 32 {
                let quantum = source[first + i] * inverse
                block.storeBytes(of: quantum.isFinite ? Int8(quantum.rounded()) : 0, toByteOffset: 2 + i, as: Int8.self)
            }
        }
    }
}

/// The orthonormal Walsh-Hadamard transform of each block of 32 floats (its own inverse). A Q8_0 cache
/// stores keys and values so turned: a block's few large values (the outlier channels of K) spread over
/// all 32, so the block's one scale no longer leaves its other values a few steps of 8 bits. Queries
/// turn alike, which keeps every score; the attention's outputs turn back.
enum HadamardBlocks {
    static func rotate(_ values: UnsafeMutablePointer<Float>, count: Int) {
        let norm: Float = 1 / Float(32).squareRoot()
        for first in stride(from: 0, to: count, by: 32) {
            let block = values + first
            var width = 1
            while width < 32 {
                for start in stride(from: 0, to: 32, by: 2 * width) {
                    for i in start ..< start + width {
                        let a = block[i], b = block[i + width]
                        block[i] = a + b
                        block[i + width] = a - b
                    }
                }
                width *= 2
            }
            for i in 0 ..< 32 { block[i] *= norm }
        }
    }
}

extension TensorType {
    /// Whether a KV cache of this type keeps its keys and values turned by `HadamardBlocks`.
    var rotatesBlocks: Bool { self == .q8_0 }

    /// What a head's width must be a multiple of for a KV cache of this type; nil for a type a cache
    /// cannot hold.
    public var cacheHeadMultiple: Int? {
        switch self {
        case .f16, .f32: 8
        case .q8_0: 32
        default: nil
        }
    }

    /// The C kernels' name for a cache of this type (attention.c).
    var cacheKind: Int32 {
        switch self {
        case .q8_0: Int32(EK_CACHE_Q8_0)
        default: Int32(EK_CACHE_F16)
        }
    }
}

extension CPUBackend {
    /// Positions scored together between two online-softmax updates.
    static let attentionBlock = 16

    func attention(query: Tensor, key: Tensor, value: Tensor, sequences: [AttentionSequence], rope: RopeParameters,
                          shape: AttentionShape, into output: Tensor) {
        guard let cacheType = sequences.first?.keyCache.type else { return }
        let headDimension = shape.headDimension, kvWidth = shape.kvWidth
        guard let multiple = cacheType.cacheHeadMultiple else { preconditionFailure("KV cache of type \(cacheType)") }
        precondition(headDimension % multiple == 0 && rope.dimensions <= headDimension && rope.dimensions % 2 == 0)
        precondition(key.rowLength == kvWidth && query.rowLength == shape.queryWidth)

        // The C kernels (attention.c) take an F16 or Q8_0 cache on x86; the Swift ones everything else.
        let native = level != .portable && cacheType != .f32 && headDimension % 16 == 0
        let groupSize = shape.headCount / shape.kvHeadCount

        // The units of work of each sequence. One token over a long context (decode): each KV head's
        // positions are split across the threads and the partial softmaxes combined, or a lone
        // sequence's step would use as many threads as the model has KV heads. Otherwise one unit per
        // (tile of tokens, KV head): a token each for the Swift kernels, a flash-attention tile of up to
        // `EK_FLASH_TOKENS` for the C ones. The choice depends on the sequence alone, so its result does too.
        attentionPlan.removeAll(keepingCapacity: true)
        var units = 0, splitStates = 0, lastPosition = 0, longestSpan = 0
        let window = shape.slidingWindow
        for sequence in sequences {
            precondition(sequence.keyCache.type == cacheType && sequence.valueCache.type == cacheType,
                         "KV caches of one type")
            let end = sequence.start + sequence.rows.count, cacheRows = sequence.keyCache.rowCount
            precondition(sequence.keyCache.rowLength == kvWidth
                         && (end <= cacheRows || window.map { cacheRows >= $0 + sequence.rows.count - 1 } ?? false),
                         "attention past the end of the KV cache")
            let decoding = sequence.rows.count == 1
            // A windowed layer's units take one token each, whose positions (at most two runs of the ring) are few.
            let splits = window == nil && decoding && sequence.start + 1 >= 64 * pool.threadCount ? pool.threadCount : 1
            let tile = native && !decoding && window == nil ? Int(EK_FLASH_TOKENS) : 1
            attentionPlan.append(AttentionPlan(firstUnit: units, splits: splits, tile: tile, firstState: splitStates))
            units += (sequence.rows.count + tile - 1) / tile * shape.kvHeadCount * splits
            if splits > 1 { splitStates += shape.kvHeadCount * splits }
            lastPosition = max(lastPosition, sequence.start + sequence.rows.count - 1)
            if let window { longestSpan = max(longestSpan, min(window, end)) } else if decoding {
                longestSpan = max(longestSpan, (sequence.start + splits) / splits)
            }
        }

        let ropeTable = ropeTable(rope, through: lastPosition)
        for sequence in sequences {
            forEachRow(sequence.rows.count, width: shape.queryWidth + 2 * kvWidth,
                       RotateAndStore(table: ropeTable, query: query, key: key, value: value, rows: sequence.rows,
                                      start: sequence.start, keyCache: sequence.keyCache, valueCache: sequence.valueCache,
                                      shape: shape))
        }

        let threads = min(units, pool.threadCount)
        // Each thread's scratch: a block of scores (Swift), a whole span of scores or a flash tile's (C).
        var scoresSize = groupSize * Self.attentionBlock
        #if arch(x86_64)
        if native { scoresSize = max(groupSize * longestSpan, ek_flash_scratch_floats(Int32(groupSize), Int32(headDimension))) }
        #endif
        // Each thread's states: two, for the two runs of a windowed unit's positions around the ring.
        let stateSize = groupSize * (headDimension + 2)
        let scratch = attentionScratch.floats(threads * scoresSize + (2 * threads + splitStates) * stateSize)
        let work = AttentionWork(sequences: sequences, plan: attentionPlan, units: units, threads: threads, native: native,
                                 query: query, output: output, kvHeads: shape.kvHeadCount, groupSize: groupSize,
                                 headDimension: headDimension, cacheType: cacheType, scale: shape.scale, window: window,
                                 scoresSize: scoresSize, scores: scratch, threadStates: scratch + threads * scoresSize,
                                 splitStates: scratch + threads * scoresSize + 2 * threads * stateSize)
        if threads == 1 { work.run(thread: 0) } else { pool.run(work) }
        for (sequence, plan) in zip(sequences, attentionPlan) where plan.splits > 1 {
            let span = work.span(sequence)
            for kvHead in 0 ..< shape.kvHeadCount {
                span.finish(work.splitStates + (plan.firstState + kvHead * plan.splits) * stateSize, count: plan.splits,
                            into: output.floats(row: sequence.rows.lowerBound) + kvHead * groupSize * headDimension)
            }
        }
        // The values were rotated before they were stored: the outputs, their weighted sums, turn back.
        if cacheType.rotatesBlocks {
            for sequence in sequences {
                for row in sequence.rows { HadamardBlocks.rotate(output.floats(row: row), count: shape.queryWidth) }
            }
        }
    }

    /// Where one sequence's units of work begin among all of the call's, how many parts each of its
    /// KV heads' positions is split into, how many of its tokens a unit takes, and (when split) where its
    /// partial states begin.
    struct AttentionPlan {
        let firstUnit: Int
        let splits: Int
        let tile: Int
        let firstState: Int
    }

    /// Rotates each new row's Q and K to its position and stores its K and V in the cache. (The work
    /// types of the pool are not generic: the workers call them through their conformance, which for
    /// a generic type runs unspecialised code; the element type is chosen inside instead.)
    private struct RotateAndStore: RowWork {
        let table: RopeTable
        let query: Tensor, key: Tensor, value: Tensor
        let rows: Range<Int>
        let start: Int
        let keyCache: Tensor, valueCache: Tensor
        let shape: AttentionShape

        func run(row index: Int) {
            let row = rows.lowerBound + index, position = start + index
            table.rotate(query.floats(row: row), heads: shape.headCount, headDimension: shape.headDimension, position: position)
            table.rotate(key.floats(row: row), heads: shape.kvHeadCount, headDimension: shape.headDimension, position: position)
            if keyCache.type.rotatesBlocks {
                // Q and K turn alike, so their dot products stay; V turns back in the outputs.
                HadamardBlocks.rotate(query.floats(row: row), count: shape.queryWidth)
                HadamardBlocks.rotate(key.floats(row: row), count: shape.kvWidth)
                HadamardBlocks.rotate(value.floats(row: row), count: shape.kvWidth)
            }
            // A ring (a windowed layer's cache shorter than the context) wraps; a full cache never does.
            let cacheRow = position % keyCache.rowCount
            switch keyCache.type {
            case .f16: store(HalfCacheElement.self, cacheRow: cacheRow, row: row)
            case .q8_0: store(Q8CacheElement.self, cacheRow: cacheRow, row: row)
            default: store(FloatCacheElement.self, cacheRow: cacheRow, row: row)
            }
        }

        /// Each head's part of the row at `cacheRow` of its head's run of positions.
        private func store<Element: CacheElement>(_: Element.Type, cacheRow: Int, row: Int) {
            let headDimension = shape.headDimension, rowBytes = Element.bytes(headDimension)
            let headBytes = keyCache.rowCount * rowBytes
            for head in 0 ..< shape.kvHeadCount {
                let offset = head * headBytes + cacheRow * rowBytes
                Element.store(key.floats(row: row) + head * headDimension, count: headDimension, into: keyCache.data + offset)
                Element.store(value.floats(row: row) + head * headDimension, count: headDimension, into: valueCache.data + offset)
            }
        }
    }

    /// The units of work dealt out in turn to the threads: later tokens see more positions, so
    /// contiguous chunks would give the last thread most of a prompt's work. An unsplit unit writes its
    /// group's outputs; a split one leaves its state for `finish`.
    private struct AttentionWork: PoolWork {
        let sequences: [AttentionSequence]
        let plan: [AttentionPlan]
        let units: Int, threads: Int
        let native: Bool
        let query: Tensor, output: Tensor
        let kvHeads: Int, groupSize: Int, headDimension: Int
        let cacheType: TensorType
        let scale: Float
        let window: Int?
        /// Each thread's scratch (`scoresSize` floats), each thread's two states, and the states of split units.
        let scoresSize: Int
        let scores: UnsafeMutablePointer<Float>, threadStates: UnsafeMutablePointer<Float>,
            splitStates: UnsafeMutablePointer<Float>

        func span(_ sequence: AttentionSequence) -> AttentionSpan {
            let rowBytes = sequence.keyCache.rowBytes / kvHeads
            return AttentionSpan(keys: UnsafeRawPointer(sequence.keyCache.data), values: UnsafeRawPointer(sequence.valueCache.data),
                                 rowBytes: rowBytes, headBytes: sequence.keyCache.rowCount * rowBytes,
                                 headDimension: headDimension, groupSize: groupSize, scale: scale)
        }

        func run(thread: Int) {
            // The pool runs every one of its threads; scratch is laid out for `threads` of them (fewer when
            // there are fewer units), and a thread past them would write beyond it.
            guard thread < threads else { return }
            switch cacheType {
            case .f16: run(HalfCacheElement.self, thread: thread)
            case .q8_0: run(Q8CacheElement.self, thread: thread)
            default: run(FloatCacheElement.self, thread: thread)
            }
        }

        private func run<Element: CacheElement>(_: Element.Type, thread: Int) {
            let threadScores = scores + thread * scoresSize
            for (index, sequence) in sequences.enumerated() {
                let entry = plan[index], span = span(sequence)
                let end = index + 1 < plan.count ? plan[index + 1].firstUnit : units
                // This thread's first unit of the sequence: the units go round the threads.
                var unit = entry.firstUnit + (thread - entry.firstUnit % threads + threads) % threads
                while unit < end {
                    let local = unit - entry.firstUnit, splits = entry.splits
                    let first = sequence.rows.lowerBound + local / (kvHeads * splits) * entry.tile, kvHead = local / splits % kvHeads
                    let rows = first ..< min(first + entry.tile, sequence.rows.upperBound)
                    let visible = sequence.start + first - sequence.rows.lowerBound + 1
                    let state = splits > 1 ? splitStates + (entry.firstState + local) * span.stateSize
                        : threadStates + 2 * thread * span.stateSize
                    let queries = query.floats(row: first) + kvHead * groupSize * headDimension
                    let outputs = output.floats(row: first) + kvHead * groupSize * headDimension
                    if let window {
                        // The last `window` positions, as one or two runs of the cache's rows.
                        let runs = ringRuns(max(0, visible - window) ..< visible, cacheRows: sequence.keyCache.rowCount)
                        accumulate(Element.self, span, queries: queries, kvHead: kvHead, positions: runs.0, state: state,
                                   scratch: threadScores)
                        if !runs.1.isEmpty {
                            accumulate(Element.self, span, queries: queries, kvHead: kvHead, positions: runs.1,
                                       state: state + span.stateSize, scratch: threadScores)
                        }
                        span.finish(state, count: runs.1.isEmpty ? 1 : 2, into: outputs)
                        unit += threads
                        continue
                    }
                    let positions = ThreadPool.chunk(local % splits, of: splits, count: visible)
                    if native && entry.tile > 1 {
                        flash(span, queries: queries, kvHead: kvHead, tokens: rows.count, start: visible - 1, into: outputs, scratch: threadScores)
                        unit += threads
                        continue
                    }
                    accumulate(Element.self, span, queries: queries, kvHead: kvHead, positions: positions, state: state,
                               scratch: threadScores)
                    if splits == 1 { span.finish(state, count: 1, into: outputs) }
                    unit += threads
                }
            }
        }

        /// One token's queries over `positions` of the head into `state`: the C decode kernel where it
        /// runs, else the Swift one.
        private func accumulate<Element: CacheElement>(_: Element.Type, _ span: AttentionSpan, queries: UnsafeMutablePointer<Float>,
                                                       kvHead: Int, positions: Range<Int>, state: UnsafeMutablePointer<Float>,
                                                       scratch: UnsafeMutablePointer<Float>) {
            if native {
                attend(span, queries: queries, kvHead: kvHead, positions: positions, state: state, scratch: scratch)
            } else {
                span.accumulate(Element.self, queries: UnsafeRawPointer(queries), kvHead: kvHead, positions: positions, state: state,
                                scores: scratch)
            }
        }

        /// The rows of a cache of `cacheRows` rows that hold `positions` (at most `cacheRows` of them):
        /// one run, or two where they wrap around a ring.
        private func ringRuns(_ positions: Range<Int>, cacheRows: Int) -> (Range<Int>, Range<Int>) {
            let first = positions.lowerBound % cacheRows
            if first + positions.count <= cacheRows { return (first ..< first + positions.count, 0 ..< 0) }
            return (first ..< cacheRows, 0 ..< positions.count - (cacheRows - first))
        }

        /// One token's queries over `positions` of the head, with the C decode kernel.
        private func attend(_ span: AttentionSpan, queries: UnsafeMutablePointer<Float>, kvHead: Int, positions: Range<Int>,
                            state: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
            #if arch(x86_64)
            let offset = kvHead * span.headBytes + positions.lowerBound * span.rowBytes
            ek_attend_avx2(cacheType.cacheKind, queries, Int32(groupSize), Int32(headDimension), span.keys + offset, span.values + offset,
                           Int32(positions.count), span.scale, state, scratch)
            #endif
        }

        /// A tile of `tokens` consecutive tokens from position `start`, with the C flash-attention kernel.
        private func flash(_ span: AttentionSpan, queries: UnsafeMutablePointer<Float>, kvHead: Int, tokens: Int, start: Int,
                           into outputs: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
            #if arch(x86_64)
            let offset = kvHead * span.headBytes
            ek_flash_attend_avx2(cacheType.cacheKind, queries, query.rowLength, Int32(groupSize), Int32(headDimension), Int32(tokens),
                                 Int32(start), span.keys + offset, span.values + offset, span.scale, outputs, output.rowLength, scratch)
            #endif
        }
    }
}

/// The attention of one KV head's group of queries over a range of cached positions, as an online
/// softmax state: per query its running maximum and sum, then its accumulated values.
struct AttentionSpan {
    let keys: UnsafeRawPointer
    let values: UnsafeRawPointer
    /// Bytes from one position of a head to the next, and from one head's positions to the next head's.
    let rowBytes: Int
    let headBytes: Int
    let headDimension: Int
    let groupSize: Int
    let scale: Float

    /// Floats of one state: a maximum, a sum and `headDimension` values per query.
    var stateSize: Int { groupSize * (headDimension + 2) }

    /// Resets `state` and runs `positions` into it, in blocks of `CPUBackend.attentionBlock`; `scores`
    /// holds one block's scores per query.
    @inline(__always)
    func accumulate<Element: CacheElement>(_: Element.Type, queries: UnsafeRawPointer, kvHead: Int, positions: Range<Int>,
                                           state: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>) {
        let block = CPUBackend.attentionBlock
        let maxima = state, sums = state + groupSize, accumulated = state + 2 * groupSize
        maxima.update(repeating: -.infinity, count: groupSize)
        sums.update(repeating: 0, count: groupSize)
        accumulated.update(repeating: 0, count: groupSize * headDimension)
        let kvOffset = kvHead * headBytes
        for blockStart in stride(from: positions.lowerBound, to: positions.upperBound, by: block) {
            let count = min(block, positions.upperBound - blockStart)
            for j in 0 ..< count {
                let k = keys + (blockStart + j) * rowBytes + kvOffset
                for g in 0 ..< groupSize {
                    let q = queries + g * headDimension * 4
                    var sum = SIMD8<Float>()
                    for lane in stride(from: 0, to: headDimension, by: 8) {
                        sum.addProduct(q.loadUnaligned(fromByteOffset: lane * 4, as: SIMD8<Float>.self), Element.load8(k, lane))
                    }
                    scores[g * block + j] = horizontalSum(sum) * scale
                }
            }
            for g in 0 ..< groupSize {
                Self.onlineSoftmaxUpdate(scores + g * block, count: count, maximum: &maxima[g], sum: &sums[g],
                                         accumulated: accumulated + g * headDimension, headDimension: headDimension)
            }
            // Values four positions at a time, so that each accumulator goes through memory once per
            // four products rather than once per product (a store-to-load chain per position cost a
            // sixth of the attention's time).
            var j = 0
            while j + 4 <= count {
                let v = values + (blockStart + j) * rowBytes + kvOffset
                for lane in stride(from: 0, to: headDimension, by: 8) {
                    let v0 = Element.load8(v, lane), v1 = Element.load8(v + rowBytes, lane)
                    let v2 = Element.load8(v + 2 * rowBytes, lane), v3 = Element.load8(v + 3 * rowBytes, lane)
                    for g in 0 ..< groupSize {
                        let target = UnsafeMutableRawPointer(accumulated + g * headDimension + lane), weights = scores + g * block + j
                        var a = target.loadUnaligned(as: SIMD8<Float>.self)
                        a.addProduct(weights[0], v0)
                        a.addProduct(weights[1], v1)
                        a.addProduct(weights[2], v2)
                        a.addProduct(weights[3], v3)
                        target.storeBytes(of: a, as: SIMD8<Float>.self)
                    }
                }
                j += 4
            }
            while j < count {
                let v = values + (blockStart + j) * rowBytes + kvOffset
                for lane in stride(from: 0, to: headDimension, by: 8) {
                    let vector = Element.load8(v, lane)
                    for g in 0 ..< groupSize {
                        let target = UnsafeMutableRawPointer(accumulated + g * headDimension + lane)
                        var a = target.loadUnaligned(as: SIMD8<Float>.self)
                        a.addProduct(scores[g * block + j], vector)
                        target.storeBytes(of: a, as: SIMD8<Float>.self)
                    }
                }
                j += 1
            }
        }
    }

    /// Combines `count` states of consecutive position ranges, `stateSize` apart from `states`, into the
    /// group's outputs, `headDimension` floats per query: the accumulated values of each, rescaled to
    /// the largest maximum, over the equally rescaled sum.
    func finish(_ states: UnsafeMutablePointer<Float>, count: Int, into output: UnsafeMutablePointer<Float>) {
        for g in 0 ..< groupSize {
            var maximum = -Float.infinity
            for index in 0 ..< count { maximum = max(maximum, states[index * stateSize + g]) }
            var total: Float = 0
            let out = output + g * headDimension
            out.update(repeating: 0, count: headDimension)
            for index in 0 ..< count where states[index * stateSize + g] > -.infinity {
                let state = states + index * stateSize
                let weight = Self.exp1(state[g] - maximum)
                total += state[groupSize + g] * weight
                let accumulated = state + 2 * groupSize + g * headDimension
                for i in 0 ..< headDimension { out[i] += accumulated[i] * weight }
            }
            let normaliser = 1 / total
            for i in 0 ..< headDimension { out[i] *= normaliser }
        }
    }

    /// Folds a block of `count` scores into one query's running softmax: the scores become their
    /// weights exp(score - maximum), and when the block raises the maximum, the sum and the values
    /// accumulated so far are rescaled to it.
    @inline(__always)
    static func onlineSoftmaxUpdate(_ scores: UnsafeMutablePointer<Float>, count: Int, maximum: inout Float,
                                     sum: inout Float, accumulated: UnsafeMutablePointer<Float>, headDimension: Int) {
        var blockMaximum = maximum
        for j in 0 ..< count { blockMaximum = max(blockMaximum, scores[j]) }
        if blockMaximum > maximum {
            let correction = maximum == -.infinity ? 0 : exp1(maximum - blockMaximum)
            sum *= correction
            for i in 0 ..< headDimension { accumulated[i] *= correction }
            maximum = blockMaximum
        }
        let raw = UnsafeMutableRawPointer(scores)
        var j = 0
        var total = SIMD8<Float>()
        while j < count {
            var lanes = SIMD8<Float>(repeating: -.infinity)
            for lane in 0 ..< min(8, count - j) { lanes[lane] = scores[j + lane] }
            let weights = exp(lanes - maximum)
            total += weights
            if count - j >= 8 {
                raw.storeBytes(of: weights, toByteOffset: j * 4, as: SIMD8<Float>.self)
            } else {
                for lane in 0 ..< count - j { scores[j + lane] = weights[lane] }
            }
            j += 8
        }
        sum += horizontalSum(total)
    }

    @inline(__always)
    static func exp1(_ x: Float) -> Float { exp(SIMD8<Float>(repeating: x))[0] }

}
