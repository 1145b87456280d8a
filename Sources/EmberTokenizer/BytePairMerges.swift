// The merge table of a byte-level BPE vocabulary. Every string a merge can produce or consume is
// interned to an integer symbol (its token id when it is a token), so merging compares and hashes
// integers instead of building strings as llama.cpp does.

struct BytePairMerges: Sendable {
    typealias Merge = MergeTable.Merge

    /// The symbol of each byte's character in the byte-level alphabet.
    let byteSymbols: [Int32]
    /// Keyed by the pair of symbol ids; the first of duplicate merges wins, as in llama.cpp.
    let merges: MergeTable
    /// The token, if any, whose text is exactly one byte (the last-resort spelling of a non-token symbol).
    let singleByteTokens: [Int32]
    /// The UTF-8 text of symbols that are not tokens, at `symbol - tokenCount`.
    let extraSymbols: [[UInt8]]
    let tokenCount: Int

    init(vocabulary: Vocabulary) {
        let tokenCount = vocabulary.count
        var table = vocabulary.ids
        var extras: [[UInt8]] = []
        func intern(_ bytes: UnsafeBufferPointer<UInt8>) -> Int32 {
            if let id = table.value(for: bytes) { return id }
            let id = Int32(tokenCount + extras.count)
            table.insert(bytes, value: id)
            extras.append(Array(bytes))
            return id
        }

        let byteSymbols = ByteLevelAlphabet.utf8ForByte.map { utf8 in utf8.withUnsafeBufferPointer { intern($0) } }
        singleByteTokens = (0..<256).map { byte in
            [UInt8(byte)].withUnsafeBufferPointer { vocabulary.ids.value(for: $0) } ?? -1
        }

        var mergeTable = MergeTable(capacity: vocabulary.merges.count)
        var joined: [UInt8] = []
        for (rank, merge) in vocabulary.merges.enumerated() {
            var merge = merge
            merge.withUTF8 { text in
                // llama.cpp splits at the first space after the first byte; a merge without one is unusable.
                guard text.count > 1, let space = text[1...].firstIndex(of: UInt8(ascii: " ")) else { return }
                let left = intern(UnsafeBufferPointer(rebasing: text[..<space]))
                let right = intern(UnsafeBufferPointer(rebasing: text[(space + 1)...]))
                joined.removeAll(keepingCapacity: true)
                joined.append(contentsOf: UnsafeBufferPointer(rebasing: text[..<space]))
                joined.append(contentsOf: UnsafeBufferPointer(rebasing: text[(space + 1)...]))
                let result = joined.withUnsafeBufferPointer { intern($0) }
                mergeTable.insertIfAbsent(left, right, Merge(rank: Int32(rank), result: result))
            }
        }
        self.byteSymbols = byteSymbols
        merges = mergeTable
        extraSymbols = extras
        self.tokenCount = tokenCount
    }

    @inline(__always)
    func merge(_ left: Int32, _ right: Int32) -> Merge? {
        merges.merge(left, right)
    }
}
