// A row of logits with the passes the sampler makes over it (`LogitScan`), split across the threads
// of a pool when the row is long (a 262,144-token vocabulary): each thread takes a contiguous part
// (whole blocks of the block sums), and the parts' results are combined. Short rows, or a row with no
// pool (a sampler already running on one of the pool's threads), stay on the calling thread.

public struct LogitRow {
    public let values: UnsafeMutablePointer<Float>
    public let count: Int
    private let pool: ThreadPool?
    /// Rows shorter than this are not worth handing to other threads.
    public static let parallelLength = 1 << 16
    /// Part boundaries fall on multiples of this (the block length of the block sums).
    public static let partAlignment = 1024

    public init(_ values: UnsafeMutableBufferPointer<Float>, pool: ThreadPool?) {
        self.values = values.baseAddress!
        count = values.count
        self.pool = count >= Self.parallelLength && (pool?.threadCount ?? 1) > 1 ? pool : nil
    }

    public func maximum() -> Float {
        guard let pool else { return LogitScan.maximum(values, count: count) }
        return run(.maximum, pool) { parts, results in (0 ..< parts).reduce(-Float.infinity) { max($0, results[$1 * 9]) } }
    }

    public func countAtLeast(_ thresholds: SIMD8<Float>) -> SIMD8<Int32> {
        guard let pool else { return LogitScan.countAtLeast(values, count: count, thresholds: thresholds) }
        return run(.count(thresholds), pool) { parts, results in
            var counts = SIMD8<Int32>()
            for part in 0 ..< parts { for j in 0 ..< 8 { counts[j] += Int32(results[part * 9 + j]) } }
            return counts
        }
    }

    public func exponentialSumsAtLeast(_ thresholds: SIMD8<Float>, shift: Float, scale: Float) -> (atLeast: SIMD8<Float>, total: Float) {
        guard let pool else {
            return LogitScan.exponentialSumsAtLeast(values, count: count, thresholds: thresholds, shift: shift, scale: scale)
        }
        return run(.masses(thresholds, shift: shift, scale: scale), pool) { parts, results in
            var sums = SIMD8<Float>(), total: Float = 0
            for part in 0 ..< parts {
                for j in 0 ..< 8 { sums[j] += results[part * 9 + j] }
                total += results[part * 9 + 8]
            }
            return (sums, total)
        }
    }

    /// As `LogitScan.exponentialSum` with block sums of `partAlignment` values.
    public func exponentialSum(shift: Float, scale: Float, blockSums: UnsafeMutablePointer<Float>) -> Float {
        guard let pool else {
            return LogitScan.exponentialSum(values, count: count, shift: shift, scale: scale, blockSums: blockSums,
                                            blockLength: Self.partAlignment)
        }
        return run(.exponentialSum(shift: shift, scale: scale, blockSums: blockSums), pool) { parts, results in
            (0 ..< parts).reduce(0) { $0 + results[$1 * 9] }
        }
    }

    /// As `LogitScan.gather`: every index and value at or above `threshold`, in index order.
    public func gather(atLeast threshold: Float, indices: UnsafeMutablePointer<Int32>, selected: UnsafeMutablePointer<Float>) -> Int {
        guard let pool else {
            return LogitScan.gather(values, count: count, atLeast: threshold, indices: indices, selected: selected)
        }
        return run(.gather(threshold, indices: indices, selected: selected), pool) { parts, results in
            // Each part gathered to its own offset; close the gaps in order.
            var found = 0
            for part in 0 ..< parts {
                let start = partRange(part, of: parts).lowerBound, partFound = Int(results[part * 9])
                if start != found {
                    (indices + found).update(from: indices + start, count: partFound)
                    (selected + found).update(from: selected + start, count: partFound)
                }
                found += partFound
            }
            return found
        }
    }

    /// Part `part` of `parts`: near-equal ranges that start on multiples of `partAlignment`.
    func partRange(_ part: Int, of parts: Int) -> Range<Int> {
        let blocks = (count + Self.partAlignment - 1) / Self.partAlignment
        let share = ThreadPool.chunk(part, of: parts, count: blocks)
        return min(share.lowerBound * Self.partAlignment, count) ..< min(share.upperBound * Self.partAlignment, count)
    }

    /// Runs `pass` on one part per thread, each writing up to 9 floats of results, then `combine`s them.
    private func run<Result>(_ pass: RowPass, _ pool: ThreadPool,
                             _ combine: (_ parts: Int, _ results: UnsafeMutablePointer<Float>) -> Result) -> Result {
        let parts = pool.threadCount
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: parts * 9) { results in
            pool.parallelFor(parts, RowParts(row: self, pass: pass, parts: parts, results: results.baseAddress!))
            return combine(parts, results.baseAddress!)
        }
    }
}

private enum RowPass {
    case maximum
    case count(SIMD8<Float>)
    case masses(SIMD8<Float>, shift: Float, scale: Float)
    case exponentialSum(shift: Float, scale: Float, blockSums: UnsafeMutablePointer<Float>)
    case gather(Float, indices: UnsafeMutablePointer<Int32>, selected: UnsafeMutablePointer<Float>)
}

private struct RowParts: PoolRangeWork {
    let row: LogitRow
    let pass: RowPass
    let parts: Int
    let results: UnsafeMutablePointer<Float>

    func run(_ range: Range<Int>) {
        for part in range {
            let span = row.partRange(part, of: parts), start = row.values + span.lowerBound, count = span.count
            let out = results + part * 9
            switch pass {
            case .maximum:
                out[0] = LogitScan.maximum(start, count: count)
            case let .count(thresholds):
                let counts = LogitScan.countAtLeast(start, count: count, thresholds: thresholds)
                for j in 0 ..< 8 { out[j] = Float(counts[j]) }
            case let .masses(thresholds, shift, scale):
                let (sums, total) = LogitScan.exponentialSumsAtLeast(start, count: count, thresholds: thresholds, shift: shift, scale: scale)
                for j in 0 ..< 8 { out[j] = sums[j] }
                out[8] = total
            case let .exponentialSum(shift, scale, blockSums):
                out[0] = LogitScan.exponentialSum(start, count: count, shift: shift, scale: scale,
                                                  blockSums: blockSums + span.lowerBound / LogitRow.partAlignment,
                                                  blockLength: LogitRow.partAlignment)
            case let .gather(threshold, indices, selected):
                out[0] = Float(LogitScan.gather(start, count: count, atLeast: threshold, indices: indices + span.lowerBound,
                                                selected: selected + span.lowerBound, firstIndex: span.lowerBound))
            }
        }
    }
}
