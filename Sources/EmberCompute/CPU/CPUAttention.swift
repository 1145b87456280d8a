// Causal grouped-query attention on the CPU over the key/value cache (F16 by default, F32 on request).
// Each (token, head) pair is one unit of work: scores against every cached position up to the
// token's own, a softmax, and the weighted sum of cached values. Query heads share key/value heads in
// groups (GQA).

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
    public func attention(query: Tensor, key: Tensor, value: Tensor, rows: Range<Int>, keyCache: Tensor,
                          valueCache: Tensor, start: Int, shape: AttentionShape, into output: Tensor) {
        precondition(keyCache.type == valueCache.type)
        switch keyCache.type {
        case .f16: attention(HalfCacheElement.self, query: query, key: key, value: value, rows: rows, keyCache: keyCache,
                             valueCache: valueCache, start: start, shape: shape, into: output)
        case .f32: attention(FloatCacheElement.self, query: query, key: key, value: value, rows: rows, keyCache: keyCache,
                             valueCache: valueCache, start: start, shape: shape, into: output)
        default: preconditionFailure("KV cache of type \(keyCache.type)")
        }
    }

    private func attention<Element: CacheElement>(_: Element.Type, query: Tensor, key: Tensor, value: Tensor,
                                                  rows: Range<Int>, keyCache: Tensor, valueCache: Tensor, start: Int,
                                                  shape: AttentionShape, into output: Tensor) {
        let headDimension = shape.headDimension, kvWidth = shape.kvWidth
        precondition(headDimension % 8 == 0)
        precondition(start + rows.count <= keyCache.rowCount, "attention past the end of the KV cache")
        precondition(key.rowLength == kvWidth && keyCache.rowLength == kvWidth && query.rowLength == shape.queryWidth)

        let rowBytes = kvWidth * Element.stride
        pool.parallelFor(rows.count) { range in
            for index in range {
                store(Element.self, key.floats(row: rows.lowerBound + index), into: keyCache.data + (start + index) * rowBytes, count: kvWidth)
                store(Element.self, value.floats(row: rows.lowerBound + index), into: valueCache.data + (start + index) * rowBytes, count: kvWidth)
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
            let scores = scratch + thread * Self.attentionScratchPerThread(positions)
            for unit in ThreadPool.chunk(thread, of: threads, count: units) {
                let index = unit / shape.headCount, head = unit % shape.headCount
                let row = rows.lowerBound + index
                let visible = start + index + 1
                let kvOffset = (head / groupSize) * headDimension * Element.stride
                let q = UnsafeRawPointer(query.floats(row: row) + head * headDimension)

                var maximum = -Float.infinity
                for position in 0 ..< visible {
                    let k = keys + position * rowBytes + kvOffset
                    var sum = SIMD8<Float>()
                    for lane in stride(from: 0, to: headDimension, by: 8) {
                        sum.addProduct(q.loadUnaligned(fromByteOffset: lane * 4, as: SIMD8<Float>.self),
                                       Element.load8(k, lane))
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
                    let v = values + position * rowBytes + kvOffset
                    for lane in stride(from: 0, to: headDimension, by: 8) {
                        var accumulator = out.loadUnaligned(fromByteOffset: lane * 4, as: SIMD8<Float>.self)
                        accumulator.addProduct(weight, Element.load8(v, lane))
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

    /// Per-thread score rows of at least `positions` floats, `attentionScratchPerThread(positions)` apart.
    private func attentionScores(perThread positions: Int) -> UnsafeMutablePointer<Float> {
        attentionScratch.floats(Self.attentionScratchPerThread(positions) * pool.threadCount)
    }

    private static func attentionScratchPerThread(_ positions: Int) -> Int { (positions + 15) / 16 * 16 }

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
    private func store<Element: CacheElement>(_: Element.Type, _ source: UnsafePointer<Float>,
                                              into target: UnsafeMutableRawPointer, count: Int) {
        for offset in stride(from: 0, to: count, by: 8) {
            Element.store8(UnsafeRawPointer(source).loadUnaligned(fromByteOffset: offset * 4, as: SIMD8<Float>.self), target, offset)
        }
    }
}
