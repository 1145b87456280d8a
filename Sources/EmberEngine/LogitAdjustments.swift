// The logit bias and the repetition penalties (repeat, frequency, presence), which change the logits
// of a few tokens only: they are applied to the row in place and undone once the token is chosen, so
// the row is never copied and logprobs still see the model's own logits. Counting the recent tokens
// takes one pass over the penalty window, with a count per vocabulary entry kept from call to call.

struct LogitAdjustments {
    private let bias: [(token: Int, value: Float)]
    private let repeatPenalty: Float, frequencyPenalty: Float, presencePenalty: Float
    /// How many recent tokens the penalties look at (-1: all of them).
    private let window: Int
    private let penalises: Bool
    /// Occurrences of each token in the window, zero outside `apply` ... `undo` (empty without penalties).
    private var counts: [Int32]
    /// The tokens counted in the current window, each once.
    private var distinct: [Int32] = []
    /// Each changed token with its logit before the change, to undo in reverse.
    private var saved: [(token: Int, logit: Float)] = []

    init(_ parameters: SamplingParameters, vocabularySize: Int) {
        bias = parameters.logitBias.filter { $0.key >= 0 && Int($0.key) < vocabularySize }
            .map { (Int($0.key), $0.value) }.sorted { $0.token < $1.token }
        repeatPenalty = parameters.repeatPenalty
        frequencyPenalty = parameters.frequencyPenalty
        presencePenalty = parameters.presencePenalty
        window = parameters.penaltyWindow
        penalises = parameters.hasPenalties && parameters.penaltyWindow != 0
        counts = penalises ? [Int32](repeating: 0, count: vocabularySize) : []
        distinct.reserveCapacity(256)
        saved.reserveCapacity(256 + bias.count)
    }

    var isEmpty: Bool { bias.isEmpty && !penalises }

    /// Adds the bias to its tokens, then penalises the tokens of the window at the end of `recent`
    /// (llama.cpp's order).
    mutating func apply(to logits: UnsafeMutableBufferPointer<Float>, recent: [Int32]) {
        saved.removeAll(keepingCapacity: true)
        distinct.removeAll(keepingCapacity: true)
        if penalises {
            let size = counts.count
            let start = window < 0 ? 0 : max(recent.count - window, 0)
            counts.withUnsafeMutableBufferPointer { counts in
                for token in recent[start...] where token >= 0 && Int(token) < size {
                    if counts[Int(token)] == 0 { distinct.append(token) }
                    counts[Int(token)] += 1
                }
            }
            for token in distinct { saved.append((Int(token), logits[Int(token)])) }
        }
        for (token, value) in bias {
            if !penalises || counts[token] == 0 { saved.append((token, logits[token])) }
            logits[token] += value
        }
        for token in distinct {
            let index = Int(token)
            var logit = logits[index]
            logit = logit > 0 ? logit / repeatPenalty : logit * repeatPenalty
            logit -= Float(counts[index]) * frequencyPenalty + presencePenalty
            logits[index] = logit
            counts[index] = 0
        }
    }

    /// Puts back every logit `apply` changed.
    func undo(_ logits: UnsafeMutableBufferPointer<Float>) {
        for (token, logit) in saved.reversed() { logits[token] = logit }
    }
}
