// The check of drafted tokens against the model (speculative decoding's acceptance rule). A draft
// here is one token, not a distribution: the rule for a proposal q that puts all its weight on the
// draft d accepts d with probability min(1, p(d) / q(d)) = p(d), where p is what the sampler draws
// from (penalties, top-k/top-p/min-p and temperature applied), and on a rejection draws from the
// residual max(0, p - q), renormalized: p without d. Drawing one token t from p and accepting d when
// t == d does exactly that (t == d with probability p(d); otherwise t is a draw from p without d),
// so the output keeps the model's distribution, and greedy output is the same token for token.

import EmberCompute
import EmberModel

/// What a step's forward pass returned for a sequence's rows: each row's greedy token, or each
/// row's logits.
enum StepRows {
    case tokens(UnsafeBufferPointer<Int32>)
    case logits(UnsafeMutableBufferPointer<Float>, Int)

    /// The logits of `row` (the logits case).
    func logitRow(_ row: Int) -> UnsafeMutableBufferPointer<Float> {
        guard case let .logits(all, width) = self else { preconditionFailure("a greedy step has no logits") }
        return UnsafeMutableBufferPointer(rebasing: all[row * width ..< (row + 1) * width])
    }

    /// Runs `batch` on `model`: each logit row's greedy token when `greedy`, else the rows.
    static func run(_ batch: ForwardBatch, on model: LanguageModel, greedy: Bool) throws(ModelError) -> StepRows {
        greedy ? .tokens(try model.forwardGreedy(batch)) : .logits(try model.forward(batch), model.vocabularySize)
    }

    /// How the token after `row` is to be chosen.
    func next(_ row: Int) -> NextToken {
        switch self {
        case let .tokens(tokens): .token(tokens[row])
        case .logits: .logits(logitRow(row))
        }
    }
}

/// The next token of a sequence: already chosen (greedy on the device, or a check's draw), or to be
/// drawn from a row of logits.
enum NextToken {
    case token(Int32)
    case logits(UnsafeMutableBufferPointer<Float>)
}

public enum SpeculativeCheck {
    public enum Outcome: Equatable, Sendable {
        /// The draft stands.
        case accepted
        /// The draft is rejected; `token` (drawn from the model's distribution without the draft) takes its place.
        case rejected(token: Int32)

        public var token: Int32 {
            guard case let .rejected(token) = self else { preconditionFailure("an accepted draft has no replacement") }
            return token
        }
    }

    /// Checks `drafted` in order against the rows after the first of `rows` (row i checks draft i),
    /// handing each draft that stands to `keep`, which takes it into the sequence and says whether the
    /// sequence goes on. Returns how the next token is to be chosen: the replacement of the first
    /// rejected draft, or the row after the last draft; nil when a kept draft ended the sequence.
    static func walk(_ drafted: [Int32], against rows: StepRows, state: GenerationState, threads: ThreadPool?,
                     keep: (Int32) -> Bool) -> NextToken? {
        for (row, draft) in drafted.enumerated() {
            let outcome = check(draft, against: rows, row: row, state: state, threads: threads)
            guard case .accepted = outcome else { return .token(outcome.token) }
            guard keep(draft) else { return nil }
        }
        return rows.next(drafted.count)
    }

    /// Checks `draft` against `row` of `rows` for the sequence of `state`.
    static func check(_ draft: Int32, against rows: StepRows, row: Int, state: GenerationState, threads: ThreadPool?) -> Outcome {
        switch rows {
        case let .tokens(tokens): tokens[row] == draft ? .accepted : .rejected(token: tokens[row])
        case .logits: check(draft, logits: rows.logitRow(row), state: state, threads: threads)
        }
    }

    /// Checks `draft` against the model's `logits` for the next token of the sequence of `state`
    /// (which it does not advance: `accept` does).
    public static func check(_ draft: Int32, logits: UnsafeMutableBufferPointer<Float>, state: GenerationState, threads: ThreadPool? = nil) -> Outcome {
        let drawn = state.choose(from: logits, threads: threads)
        return drawn == draft ? .accepted : .rejected(token: drawn)
    }
}
