// Prompts' keys and values kept in host memory after their KV cache slot went to another request
// (`ember serve --cache-ram`), so that a later request starting the same way (a system prompt, a
// document) computes only what follows it even when more prefixes are in use than there are slots.
// Least recently used first out, within a budget of bytes; an entry that comes back into a slot
// leaves the store (the slot holds it now).

import EmberModel

final class PrefixStore {
    struct Entry {
        let tokens: [Int32]
        let snapshot: KVSnapshot
    }

    let budget: Int
    /// Least recently used first.
    private(set) var entries: [Entry] = []
    private(set) var bytes = 0
    /// Shorter prefixes are not worth their copies.
    static let shortest = 32

    init(budget: Int) { self.budget = budget }

    /// How many of `prompt`'s first tokens `tokens` holds, leaving the last one to compute (its logits
    /// choose the first token).
    static func reusablePrefix(of tokens: [Int32], for prompt: [Int32]) -> Int {
        min(zip(tokens, prompt).prefix { $0 == $1 }.count, prompt.count - 1)
    }

    /// Whether a shared prefix is over half the prompt (llama.cpp's similarity rule): a slot that
    /// shares less goes to the request the least recently used one would.
    static func isWorthReusing(_ shared: Int, for prompt: [Int32]) -> Bool { 2 * shared > prompt.count }

    /// Keeps `tokens` and their keys and values, replacing entries it extends and dropping the least
    /// recently used ones to fit; nothing when it alone is over the budget.
    func keep(_ tokens: [Int32], _ snapshot: KVSnapshot) {
        guard tokens.count >= Self.shortest, snapshot.byteCount <= budget else { return }
        entries.removeAll { entry in
            let covered = entry.tokens.count <= tokens.count && tokens.starts(with: entry.tokens)
            if covered { bytes -= entry.snapshot.byteCount }
            return covered
        }
        while bytes + snapshot.byteCount > budget, !entries.isEmpty { bytes -= entries.removeFirst().snapshot.byteCount }
        entries.append(Entry(tokens: tokens, snapshot: snapshot))
        bytes += snapshot.byteCount
    }

    /// The entry sharing the longest prefix with `prompt`, taken out of the store, when that prefix is
    /// worth reusing.
    func take(for prompt: [Int32]) -> (entry: Entry, shared: Int)? {
        let shared = entries.map { Self.reusablePrefix(of: $0.tokens, for: prompt) }
        guard let best = shared.indices.max(by: { shared[$0] < shared[$1] }), Self.isWorthReusing(shared[best], for: prompt) else { return nil }
        let entry = entries.remove(at: best)
        bytes -= entry.snapshot.byteCount
        return (entry, shared[best])
    }
}
