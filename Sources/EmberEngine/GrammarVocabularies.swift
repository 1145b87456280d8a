// Each tokenizer's vocabulary as a grammar sees it (every token's bytes in a trie): built on first
// use by a constrained generation and kept for the life of the process, since a server's requests
// share one tokenizer.

import EmberGrammar
import EmberTokenizer
import Synchronization

enum GrammarVocabularies {
    private static let built = Mutex<[(tokenizer: Tokenizer, vocabulary: GrammarVocabulary)]>([])

    static func vocabulary(for tokenizer: Tokenizer) -> GrammarVocabulary {
        built.withLock { known in
            if let found = known.first(where: { $0.tokenizer === tokenizer }) { return found.vocabulary }
            let pieces = (0 ..< tokenizer.vocabulary.count).map { tokenizer.piece(Int32($0)) }
            let vocabulary = GrammarVocabulary(pieces: pieces, endsGeneration: tokenizer.isEndOfGeneration)
            known.append((tokenizer, vocabulary))
            return vocabulary
        }
    }
}
