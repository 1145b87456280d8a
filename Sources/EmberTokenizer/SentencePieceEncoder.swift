// SentencePiece BPE (`tokenizer.ggml.model` = llama) as llama.cpp runs it: spaces become ▁, the text
// splits into characters, and the adjacent pair whose concatenation is the highest-scoring token merges
// first (leftmost on ties). Characters left that are not tokens are spelled with `<0xXX>` byte tokens.

struct SentencePieceEncoder: Sendable {
    let tokenIDs: ByteStringTable
    let scores: [Float]
    /// The token for each byte: `<0xXX>`, else the one-byte text, else the unknown token, else -1.
    let byteTokens: [Int32]

    init(vocabulary: Vocabulary) {
        tokenIDs = vocabulary.ids
        scores = vocabulary.scores
        byteTokens = (0..<256).map { byte in
            let hex = String(byte, radix: 16, uppercase: true)
            return vocabulary.id(of: "<0x\(hex.count == 1 ? "0" + hex : hex)>")
                ?? [UInt8(byte)].withUnsafeBufferPointer { vocabulary.ids.value(for: $0) }
                ?? vocabulary.unknown ?? -1
        }
    }

    struct Scratch {
        var text: [UInt8] = []
        var starts: [Int32] = []
        var lengths: [Int32] = []
        var previous: [Int32] = []
        var next: [Int32] = []
        var queue = BinaryHeap<Candidate>()
    }

    /// Two adjacent symbols whose concatenation is a token, as they were when queued.
    struct Candidate: Comparable {
        let score: Float
        let left: Int32
        let right: Int32
        let size: Int32

        /// Higher score first, then leftmost.
        static func < (a: Candidate, b: Candidate) -> Bool {
            a.score > b.score || (a.score == b.score && a.left < b.left)
        }

        static func == (a: Candidate, b: Candidate) -> Bool { a.score == b.score && a.left == b.left }
    }

    private static let escapedSpace: [UInt8] = Array("\u{2581}".utf8)

    /// Encodes one text fragment; `spacePrefix` prepends the space SentencePiece puts before a text.
    func encode(_ fragment: UnsafeBufferPointer<UInt8>, spacePrefix: Bool, into output: inout [Int32],
                scratch: inout Scratch) {
        scratch.text.removeAll(keepingCapacity: true)
        if spacePrefix { scratch.text.append(contentsOf: Self.escapedSpace) }
        for byte in fragment {
            if byte == UInt8(ascii: " ") {
                scratch.text.append(contentsOf: Self.escapedSpace)
            } else {
                scratch.text.append(byte)
            }
        }

        scratch.starts.removeAll(keepingCapacity: true)
        scratch.lengths.removeAll(keepingCapacity: true)
        scratch.previous.removeAll(keepingCapacity: true)
        scratch.next.removeAll(keepingCapacity: true)
        scratch.queue.removeAll()
        let total = scratch.text.count
        var offset = 0
        while offset < total {
            let length = min(Self.utf8Length(scratch.text[offset]), total - offset)
            let index = Int32(scratch.starts.count)
            scratch.starts.append(Int32(offset))
            scratch.lengths.append(Int32(length))
            scratch.previous.append(index - 1)
            offset += length
            scratch.next.append(offset == total ? -1 : index + 1)
        }
        let count = scratch.starts.count
        guard count > 0 else { return }

        scratch.text.withUnsafeBufferPointer { text in
            scratch.starts.withUnsafeBufferPointer { starts in
                scratch.lengths.withUnsafeMutableBufferPointer { lengths in
                    scratch.previous.withUnsafeMutableBufferPointer { previous in
                        scratch.next.withUnsafeMutableBufferPointer { next in
                            @inline(__always) func enqueue(_ left: Int32, _ right: Int32, _ queue: inout BinaryHeap<Candidate>) {
                                guard left >= 0, right >= 0 else { return }
                                let start = Int(starts[Int(left)])
                                let size = Int(lengths[Int(left)] + lengths[Int(right)])
                                guard let token = tokenIDs.value(for: UnsafeBufferPointer(rebasing: text[start..<(start + size)])),
                                      Int(token) < scores.count else { return }
                                queue.push(Candidate(score: scores[Int(token)], left: left, right: right, size: Int32(size)))
                            }
                            for index in 1..<count {
                                enqueue(Int32(index - 1), Int32(index), &scratch.queue)
                            }
                            while let candidate = scratch.queue.pop() {
                                let left = Int(candidate.left), right = Int(candidate.right)
                                // Stale: one side has merged since the pair was queued.
                                guard lengths[left] != 0, lengths[right] != 0,
                                      lengths[left] + lengths[right] == candidate.size else { continue }
                                lengths[left] += lengths[right]
                                lengths[right] = 0
                                let after = next[right]
                                next[left] = after
                                if after >= 0 { previous[Int(after)] = candidate.left }
                                enqueue(previous[left], candidate.left, &scratch.queue)
                                enqueue(candidate.left, after, &scratch.queue)
                            }

                            var index = 0
                            while index >= 0 {
                                let start = Int(starts[index]), length = Int(lengths[index])
                                let piece = UnsafeBufferPointer(rebasing: text[start..<(start + length)])
                                if let token = tokenIDs.value(for: piece) {
                                    output.append(token)
                                } else {
                                    for byte in piece where byteTokens[Int(byte)] >= 0 {
                                        output.append(byteTokens[Int(byte)])
                                    }
                                }
                                index = Int(next[index])
                            }
                        }
                    }
                }
            }
        }
    }

    /// llama.cpp's `unicode_len_utf8`: the sequence length a lead byte announces (1 for a stray continuation).
    @inline(__always)
    private static func utf8Length(_ lead: UInt8) -> Int {
        switch lead >> 4 {
        case 0xC, 0xD: 2
        case 0xE: 3
        case 0xF: 4
        default: 1
        }
    }
}
