// Vectorised passes over a row of logits, for the sampler: the largest value and where it is, the
// values at or above a threshold, and sums of exponentials (softmax denominators), each one pass of
// 8-lane SIMD with several accumulators. A vocabulary of 262,144 floats is 1 MiB, so the sampler
// reads a row as few times as it can, and never sorts it.

public enum LogitScan {
    /// Lanes per vector and vectors per step of the loops below.
    private static let lanes = 8, unroll = 4

    /// The largest of `count` values (−∞ when there are none; NaN is never the largest).
    public static func maximum(_ values: UnsafePointer<Float>, count: Int) -> Float {
        let raw = UnsafeRawPointer(values)
        var m0 = SIMD8<Float>(repeating: -.infinity), m1 = m0, m2 = m0, m3 = m0
        var index = 0
        while index + lanes * unroll <= count {
            m0 = larger(m0, raw.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self))
            m1 = larger(m1, raw.loadUnaligned(fromByteOffset: index * 4 + 32, as: SIMD8<Float>.self))
            m2 = larger(m2, raw.loadUnaligned(fromByteOffset: index * 4 + 64, as: SIMD8<Float>.self))
            m3 = larger(m3, raw.loadUnaligned(fromByteOffset: index * 4 + 96, as: SIMD8<Float>.self))
            index += lanes * unroll
        }
        var result = largestLane(larger(larger(m0, m1), larger(m2, m3)))
        while index < count {
            if values[index] > result { result = values[index] }
            index += 1
        }
        return result
    }

    /// The index of the first largest of `count` values (0 when all are NaN or there are none).
    public static func argmax(_ values: UnsafePointer<Float>, count: Int) -> Int {
        let best = maximum(values, count: count)
        let raw = UnsafeRawPointer(values), target = SIMD8<Float>(repeating: best)
        var index = 0
        while index + lanes <= count {
            if any(raw.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self) .== target) { break }
            index += lanes
        }
        while index < count {
            if values[index] == best { return index }
            index += 1
        }
        return 0
    }

    /// Writes the index and value of every one of `count` values at or above `threshold`, in index
    /// order, to `indices` and `selected` (room for `count` each), and returns how many there are.
    public static func gather(_ values: UnsafePointer<Float>, count: Int, atLeast threshold: Float,
                              indices: UnsafeMutablePointer<Int32>, selected: UnsafeMutablePointer<Float>,
                              firstIndex: Int = 0) -> Int {
        let raw = UnsafeRawPointer(values), bound = SIMD8<Float>(repeating: threshold)
        var found = 0, index = 0
        // Most lanes fall below a useful threshold: test 32 values at once and look closer only at a hit.
        while index + lanes * unroll <= count {
            let a = raw.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self) .>= bound
            let b = raw.loadUnaligned(fromByteOffset: index * 4 + 32, as: SIMD8<Float>.self) .>= bound
            let c = raw.loadUnaligned(fromByteOffset: index * 4 + 64, as: SIMD8<Float>.self) .>= bound
            let d = raw.loadUnaligned(fromByteOffset: index * 4 + 96, as: SIMD8<Float>.self) .>= bound
            if any((a .| b) .| (c .| d)) {
                for offset in 0 ..< lanes * unroll where values[index + offset] >= threshold {
                    indices[found] = Int32(firstIndex + index + offset)
                    selected[found] = values[index + offset]
                    found += 1
                }
            }
            index += lanes * unroll
        }
        while index < count {
            if values[index] >= threshold {
                indices[found] = Int32(firstIndex + index)
                selected[found] = values[index]
                found += 1
            }
            index += 1
        }
        return found
    }

    /// How many of `count` values lie at or above each of eight thresholds, in one pass: the census
    /// from which a cut picks the tightest threshold that still keeps enough values.
    public static func countAtLeast(_ values: UnsafePointer<Float>, count: Int, thresholds: SIMD8<Float>) -> SIMD8<Int32> {
        let raw = UnsafeRawPointer(values)
        var census = Census(thresholds)
        var index = 0
        while index + lanes <= count {
            census.add(SIMD8(repeating: 1), where: raw.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self))
            index += lanes
        }
        let sums = census.sums
        var counts = SIMD8<Int32>()
        for j in 0 ..< 8 { counts[j] = Int32(sums[j]) }
        while index < count {
            for j in 0 ..< 8 where values[index] >= thresholds[j] { counts[j] += 1 }
            index += 1
        }
        return counts
    }

    /// Σ exp((x − shift) × scale) over the values at or above each of eight thresholds, and over all
    /// of them, in one pass.
    public static func exponentialSumsAtLeast(_ values: UnsafePointer<Float>, count: Int, thresholds: SIMD8<Float>,
                                              shift: Float, scale: Float) -> (atLeast: SIMD8<Float>, total: Float) {
        let raw = UnsafeRawPointer(values)
        var census = Census(thresholds), all = SIMD8<Float>()
        var index = 0
        while index + lanes <= count {
            let v = raw.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self)
            let w = exp((v - shift) * scale)
            all += w
            census.add(w, where: v)
            index += lanes
        }
        var sums = census.sums, total = horizontalSum(all)
        while index < count {
            var one = values[index], weight: Float = 0
            _ = exponentials(&one, count: 1, shift: shift, scale: scale, into: &weight)
            total += weight
            for j in 0 ..< 8 where one >= thresholds[j] { sums[j] += weight }
            index += 1
        }
        return (sums, total)
    }

    /// Σ weights[i] over the values at or above each of eight thresholds, in one pass.
    public static func weightSumsAtLeast(_ values: UnsafePointer<Float>, weights: UnsafePointer<Float>, count: Int,
                                         thresholds: SIMD8<Float>) -> SIMD8<Float> {
        let raw = UnsafeRawPointer(values), rawWeights = UnsafeRawPointer(weights)
        var census = Census(thresholds)
        var index = 0
        while index + lanes <= count {
            census.add(rawWeights.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self),
                       where: raw.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self))
            index += lanes
        }
        var sums = census.sums
        while index < count {
            for j in 0 ..< 8 where values[index] >= thresholds[j] { sums[j] += weights[index] }
            index += 1
        }
        return sums
    }

    /// Eight thresholds, each with the running sum, lane by lane, of the weights of the values at or
    /// above it (explicit vectors rather than an array, so that all sixteen stay in registers).
    private struct Census {
        let t0: SIMD8<Float>, t1: SIMD8<Float>, t2: SIMD8<Float>, t3: SIMD8<Float>
        let t4: SIMD8<Float>, t5: SIMD8<Float>, t6: SIMD8<Float>, t7: SIMD8<Float>
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
        var s4 = SIMD8<Float>(), s5 = SIMD8<Float>(), s6 = SIMD8<Float>(), s7 = SIMD8<Float>()

        @inline(__always)
        init(_ t: SIMD8<Float>) {
            (t0, t1, t2, t3) = (SIMD8(repeating: t[0]), SIMD8(repeating: t[1]), SIMD8(repeating: t[2]), SIMD8(repeating: t[3]))
            (t4, t5, t6, t7) = (SIMD8(repeating: t[4]), SIMD8(repeating: t[5]), SIMD8(repeating: t[6]), SIMD8(repeating: t[7]))
        }

        @_transparent
        mutating func add(_ w: SIMD8<Float>, where v: SIMD8<Float>) {
            s0 += w.replacing(with: 0, where: v .< t0)
            s1 += w.replacing(with: 0, where: v .< t1)
            s2 += w.replacing(with: 0, where: v .< t2)
            s3 += w.replacing(with: 0, where: v .< t3)
            s4 += w.replacing(with: 0, where: v .< t4)
            s5 += w.replacing(with: 0, where: v .< t5)
            s6 += w.replacing(with: 0, where: v .< t6)
            s7 += w.replacing(with: 0, where: v .< t7)
        }

        var sums: SIMD8<Float> {
            SIMD8(horizontalSum(s0), horizontalSum(s1), horizontalSum(s2), horizontalSum(s3),
                  horizontalSum(s4), horizontalSum(s5), horizontalSum(s6), horizontalSum(s7))
        }
    }

    /// Σ exp((x − shift) × scale) over `count` values. With `blockSums`, the part of each block of
    /// `blockLength` values (a multiple of 8) is written there too, so that a draw can find its block
    /// from the sums and recompute the exponentials of that block alone.
    public static func exponentialSum(_ values: UnsafePointer<Float>, count: Int, shift: Float, scale: Float,
                                      blockSums: UnsafeMutablePointer<Float>? = nil, blockLength: Int = 1024) -> Float {
        precondition(blockLength % lanes == 0)
        let raw = UnsafeRawPointer(values)
        var total: Float = 0
        var blockStart = 0, block = 0
        while blockStart < count {
            let blockEnd = blockSums == nil ? count : min(blockStart + blockLength, count)
            // One exponential per iteration: with more, the compiler stops inlining `exp` (a call per
            // vector costs more than the exponential). The iterations overlap in the core anyway.
            var sums = SIMD8<Float>()
            var index = blockStart
            while index + lanes <= blockEnd {
                sums += exp((raw.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self) - shift) * scale)
                index += lanes
            }
            var sum = horizontalSum(sums)
            if index < blockEnd { sum += tailExponentialSum(values + index, count: blockEnd - index, shift: shift, scale: scale) }
            blockSums?[block] = sum
            total += sum
            blockStart = blockEnd
            block += 1
        }
        return total
    }

    /// weights[i] = exp((values[i] − shift) × scale) for `count` values; returns their sum.
    public static func exponentials(_ values: UnsafePointer<Float>, count: Int, shift: Float, scale: Float,
                                    into weights: UnsafeMutablePointer<Float>) -> Float {
        let raw = UnsafeRawPointer(values), out = UnsafeMutableRawPointer(weights)
        var sums = SIMD8<Float>()
        var index = 0
        while index + lanes <= count {
            let weights = exp((raw.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self) - shift) * scale)
            out.storeBytes(of: weights, toByteOffset: index * 4, as: SIMD8<Float>.self)
            sums += weights
            index += lanes
        }
        var total = horizontalSum(sums)
        while index < count {
            let tail = min(lanes, count - index)
            var lanesIn = SIMD8<Float>(repeating: -.infinity)
            for lane in 0 ..< tail { lanesIn[lane] = values[index + lane] }
            let w = exp((lanesIn - shift) * scale)
            for lane in 0 ..< tail {
                weights[index + lane] = w[lane]
                total += w[lane]
            }
            index += tail
        }
        return total
    }

    private static func tailExponentialSum(_ values: UnsafePointer<Float>, count: Int, shift: Float, scale: Float) -> Float {
        var total: Float = 0
        var index = 0
        while index < count {
            let tail = min(lanes, count - index)
            var lanesIn = SIMD8<Float>(repeating: -.infinity)
            for lane in 0 ..< tail { lanesIn[lane] = values[index + lane] }
            total += horizontalSum(exp((lanesIn - shift) * scale))
            index += tail
        }
        return total
    }

    @inline(__always)
    private static func larger(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
        a.replacing(with: b, where: b .> a)
    }

    @inline(__always)
    private static func largestLane(_ v: SIMD8<Float>) -> Float {
        var result = v[0]
        for lane in 1 ..< 8 where v[lane] > result { result = v[lane] }
        return result
    }
}
