// Chooses the next token from a row of logits, with llama.cpp's sampler chain and order:
// penalties -> top-k -> top-p -> min-p -> temperature -> random draw (or argmax when greedy).
// Candidates are ordered lazily with a max-heap, so top-k and top-p only pay for the tokens they
// keep; all buffers are allocated once per sampler and reused for every token.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct Candidate: Equatable, Sendable {
    public var token: Int32
    public var logit: Float
}

public final class Sampler {
    public let parameters: SamplingParameters
    public let vocabularySize: Int
    private var random: SeededRandom
    /// All candidates; a max-heap by logit after `heapify`.
    private var candidates: [Candidate]
    /// Candidates popped from the heap, most likely first: the kept set after the filters.
    private var kept: [Candidate]
    private var occurrences: [Int32: Int] = [:]

    public init(parameters: SamplingParameters, vocabularySize: Int) {
        self.parameters = parameters
        self.vocabularySize = vocabularySize
        random = SeededRandom(seed: parameters.seed ?? UInt64.random(in: .min ... .max))
        candidates = Array(repeating: Candidate(token: 0, logit: 0), count: vocabularySize)
        kept = []
        kept.reserveCapacity(vocabularySize)
    }

    /// Picks the next token. `recent` are the tokens seen so far (prompt and generated, oldest first);
    /// the penalties look at the last `penaltyWindow` of them.
    public func sample(_ logits: UnsafeBufferPointer<Float>, recent: [Int32]) -> Int32 {
        precondition(logits.count == vocabularySize, "logit row of \(logits.count), vocabulary of \(vocabularySize)")
        if parameters.isGreedy && !parameters.hasPenalties { return Int32(Self.argmax(vocabularySize) { logits[$0] }) }
        load(logits, recent: recent)
        if parameters.isGreedy { return Int32(Self.argmax(vocabularySize) { candidates[$0].logit }) }
        filter()
        applyTemperature()
        return draw()
    }

    /// The distribution `sample` draws from (token, probability), most likely first. For tests and
    /// diagnostics; greedy gives the single argmax token with probability 1.
    public func distribution(_ logits: [Float], recent: [Int32] = []) -> [(token: Int32, probability: Float)] {
        logits.withUnsafeBufferPointer { load($0, recent: recent) }
        if parameters.isGreedy { return [(Int32(Self.argmax(vocabularySize) { candidates[$0].logit }), 1)] }
        filter()
        applyTemperature()
        let total = softmaxWeights()
        return kept.map { ($0.token, $0.logit / total) }
    }

    /// The index of the first largest of `count` logits (greedy without penalties reads them straight
    /// from the row, copying nothing; candidate `i` is token `i` until `filter` reorders them).
    @inline(__always)
    static func argmax(_ count: Int, _ logit: (Int) -> Float) -> Int {
        var best = 0, bestLogit = logit(0)
        for index in 1 ..< count where logit(index) > bestLogit {
            best = index
            bestLogit = logit(index)
        }
        return best
    }

    // MARK: - Chain stages

    private func load(_ logits: UnsafeBufferPointer<Float>, recent: [Int32]) {
        for index in 0 ..< vocabularySize {
            candidates[index] = Candidate(token: Int32(index), logit: logits[index])
        }
        guard parameters.hasPenalties else { return }
        let window = parameters.penaltyWindow < 0 ? recent.count : min(parameters.penaltyWindow, recent.count)
        occurrences.removeAll(keepingCapacity: true)
        for token in recent.suffix(window) where token >= 0 && Int(token) < vocabularySize {
            occurrences[token, default: 0] += 1
        }
        for (token, count) in occurrences {
            var logit = candidates[Int(token)].logit
            logit = logit > 0 ? logit / parameters.repeatPenalty : logit * parameters.repeatPenalty
            logit -= Float(count) * parameters.frequencyPenalty + parameters.presencePenalty
            candidates[Int(token)].logit = logit
        }
    }

    /// Top-k, top-p and min-p: leaves the survivors in `kept`, most likely first.
    private func filter() {
        heapify()
        var heapCount = vocabularySize
        kept.removeAll(keepingCapacity: true)
        let k = parameters.topK > 0 ? min(parameters.topK, vocabularySize) : vocabularySize
        let topP = parameters.topP

        if k < vocabularySize || topP >= 1 {
            for _ in 0 ..< k { kept.append(pop(&heapCount)) }
            if topP < 1 { cutToTopP(topP) }
        } else {
            // No top-k: normalise over every candidate, then pop only until the mass reaches p.
            let maximum = candidates[0].logit
            var total: Float = 0
            for candidate in candidates { total += expf(candidate.logit - maximum) }
            var cumulative: Float = 0
            while heapCount > 0 {
                let next = pop(&heapCount)
                kept.append(next)
                cumulative += expf(next.logit - maximum) / total
                if cumulative >= topP { break }
            }
        }

        if parameters.minP > 0, let best = kept.first {
            let threshold = best.logit + logf(parameters.minP)
            var end = 1
            while end < kept.count && kept[end].logit >= threshold { end += 1 }
            kept.removeSubrange(end...)
        }
    }

    /// Keeps the shortest prefix of `kept` whose probability (softmax over `kept`) reaches p.
    private func cutToTopP(_ p: Float) {
        guard let maximum = kept.first?.logit else { return }
        var total: Float = 0
        for candidate in kept { total += expf(candidate.logit - maximum) }
        var cumulative: Float = 0
        for index in kept.indices {
            cumulative += expf(kept[index].logit - maximum) / total
            if cumulative >= p {
                kept.removeSubrange((index + 1)...)
                return
            }
        }
    }

    private func applyTemperature() {
        let temperature = parameters.temperature
        for index in kept.indices { kept[index].logit /= temperature }
    }

    /// Turns the logits of `kept` into unnormalised weights exp(logit - max) and returns their sum.
    private func softmaxWeights() -> Float {
        let maximum = kept.reduce(-Float.infinity) { max($0, $1.logit) }
        var total: Float = 0
        for index in kept.indices {
            kept[index].logit = expf(kept[index].logit - maximum)
            total += kept[index].logit
        }
        return total
    }

    private func draw() -> Int32 {
        let total = softmaxWeights()
        var remaining = random.nextUnitFloat() * total
        for candidate in kept {
            remaining -= candidate.logit
            if remaining < 0 { return candidate.token }
        }
        return kept.last!.token
    }

    // MARK: - Max-heap over `candidates` by logit (ties: lower token id first, for determinism)

    @inline(__always)
    private func before(_ a: Candidate, _ b: Candidate) -> Bool {
        a.logit > b.logit || (a.logit == b.logit && a.token < b.token)
    }

    private func heapify() {
        var index = vocabularySize / 2 - 1
        while index >= 0 {
            siftDown(index, count: vocabularySize)
            index -= 1
        }
    }

    private func pop(_ count: inout Int) -> Candidate {
        let top = candidates[0]
        count -= 1
        candidates[0] = candidates[count]
        siftDown(0, count: count)
        return top
    }

    private func siftDown(_ start: Int, count: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < count else { return }
            var child = left
            if left + 1 < count && before(candidates[left + 1], candidates[left]) { child = left + 1 }
            guard before(candidates[child], candidates[parent]) else { return }
            candidates.swapAt(parent, child)
            parent = child
        }
    }
}
