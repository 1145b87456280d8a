// Causal grouped-query attention on the CPU over the key/value cache (F16 by default, F32 on request).
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

/// How one element type of the KV cache is stored and read back, eight values at a time.
protocol CacheElement {
    static var stride: Int { get }
    static func load8(_ p: UnsafeRawPointer, _ index: Int) -> SIMD8<Float>
    static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutableRawPointer, _ index: Int)
}

enum HalfCacheElement: CacheElement {
    static var stride: Int { 2 }
    @inline(__always) static func load8(_ p: UnsafeRawPointer, _ index: Int) -> SIMD8<Float> {
        widen(p.loadUnaligned(fromByteOffset: index * 2, as: SIMD8<Float16>.self))
    }
    @inline(__always) static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutableRawPointer, _ index: Int) {
        p.storeBytes(of: narrow(v), toByteOffset: index * 2, as: SIMD8<Float16>.self)
    }
}

enum FloatCacheElement: CacheElement {
    static var stride: Int { 4 }
    @inline(__always) static func load8(_ p: UnsafeRawPointer, _ index: Int) -> SIMD8<Float> {
        p.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self)
    }
    @inline(__always) static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutableRawPointer, _ index: Int) {
        p.storeBytes(of: v, toByteOffset: index * 4, as: SIMD8<Float>.self)
    }
}

extension CPUBackend {
    /// Positions scored together between two online-softmax updates.
    static let attentionBlock = 16

    func attention(query: Tensor, key: Tensor, value: Tensor, sequences: [AttentionSequence], rope: RopeParameters,
                          shape: AttentionShape, into output: Tensor) {
        guard let cacheType = sequences.first?.keyCache.type else { return }
        precondition(cacheType == .f16 || cacheType == .f32, "KV cache of type \(cacheType)")
        let headDimension = shape.headDimension, kvWidth = shape.kvWidth
        precondition(headDimension % 8 == 0 && rope.dimensions <= headDimension && rope.dimensions % 2 == 0)
        precondition(key.rowLength == kvWidth && query.rowLength == shape.queryWidth)

        // The C kernels (attention.c) take an F16 cache on x86; the Swift ones everything else.
        let native = level != .portable && cacheType == .f16 && headDimension % 16 == 0
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

        let elementStride = cacheType == .f16 ? HalfCacheElement.stride : FloatCacheElement.stride
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
                                 headDimension: headDimension, elementStride: elementStride, scale: shape.scale, window: window,
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
            // A ring (a windowed layer's cache shorter than the context) wraps; a full cache never does.
            let cacheRow = position % keyCache.rowCount
            if keyCache.type == .f16 { store(HalfCacheElement.self, cacheRow: cacheRow, row: row) } else {
                store(FloatCacheElement.self, cacheRow: cacheRow, row: row)
            }
        }

        /// Each head's part of the row at `cacheRow` of its head's run of positions.
        private func store<Element: CacheElement>(_: Element.Type, cacheRow: Int, row: Int) {
            let headDimension = shape.headDimension, rowBytes = headDimension * Element.stride
            let headBytes = keyCache.rowCount * rowBytes
            for head in 0 ..< shape.kvHeadCount {
                let offset = head * headBytes + cacheRow * rowBytes
                store(Element.self, key.floats(row: row) + head * headDimension, into: keyCache.data + offset, count: headDimension)
                store(Element.self, value.floats(row: row) + head * headDimension, into: valueCache.data + offset, count: headDimension)
            }
        }

        private func store<Element: CacheElement>(_: Element.Type, _ source: UnsafePointer<Float>,
                                                  into target: UnsafeMutableRawPointer, count: Int) {
            for offset in stride(from: 0, to: count, by: 8) {
                Element.store8(UnsafeRawPointer(source).loadUnaligned(fromByteOffset: offset * 4, as: SIMD8<Float>.self),
                               target, offset)
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
        let kvHeads: Int, groupSize: Int, headDimension: Int, elementStride: Int
        let scale: Float
        let window: Int?
        /// Each thread's scratch (`scoresSize` floats), each thread's two states, and the states of split units.
        let scoresSize: Int
        let scores: UnsafeMutablePointer<Float>, threadStates: UnsafeMutablePointer<Float>,
            splitStates: UnsafeMutablePointer<Float>

        func span(_ sequence: AttentionSequence) -> AttentionSpan {
            AttentionSpan(keys: UnsafeRawPointer(sequence.keyCache.data), values: UnsafeRawPointer(sequence.valueCache.data),
                          rowBytes: headDimension * elementStride, headBytes: sequence.keyCache.rowCount * headDimension * elementStride,
                          elementStride: elementStride,
                          headDimension: headDimension, groupSize: groupSize, scale: scale)
        }

        func run(thread: Int) {
            // The pool runs every one of its threads; scratch is laid out for `threads` of them (fewer when
            // there are fewer units), and a thread past them would write beyond it.
            guard thread < threads else { return }
            if elementStride == 2 { run(HalfCacheElement.self, thread: thread) } else { run(FloatCacheElement.self, thread: thread) }
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
            ek_attend_f16_avx2(queries, Int32(groupSize), Int32(headDimension), (span.keys + offset).assumingMemoryBound(to: UInt16.self),
                               (span.values + offset).assumingMemoryBound(to: UInt16.self), Int32(positions.count), span.scale,
                               state, scratch)
            #endif
        }

        /// A tile of `tokens` consecutive tokens from position `start`, with the C flash-attention kernel.
        private func flash(_ span: AttentionSpan, queries: UnsafeMutablePointer<Float>, kvHead: Int, tokens: Int, start: Int,
                           into outputs: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
            #if arch(x86_64)
            let offset = kvHead * span.headBytes
            ek_flash_attend_f16_avx2(queries, query.rowLength, Int32(groupSize), Int32(headDimension), Int32(tokens), Int32(start),
                                     (span.keys + offset).assumingMemoryBound(to: UInt16.self),
                                     (span.values + offset).assumingMemoryBound(to: UInt16.self), span.scale, outputs,
                                     output.rowLength, scratch)
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
    /// Bytes per cached element: 2 (F16) or 4 (F32).
    let elementStride: Int
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
