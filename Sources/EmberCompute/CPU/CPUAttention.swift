// Causal grouped-query attention on the CPU over an F16 key/value cache. Each (token, head) pair is
// one unit of work: scores against every cached position up to the token's own, a softmax, and the
// weighted sum of cached values. Query heads share key/value heads in groups (GQA).

import EmberFormats

extension CPUBackend {
    public func attention(query: Tensor, key: Tensor, value: Tensor, rows: Range<Int>, keyCache: Tensor,
                          valueCache: Tensor, start: Int, shape: AttentionShape, into output: Tensor) {
        let headDimension = shape.headDimension, kvWidth = shape.kvWidth
        precondition(headDimension % 8 == 0 && keyCache.type == .f16 && valueCache.type == .f16)
        precondition(start + rows.count <= keyCache.rowCount, "attention past the end of the KV cache")
        precondition(key.rowLength == kvWidth && keyCache.rowLength == kvWidth && query.rowLength == shape.queryWidth)

        pool.parallelFor(rows.count) { range in
            for index in range {
                storeHalves(key.floats(row: rows.lowerBound + index), into: keyCache.data + (start + index) * kvWidth * 2, count: kvWidth)
                storeHalves(value.floats(row: rows.lowerBound + index), into: valueCache.data + (start + index) * kvWidth * 2, count: kvWidth)
            }
        }

        let positions = start + rows.count
        let scratch = attentionScores(perThread: positions)
        let units = rows.count * shape.headCount
        let groupSize = shape.headCount / shape.kvHeadCount
        let scale = 1 / Float(headDimension).squareRoot()
        let keys = UnsafeRawPointer(keyCache.data), values = UnsafeRawPointer(valueCache.data)
        let threads = pool.threadCount
        pool.run { thread in
            let scores = scratch + thread * attentionScratchPerThread
            for unit in ThreadPool.chunk(thread, of: threads, count: units) {
                let index = unit / shape.headCount, head = unit % shape.headCount
                let row = rows.lowerBound + index
                let visible = start + index + 1
                let kvOffset = (head / groupSize) * headDimension * 2
                let q = UnsafeRawPointer(query.floats(row: row) + head * headDimension)

                var maximum = -Float.infinity
                for position in 0 ..< visible {
                    let k = keys + position * kvWidth * 2 + kvOffset
                    var sum = SIMD8<Float>()
                    for lane in stride(from: 0, to: headDimension, by: 8) {
                        sum.addProduct(q.loadUnaligned(fromByteOffset: lane * 4, as: SIMD8<Float>.self),
                                       widen(k.loadUnaligned(fromByteOffset: lane * 2, as: SIMD8<Float16>.self)))
                    }
                    let score = sum.sum() * scale
                    scores[position] = score
                    maximum = max(maximum, score)
                }
                let total = softmaxInPlace(scores, count: visible, maximum: maximum)

                let out = UnsafeMutableRawPointer(output.floats(row: row) + head * headDimension)
                for lane in stride(from: 0, to: headDimension, by: 8) {
                    out.storeBytes(of: SIMD8<Float>(), toByteOffset: lane * 4, as: SIMD8<Float>.self)
                }
                for position in 0 ..< visible {
                    let weight = scores[position]
                    let v = values + position * kvWidth * 2 + kvOffset
                    for lane in stride(from: 0, to: headDimension, by: 8) {
                        var accumulator = out.loadUnaligned(fromByteOffset: lane * 4, as: SIMD8<Float>.self)
                        accumulator.addProduct(weight, widen(v.loadUnaligned(fromByteOffset: lane * 2, as: SIMD8<Float16>.self)))
                        out.storeBytes(of: accumulator, toByteOffset: lane * 4, as: SIMD8<Float>.self)
                    }
                }
                let normaliser = 1 / total
                for lane in stride(from: 0, to: headDimension, by: 8) {
                    let v = out.loadUnaligned(fromByteOffset: lane * 4, as: SIMD8<Float>.self)
                    out.storeBytes(of: v * normaliser, toByteOffset: lane * 4, as: SIMD8<Float>.self)
                }
            }
        }
    }

    /// Per-thread score rows of at least `positions` floats, grown (never per token once warm).
    private func attentionScores(perThread positions: Int) -> UnsafeMutablePointer<Float> {
        let needed = (positions + 7) / 8 * 8
        if let scratch = attentionScratch, attentionScratchPerThread >= needed { return scratch }
        attentionScratch?.deallocate()
        let capacity = max(needed, 1024)
        attentionScratch = .allocate(capacity: capacity * pool.threadCount)
        attentionScratchPerThread = capacity
        return attentionScratch!
    }

    /// Replaces `scores[0 ..< count]` with exp(score - maximum) and returns their sum.
    @inline(__always)
    private func softmaxInPlace(_ scores: UnsafeMutablePointer<Float>, count: Int, maximum: Float) -> Float {
        let raw = UnsafeMutableRawPointer(scores)
        var sums = SIMD8<Float>()
        var position = 0
        while position + 8 <= count {
            let e = exp(raw.loadUnaligned(fromByteOffset: position * 4, as: SIMD8<Float>.self) - maximum)
            raw.storeBytes(of: e, toByteOffset: position * 4, as: SIMD8<Float>.self)
            sums += e
            position += 8
        }
        var total = sums.sum()
        while position < count {
            var lanes = SIMD8<Float>(repeating: -Float.infinity)
            lanes[0] = scores[position] - maximum
            let e = exp(lanes)[0]
            scores[position] = e
            total += e
            position += 1
        }
        return total
    }

    @inline(__always)
    private func storeHalves(_ source: UnsafePointer<Float>, into target: UnsafeMutableRawPointer, count: Int) {
        let raw = UnsafeRawPointer(source)
        for offset in stride(from: 0, to: count, by: 8) {
            let halves = narrow(raw.loadUnaligned(fromByteOffset: offset * 4, as: SIMD8<Float>.self))
            target.storeBytes(of: halves, toByteOffset: offset * 2, as: SIMD8<Float16>.self)
        }
    }
}
