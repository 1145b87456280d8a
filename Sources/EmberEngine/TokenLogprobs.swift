// A generated token's log-probability under the model (the log-softmax of its raw logits, before any
// sampling setting), and the most likely alternatives at that step: what OpenAI's `logprobs` report.

import Foundation

public struct TokenLogprobs: Sendable, Equatable {
    public let token: Int32
    public let logprob: Float
    /// The `top` most likely tokens, most likely first.
    public let top: [(token: Int32, logprob: Float)]

    public init(token: Int32, logits: UnsafeBufferPointer<Float>, top count: Int) {
        let maximum = logits.max() ?? 0
        var sum: Double = 0
        for value in logits { sum += Double(Foundation.exp(value - maximum)) }
        let normalizer = maximum + Float(Foundation.log(sum))
        self.token = token
        logprob = logits[Int(token)] - normalizer
        var best: [(token: Int32, logprob: Float)] = []
        if count > 0 {
            best.reserveCapacity(count + 1)
            for (index, value) in logits.enumerated() where best.count < count || value > best[best.count - 1].logprob {
                let entry = (token: Int32(index), logprob: value)
                let position = best.firstIndex { $0.logprob < value } ?? best.count
                best.insert(entry, at: position)
                if best.count > count { best.removeLast() }
            }
        }
        top = best.map { ($0.token, $0.logprob - normalizer) }
    }

    public static func == (a: TokenLogprobs, b: TokenLogprobs) -> Bool {
        a.token == b.token && a.logprob == b.logprob && a.top.map(\.token) == b.top.map(\.token)
            && a.top.map(\.logprob) == b.top.map(\.logprob)
    }
}
