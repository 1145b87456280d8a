// Where speculative decoding's guesses come from. A drafter proposes the next few tokens; the
// target model checks them all in one forward pass (Generator), so a pass can give several tokens.
// Prompt lookup guesses for free from the text so far (an answer that repeats its prompt, as code
// edits do); a draft model (a smaller one with the same vocabulary) guesses by running itself.
// Both guess greedily: a guess is one token, not a distribution, so the target's check is the
// standard acceptance rule with a one-token proposal (SpeculativeCheck).

import EmberCompute
import EmberModel
import EmberTokenizer

public protocol TokenDrafter: AnyObject {
    /// Most tokens one guess proposes.
    var draftLength: Int { get }
    /// Up to `count` tokens that may follow `history` (the prompt and what was generated); none when
    /// there is no guess.
    func draft(after history: [Int32], count: Int) throws(EngineError) -> [Int32]
}

/// Prompt lookup (llama.cpp's lookup decoding, vLLM's n-gram speculation): the tokens that followed
/// the latest earlier occurrence of the history's last `n` tokens, trying the longest `n` first.
public final class PromptLookup: TokenDrafter {
    public let draftLength: Int
    /// The n-gram sizes tried, longest first.
    let matchLengths: ClosedRange<Int>

    public init(draftLength: Int, matchLengths: ClosedRange<Int> = 2 ... 4) {
        self.draftLength = draftLength
        self.matchLengths = matchLengths
    }

    public func draft(after history: [Int32], count: Int) -> [Int32] {
        for n in matchLengths.reversed() where history.count > n {
            let suffix = history.count - n
            var start = suffix - 1
            while start >= 0 {
                if history[start] == history[suffix] && history[start ..< start + n].elementsEqual(history[suffix...]) {
                    return Array(history[start + n ..< min(start + n + count, history.count)])
                }
                start -= 1
            }
        }
        return []
    }
}

/// A smaller model with the target's vocabulary, run greedily on its own KV cache, which follows
/// the history: what the target rejected is dropped from it, what it accepted is fed in.
public final class DraftModel: TokenDrafter {
    public let draftLength: Int
    let model: LanguageModel
    let cache: KVCache
    /// The tokens whose keys and values `cache` holds.
    private var cachedTokens: [Int32] = []
    private var batch = ForwardBatch()

    /// `model` drafts for a target whose tokenizer is `target`; they must share the vocabulary.
    public init(model: LanguageModel, tokenizer: Tokenizer, target: Tokenizer, contextLength: Int, draftLength: Int) throws(EngineError) {
        let ours = tokenizer.vocabulary.tokens, theirs = target.vocabulary.tokens
        let shared = min(ours.count, theirs.count)
        // Vocabularies padded to different sizes are the same where both have tokens (llama.cpp's rule: at most 128 apart).
        guard abs(ours.count - theirs.count) <= 128, ours[..<shared] == theirs[..<shared] else {
            let differing = (0 ..< shared).first { ours[$0] != theirs[$0] } ?? shared
            throw .draftVocabularyMismatch(draft: ours.count, target: theirs.count, firstDifference: differing)
        }
        self.model = model
        self.draftLength = draftLength
        cache = model.makeCache(capacity: contextLength)
    }

    public func draft(after history: [Int32], count: Int) throws(EngineError) -> [Int32] {
        let count = min(count, cache.capacity - history.count)
        guard count > 0 else { return [] }
        // Keep what the cache shares with the history (at least the last token is computed again, for its logits).
        let shared = min(zip(cachedTokens, history).prefix { $0 == $1 }.count, history.count - 1)
        let kept = cache.truncate(to: shared)
        cachedTokens.removeSubrange(kept...)
        let logits = try model.prefill(history[kept...], cache: cache, batch: &batch)
        cachedTokens += history[kept...]
        var drafted = [Int32(LogitScan.argmax(logits.baseAddress!, count: model.vocabularySize))]
        while drafted.count < count {
            batch.removeAll()
            batch.append(CollectionOfOne(drafted.last!), cache: cache, wantsLogits: true)
            do throws(ModelError) { drafted.append(try model.forwardGreedy(batch)[0]) } catch { throw .model(error) }
            cachedTokens.append(drafted[drafted.count - 2])
        }
        return drafted
    }
}

/// How many tokens to draft next: a rejected draft costs its rows of the step, so after a rejection
/// the next draft is as long as what was accepted plus one, and it doubles (to the drafter's
/// length) after a draft that was accepted whole.
public struct DraftLimit: Sendable {
    public let maximum: Int
    public private(set) var current: Int

    public init(maximum: Int) {
        self.maximum = maximum
        current = maximum
    }

    public mutating func record(drafted: Int, accepted: Int) {
        current = accepted == drafted ? min(2 * current, maximum) : min(accepted + 1, maximum)
    }
}
