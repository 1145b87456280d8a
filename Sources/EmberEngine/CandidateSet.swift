// The tokens a sampler still considers, token ids and logits side by side in token order, with the
// cuts of the sampler chain done by selection rather than sorting: top-k keeps the k largest (the
// k-th largest found by quickselect), top-p the fewest most likely whose probability reaches p (a
// quickselect weighted by probability), min-p those above a logit. Ties at a cut go to the lower
// token ids, as a sort by (logit, token) would have it. Storage for a whole vocabulary is allocated
// once per sampler.

import EmberCompute

final class CandidateSet {
    let capacity: Int
    private(set) var count = 0
    let tokens: UnsafeMutablePointer<Int32>
    let logits: UnsafeMutablePointer<Float>
    /// Scratch of the selections and the draw: weights, and a band's values and weights reordered by
    /// quickselect.
    let weights: UnsafeMutablePointer<Float>
    private let scratch: UnsafeMutablePointer<Float>, bandWeights: UnsafeMutablePointer<Float>

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        tokens = .allocate(capacity: self.capacity)
        logits = .allocate(capacity: self.capacity)
        weights = .allocate(capacity: self.capacity)
        scratch = .allocate(capacity: self.capacity)
        bandWeights = .allocate(capacity: self.capacity)
    }

    deinit {
        tokens.deallocate()
        logits.deallocate()
        weights.deallocate()
        scratch.deallocate()
        bandWeights.deallocate()
    }

    /// Every token of `row` whose logit is at least `threshold`.
    func gather(_ row: LogitRow, atLeast threshold: Float) {
        count = row.gather(atLeast: threshold, indices: tokens, selected: logits)
    }

    /// Keeps the `k` largest.
    func keepLargest(_ k: Int) {
        guard k < count else { return }
        var band = Band(of: self)
        while band.members > Self.selectionSize {
            let thresholds = band.thresholds()
            let counts = LogitScan.countAtLeast(logits, count: count, thresholds: thresholds)
            band.narrow(thresholds) { Float(counts[$0]) >= Float(k) } measure: { Float(counts[$0]) } members: { Int(counts[$0]) }
        }
        let bandCount = extractBand(band, withWeights: false)
        let cut = Self.largest(k - Int(band.measureAbove), of: scratch, count: bandCount)
        var above = 0
        for index in 0 ..< count where logits[index] > cut { above += 1 }
        var ties = k - above
        compact { logit in
            if logit > cut { return true }
            guard logit == cut, ties > 0 else { return false }
            ties -= 1
            return true
        }
    }

    /// Keeps the fewest most likely tokens whose weights exp(logit − maximum) reach `p` times `total`
    /// (the set's own total by default: top-p within the set). `maximum` is the largest logit of the set.
    func keepMass(_ p: Float, of total: Float? = nil, maximum: Float) {
        let own = LogitScan.exponentials(logits, count: count, shift: maximum, scale: 1, into: weights)
        let target = p * (total ?? own)
        var band = Band(of: self)
        while band.members > Self.selectionSize {
            let thresholds = band.thresholds()
            let sums = LogitScan.weightSumsAtLeast(logits, weights: weights, count: count, thresholds: thresholds)
            let counts = LogitScan.countAtLeast(logits, count: count, thresholds: thresholds)
            band.narrow(thresholds) { sums[$0] >= target } measure: { sums[$0] } members: { Int(counts[$0]) }
        }
        let bandCount = extractBand(band, withWeights: true)
        let (cut, bandAbove) = Self.massCut(reaching: target - band.measureAbove, values: scratch, weights: bandWeights, count: bandCount)
        let tieWeight = Self.exponential(cut - maximum)
        var mass = band.measureAbove + bandAbove
        compact { logit in
            if logit > cut { return true }
            guard logit == cut, mass < target else { return false }
            mass += tieWeight
            return true
        }
    }

    /// Candidates in a band this small are selected among directly.
    private static let selectionSize = 256

    /// The logits [low, high) among which a cut lies, narrowed by censuses of the set at eight
    /// thresholds inside it: every candidate at or above `high` is kept whatever the cut, and they
    /// weigh (or count) `measureAbove`.
    private struct Band {
        var low: Float, high: Float
        var measureAbove: Float = 0
        /// Candidates in the band, and at or above `high`.
        var members: Int
        var membersAbove = 0
        var rounds = 0

        init(of set: CandidateSet) {
            var low = Float.infinity, high = -Float.infinity
            for index in 0 ..< set.count {
                low = min(low, set.logits[index])
                high = max(high, set.logits[index])
            }
            self.low = low
            self.high = high.nextUp
            members = set.count
        }

        /// Eight thresholds evenly inside the band, highest first.
        func thresholds() -> SIMD8<Float> {
            let step = (high - low) / 9
            return SIMD8<Float>(repeating: high) - step * SIMD8<Float>(1, 2, 3, 4, 5, 6, 7, 8)
        }

        /// Moves into the sub-band where `enough` first holds (the thresholds' census of the whole set).
        mutating func narrow(_ thresholds: SIMD8<Float>, _ enough: (Int) -> Bool, measure: (Int) -> Float, members count: (Int) -> Int) {
            rounds += 1
            let level = (0 ..< 8).first(where: enough) ?? 8
            if level > 0 {
                high = thresholds[level - 1]
                measureAbove = measure(level - 1)
                membersAbove = count(level - 1)
            }
            let below = level < 8 ? count(level) : members + membersAbove
            if level < 8 { low = thresholds[level] }
            members = below - membersAbove
            // Ties (a band that no longer narrows) or enough rounds: select among what is left.
            if rounds >= 4 || !(low < high) { members = min(members, CandidateSet.selectionSize) }
        }
    }

    /// Copies the logits (and weights) of the band's candidates to the scratch; returns how many.
    private func extractBand(_ band: Band, withWeights: Bool) -> Int {
        var found = 0
        for index in 0 ..< count where logits[index] >= band.low && logits[index] < band.high {
            scratch[found] = logits[index]
            if withWeights { bandWeights[found] = weights[index] }
            found += 1
        }
        return found
    }

    /// Keeps the tokens whose logit is at least `floor`.
    func keepAtLeast(_ floor: Float) {
        compact { $0 >= floor }
    }

    /// Draws one token with probability proportional to exp((logit − maximum) / temperature), given a
    /// uniform `u` in [0, 1); the set is walked in token order.
    func draw(maximum: Float, temperature: Float, u: Float) -> Int32 {
        let total = LogitScan.exponentials(logits, count: count, shift: maximum, scale: 1 / temperature, into: weights)
        return Self.walk(weights, count: count, remaining: u * total).map { tokens[$0] } ?? tokens[0]
    }

    /// The first index at which `remaining` minus the running sum of `weights` falls below zero; the
    /// last positive weight when rounding never lets it; nil when no weight is positive.
    static func walk(_ weights: UnsafePointer<Float>, count: Int, remaining: Float) -> Int? {
        var remaining = remaining, last: Int?
        for index in 0 ..< count where weights[index] > 0 {
            remaining -= weights[index]
            if remaining < 0 { return index }
            last = index
        }
        return last
    }

    /// Keeps, in order, the entries whose logit `keep` accepts.
    private func compact(_ keep: (Float) -> Bool) {
        var kept = 0
        for index in 0 ..< count where keep(logits[index]) {
            tokens[kept] = tokens[index]
            logits[kept] = logits[index]
            kept += 1
        }
        count = kept
    }

    /// e^x with the same rounding as the vectorised weights.
    private static func exponential(_ x: Float) -> Float {
        var value = x, weight: Float = 0
        _ = LogitScan.exponentials(&value, count: 1, shift: 0, scale: 1, into: &weight)
        return weight
    }

    // MARK: - Selection

    /// The k-th largest (k from 1) of `count` values, which it reorders: a quickselect with a
    /// three-way partition (ties are common among logits) around a median of three.
    static func largest(_ k: Int, of values: UnsafeMutablePointer<Float>, count: Int) -> Float {
        var low = 0, high = count - 1
        let target = k - 1
        while low < high {
            let pivot = median(values[low], values[(low + high) / 2], values[high])
            var greater = low, index = low, less = high
            while index <= less {
                if values[index] > pivot {
                    swap(values, greater, index)
                    greater += 1
                    index += 1
                } else if values[index] < pivot {
                    swap(values, index, less)
                    less -= 1
                } else {
                    index += 1
                }
            }
            if target < greater { high = greater - 1 } else if target > less { low = less + 1 } else { return pivot }
        }
        return values[low]
    }

    /// The value v at which the weights of the values above v fall short of `target` and those at v
    /// or above reach it, with the weight above v; `values` and `weights` are reordered together.
    static func massCut(reaching target: Float, values: UnsafeMutablePointer<Float>, weights: UnsafeMutablePointer<Float>,
                        count: Int) -> (cut: Float, massAbove: Float) {
        var low = 0, high = count - 1, needed = target, massAbove: Float = 0
        while low < high {
            let pivot = median(values[low], values[(low + high) / 2], values[high])
            var greater = low, index = low, less = high
            var greaterMass: Float = 0, equalMass: Float = 0
            while index <= less {
                if values[index] > pivot {
                    greaterMass += weights[index]
                    swap(values, greater, index)
                    swap(weights, greater, index)
                    greater += 1
                    index += 1
                } else if values[index] < pivot {
                    swap(values, index, less)
                    swap(weights, index, less)
                    less -= 1
                } else {
                    equalMass += weights[index]
                    index += 1
                }
            }
            if greaterMass >= needed && greater > low {
                high = greater - 1
            } else if greaterMass + equalMass >= needed || less + 1 > high {
                return (pivot, massAbove + greaterMass)
            } else {
                needed -= greaterMass + equalMass
                massAbove += greaterMass + equalMass
                low = less + 1
            }
        }
        return (values[low], massAbove)
    }

    @inline(__always)
    private static func swap(_ values: UnsafeMutablePointer<Float>, _ a: Int, _ b: Int) {
        (values[a], values[b]) = (values[b], values[a])
    }

    @inline(__always)
    private static func median(_ a: Float, _ b: Float, _ c: Float) -> Float {
        max(min(a, b), min(max(a, b), c))
    }
}
