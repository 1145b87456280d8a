// Byte-level BPE (`tokenizer.ggml.model` = gpt2) as llama.cpp runs it: pre-tokenize a text fragment
// into words, then in each word repeatedly merge the adjacent pair of lowest rank (leftmost first)
// through a priority queue over a linked list of symbols.

struct BytePairEncoder: Sendable {
    let preTokenizer: PreTokenizer
    let merges: BytePairMerges
    /// Token text to id, for llama3's whole-word shortcut.
    let tokenIDs: ByteStringTable
    let ignoresMerges: Bool

    init(vocabulary: Vocabulary, preTokenizer: PreTokenizer) {
        self.preTokenizer = preTokenizer
        merges = BytePairMerges(vocabulary: vocabulary)
        tokenIDs = vocabulary.ids
        ignoresMerges = vocabulary.ignoresMerges
    }

    /// Working buffers reused across the words of one `encode` call.
    struct Scratch {
        var text = ScalarText()
        var words: [Int] = []
        var symbols: [Int32] = []
        var previous: [Int32] = []
        var next: [Int32] = []
        var queue = BinaryHeap<Candidate>()
        var spelled: [UInt8] = []
    }

    /// A pair of adjacent symbols that a merge applies to, as it was when queued.
    struct Candidate: Comparable {
        let rank: Int32
        let left: Int32
        let right: Int32
        let leftSymbol: Int32
        let rightSymbol: Int32
        let result: Int32

        static func < (a: Candidate, b: Candidate) -> Bool {
            a.rank < b.rank || (a.rank == b.rank && a.left < b.left)
        }

        static func == (a: Candidate, b: Candidate) -> Bool { a.rank == b.rank && a.left == b.left }
    }

    func encode(_ fragment: UnsafeBufferPointer<UInt8>, into output: inout [Int32], scratch: inout Scratch) {
        scratch.text.load(fragment)
        scratch.words.removeAll(keepingCapacity: true)
        preTokenizer.split(scratch.text, into: &scratch.words)
        var start = 0
        for length in scratch.words {
            let from = scratch.text.byteOffsets[start]
            let to = scratch.text.byteOffsets[start + length]
            encodeWord(UnsafeBufferPointer(rebasing: fragment[from..<to]), into: &output, scratch: &scratch)
            start += length
        }
    }

    private func encodeWord(_ word: UnsafeBufferPointer<UInt8>, into output: inout [Int32], scratch: inout Scratch) {
        if ignoresMerges {
            scratch.spelled.removeAll(keepingCapacity: true)
            for byte in word {
                scratch.spelled.append(contentsOf: ByteLevelAlphabet.utf8ForByte[Int(byte)])
            }
            if let token = scratch.spelled.withUnsafeBufferPointer({ tokenIDs.value(for: $0) }) {
                output.append(token)
                return
            }
        }

        let count = word.count
        scratch.symbols.removeAll(keepingCapacity: true)
        scratch.previous.removeAll(keepingCapacity: true)
        scratch.next.removeAll(keepingCapacity: true)
        for (index, byte) in word.enumerated() {
            scratch.symbols.append(merges.byteSymbols[Int(byte)])
            scratch.previous.append(Int32(index - 1))
            scratch.next.append(index + 1 < count ? Int32(index + 1) : -1)
        }
        scratch.queue.removeAll()

        scratch.symbols.withUnsafeMutableBufferPointer { symbols in
            scratch.previous.withUnsafeMutableBufferPointer { previous in
                scratch.next.withUnsafeMutableBufferPointer { next in
                    @inline(__always) func enqueue(_ left: Int32, _ right: Int32, _ queue: inout BinaryHeap<Candidate>) {
                        guard left >= 0, right >= 0 else { return }
                        let leftSymbol = symbols[Int(left)], rightSymbol = symbols[Int(right)]
                        guard let merge = merges.merge(leftSymbol, rightSymbol) else { return }
                        queue.push(Candidate(rank: merge.rank, left: left, right: right, leftSymbol: leftSymbol,
                                             rightSymbol: rightSymbol, result: merge.result))
                    }
                    for index in 1..<max(count, 1) {
                        enqueue(Int32(index - 1), Int32(index), &scratch.queue)
                    }
                    while let candidate = scratch.queue.pop() {
                        let left = Int(candidate.left), right = Int(candidate.right)
                        // Stale: one side has merged since the pair was queued.
                        guard symbols[left] == candidate.leftSymbol, symbols[right] == candidate.rightSymbol else { continue }
                        symbols[left] = candidate.result
                        symbols[right] = -1
                        let after = next[right]
                        next[left] = after
                        if after >= 0 { previous[Int(after)] = candidate.left }
                        enqueue(previous[left], candidate.left, &scratch.queue)
                        enqueue(candidate.left, after, &scratch.queue)
                    }
                }
            }
        }

        var index: Int32 = count > 0 ? 0 : -1
        while index >= 0 {
            let symbol = scratch.symbols[Int(index)]
            if Int(symbol) < merges.tokenCount {
                output.append(symbol)
            } else {
                // Not a token: llama.cpp falls back to single-byte tokens for each byte of its text.
                for byte in merges.extraSymbols[Int(symbol) - merges.tokenCount] {
                    let token = merges.singleByteTokens[Int(byte)]
                    if token >= 0 { output.append(token) }
                }
            }
            index = scratch.next[Int(index)]
        }
    }
}
