// Chooses the next token from a row of logits, with llama.cpp's sampler chain and order: logit bias
// -> penalties -> top-k -> top-p -> min-p -> temperature -> random draw (or argmax when greedy).
// Nothing sorts the vocabulary. A pass finds the largest logit; every filter keeps only tokens close
// enough to it, so a census counts (for top-k) or weighs (for top-p) the tokens above eight thresholds
// below it in one pass, a second pass gathers the tokens above the tightest threshold that keeps
// enough, and the cuts are made among those few (`CandidateSet`). With no filter at all, one
// pass sums the exponentials per block of the vocabulary and the draw recomputes one block. Buffers are
// allocated once per sampler; the penalties change the row in place and undo it before returning.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import EmberCompute

public final class Sampler {
    public let parameters: SamplingParameters
    public let vocabularySize: Int
    private var random: SeededRandom
    private var adjustments: LogitAdjustments
    private let candidates: CandidateSet
    /// The exponential sums of the vocabulary's blocks, for a draw from every token.
    private let blockSums: UnsafeMutablePointer<Float>

    public init(parameters: SamplingParameters, vocabularySize: Int) {
        self.parameters = parameters
        self.vocabularySize = vocabularySize
        random = SeededRandom(seed: parameters.seed ?? UInt64.random(in: .min ... .max))
        adjustments = LogitAdjustments(parameters, vocabularySize: vocabularySize)
        candidates = CandidateSet(capacity: vocabularySize)
        blockSums = .allocate(capacity: (vocabularySize + LogitRow.partAlignment - 1) / LogitRow.partAlignment)
    }

    deinit { blockSums.deallocate() }

    /// Whether the choice is the largest logit as the model made it (greedy, with no bias or penalty to
    /// apply first): then the model may choose it where the logits are (`forwardGreedy`).
    public var choosesLargestLogit: Bool { parameters.isGreedy && adjustments.isEmpty }

    /// Picks the next token. `recent` are the tokens seen so far (prompt and generated, oldest first);
    /// the penalties look at the last `penaltyWindow` of them. The row is changed while the sampler
    /// works and restored before it returns. With `threads`, the passes over a long row (a large
    /// vocabulary) are shared among them; none when the caller is itself one of the pool's jobs.
    public func sample(_ logits: UnsafeMutableBufferPointer<Float>, recent: [Int32], threads: ThreadPool? = nil) -> Int32 {
        precondition(logits.count == vocabularySize, "logit row of \(logits.count), vocabulary of \(vocabularySize)")
        if parameters.isGreedy && adjustments.isEmpty { return Int32(LogitScan.argmax(logits.baseAddress!, count: vocabularySize)) }
        adjustments.apply(to: logits, recent: recent)
        defer { adjustments.undo(logits) }
        if parameters.isGreedy { return Int32(LogitScan.argmax(logits.baseAddress!, count: vocabularySize)) }
        return choose(LogitRow(logits, pool: threads))
    }

    /// The distribution `sample` draws from (token, probability), most likely first. For tests and
    /// diagnostics; greedy gives the single argmax token with probability 1.
    public func distribution(_ logits: [Float], recent: [Int32] = []) -> [(token: Int32, probability: Float)] {
        var row = logits
        return row.withUnsafeMutableBufferPointer { row in
            adjustments.apply(to: row, recent: recent)
            defer { adjustments.undo(row) }
            if parameters.isGreedy { return [(Int32(LogitScan.argmax(row.baseAddress!, count: row.count)), 1)] }
            let logits = LogitRow(row, pool: nil), maximum = logits.maximum()
            if !filter(logits, maximum: maximum) { candidates.gather(logits, atLeast: -.infinity) }
            let total = LogitScan.exponentials(candidates.logits, count: candidates.count, shift: maximum,
                                               scale: 1 / parameters.temperature, into: candidates.weights)
            return (0 ..< candidates.count).map { (candidates.tokens[$0], candidates.weights[$0] / total) }
                .sorted { ($0.1, $1.0) > ($1.1, $0.0) }
        }
    }

    /// Filters, then draws with the temperature.
    private func choose(_ row: LogitRow) -> Int32 {
        let maximum = row.maximum()
        let u = random.nextUnitFloat()
        if filter(row, maximum: maximum) {
            return candidates.draw(maximum: maximum, temperature: parameters.temperature, u: u)
        }
        return drawFromAll(row, maximum: maximum, u: u)
    }

    /// Top-k, top-p and min-p: leaves the survivors in `candidates` and returns true, or returns false
    /// when none of them is on (every token survives).
    private func filter(_ row: LogitRow, maximum: Float) -> Bool {
        let k = parameters.topK > 0 ? min(parameters.topK, vocabularySize) : vocabularySize
        let topP = parameters.topP, minP = parameters.minP
        let floor = minP > 0 ? maximum + logf(minP) : -Float.infinity
        let thresholds = maximum - Self.reaches
        if k < vocabularySize {
            if topP >= 1 && minP > 0 {
                // Min-p cuts at a logit: the k largest of the tokens above it are the survivors.
                candidates.gather(row, atLeast: floor)
            } else {
                // Top-p's mass is over all k: gather the k largest whatever min-p says.
                let counts = row.countAtLeast(thresholds)
                candidates.gather(row, atLeast: Self.tightest(thresholds) { counts[$0] >= k })
            }
            candidates.keepLargest(k)
            if topP < 1 { candidates.keepMass(topP, maximum: maximum) }
        } else if topP < 1 {
            let census = row.exponentialSumsAtLeast(thresholds, shift: maximum, scale: 1)
            let target = topP * census.total
            candidates.gather(row, atLeast: max(Self.tightest(thresholds) { census.atLeast[$0] >= target }, floor))
            candidates.keepMass(topP, of: census.total, maximum: maximum)
        } else if minP > 0 {
            candidates.gather(row, atLeast: floor)
        } else {
            return false
        }
        if minP > 0 { candidates.keepAtLeast(floor) }
        return true
    }

    /// How far below the largest logit the census looks: the gather takes the nearest of these that
    /// keeps enough tokens (or every token, past the last).
    private static let reaches = SIMD8<Float>(1, 2, 3, 4.5, 6.5, 9, 13, 20)

    /// The highest of the census's thresholds for which `enough` holds, −∞ if none.
    private static func tightest(_ thresholds: SIMD8<Float>, _ enough: (Int) -> Bool) -> Float {
        for level in 0 ..< 8 where enough(level) { return thresholds[level] }
        return -.infinity
    }

    /// A draw from every token: one pass sums the exponentials of each block of the vocabulary, the
    /// draw finds its block from the sums and recomputes that block's weights to find its token.
    private func drawFromAll(_ row: LogitRow, maximum: Float, u: Float) -> Int32 {
        let scale = 1 / parameters.temperature, length = LogitRow.partAlignment
        let total = row.exponentialSum(shift: maximum, scale: scale, blockSums: blockSums)
        var remaining = u * total
        let blocks = (vocabularySize + length - 1) / length
        var block = 0
        while block < blocks - 1 && remaining >= blockSums[block] {
            remaining -= blockSums[block]
            block += 1
        }
        // Rounding can leave the draw past the last block with any weight: go back to one.
        while block > 0 && blockSums[block] <= 0 { block -= 1 }
        let start = block * length, count = min(length, vocabularySize - start)
        _ = LogitScan.exponentials(row.values + start, count: count, shift: maximum, scale: scale, into: candidates.weights)
        return Int32(start + (CandidateSet.walk(candidates.weights, count: count, remaining: remaining) ?? 0))
    }
}
