// Ember's tokenizer: text to token ids and back, built from GGUF metadata and matching llama.cpp's
// `llama_tokenize` / `llama_token_to_piece` token for token. Safe to share across threads.

import EmberFormats
import EmberTrace
import Foundation

public final class Tokenizer: Sendable {
    public let vocabulary: Vocabulary
    private let specialTokens: SpecialTokenSplitter
    private let encoder: Encoder
    private let pieces: TokenPieces

    private enum Encoder: Sendable {
        case bytePair(BytePairEncoder)
        case sentencePiece(SentencePieceEncoder)
    }

    /// `preTokenizer` replaces the model's `tokenizer.ggml.pre` name (for models converted with a wrong one,
    /// and for tests that run one vocabulary through several pre-tokenizers).
    public convenience init(metadata: GGUFMetadata, preTokenizer: String? = nil) throws(TokenizerError) {
        try self.init(vocabulary: Vocabulary(metadata: metadata, preTokenizer: preTokenizer))
    }

    public init(vocabulary: Vocabulary) {
        self.vocabulary = vocabulary
        specialTokens = SpecialTokenSplitter(vocabulary: vocabulary)
        pieces = TokenPieces(vocabulary: vocabulary)
        switch (vocabulary.model, vocabulary.preTokenizer) {
        case let (.bytePairEncoding, preTokenizer):
            encoder = .bytePair(BytePairEncoder(vocabulary: vocabulary, preTokenizer: preTokenizer ?? .llamaDefault))
        case (.sentencePiece, _):
            encoder = .sentencePiece(SentencePieceEncoder(vocabulary: vocabulary))
        }
    }

    /// Token ids for `text`. `addSpecial` adds BOS/EOS where the vocabulary asks for them; `parseSpecial`
    /// turns the text of control tokens (e.g. `<|im_start|>`) into those tokens instead of plain text.
    public func encode(_ text: String, addSpecial: Bool = true, parseSpecial: Bool = true) -> [Int32] {
        Trace.span("tokenize", args: ["bytes": .int(text.utf8.count)]) {
            tokenize(text, addSpecial: addSpecial, parseSpecial: parseSpecial)
        }
    }

    private func tokenize(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int32] {
        var output: [Int32] = []
        if addSpecial, vocabulary.addBOS, let bos = vocabulary.bos {
            output.append(bos)
        }
        var text = vocabulary.normalizesToNFC && !text.utf8.allSatisfy({ $0 < 0x80 }) ? text.precomposedStringWithCanonicalMapping : text
        text.withUTF8 { bytes in
            let fragments = specialTokens.split(bytes, parseSpecial: parseSpecial)
            switch encoder {
            case let .bytePair(encoder):
                var scratch = BytePairEncoder.Scratch()
                for fragment in fragments {
                    switch fragment {
                    case let .text(range):
                        encoder.encode(UnsafeBufferPointer(rebasing: bytes[range]), into: &output, scratch: &scratch)
                    case let .token(id):
                        output.append(id)
                    }
                }
            case let .sentencePiece(encoder):
                var scratch = SentencePieceEncoder.Scratch()
                // SentencePiece starts every text that opens the input or follows a special token with a space.
                var afterSpecial = true
                for fragment in fragments {
                    switch fragment {
                    case let .text(range):
                        encoder.encode(UnsafeBufferPointer(rebasing: bytes[range]),
                                       spacePrefix: vocabulary.addSpacePrefix && afterSpecial
                                           && takesSpacePrefix(UnsafeBufferPointer(rebasing: bytes[range]), atStart: range.lowerBound == 0),
                                       into: &output, scratch: &scratch)
                        afterSpecial = false
                    case let .token(id):
                        output.append(id)
                        afterSpecial = true
                    }
                }
            }
        }
        if addSpecial, vocabulary.addEOS, let eos = vocabulary.eos {
            output.append(eos)
        }
        return output
    }

    /// The text of `tokens`, the inverse of `encode`: for SentencePiece the space `encode` put in front is
    /// removed again. Control tokens render only with `renderSpecial`; ids outside the vocabulary render
    /// as nothing; bytes that do not form UTF-8 become U+FFFD.
    public func decode(_ tokens: [Int32], renderSpecial: Bool = false) -> String {
        var bytes: [UInt8] = []
        var stripsLeadingSpace = removesSpacePrefix
        for token in tokens {
            appendPiece(token, renderSpecial: renderSpecial, stripsLeadingSpace: &stripsLeadingSpace, to: &bytes)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The bytes one token stands for (not necessarily whole UTF-8 characters).
    public func piece(_ token: Int32, renderSpecial: Bool = false) -> [UInt8] {
        var bytes: [UInt8] = []
        pieces.append(token, renderSpecial: renderSpecial, to: &bytes)
        return bytes
    }

    public func isEndOfGeneration(_ token: Int32) -> Bool {
        vocabulary.endOfGeneration.contains(token)
    }

    /// Whether a text fragment after a special token (or at the start) gets the space prefix under
    /// the vocabulary's scheme: Metaspace's schemes leave out one that starts with a space already.
    private func takesSpacePrefix(_ fragment: UnsafeBufferPointer<UInt8>, atStart: Bool) -> Bool {
        let spaced = fragment.first == UInt8(ascii: " ") || fragment.starts(with: [0xE2, 0x96, 0x81])  // "▁"
        return switch vocabulary.spacePrefixScheme {
        case .everyFragment: true
        case .textStart: atStart && !spaced
        case .unlessSpaced: !spaced
        }
    }

    /// Whether decoding a whole encoded text drops the space SentencePiece put in front of it.
    var removesSpacePrefix: Bool { vocabulary.model == .sentencePiece && vocabulary.addSpacePrefix }

    /// Appends a token's bytes; while `stripsLeadingSpace` is set, the first token after an optional leading
    /// BOS loses one leading space, and the flag clears.
    func appendPiece(_ token: Int32, renderSpecial: Bool, stripsLeadingSpace: inout Bool, to bytes: inout [UInt8]) {
        let start = bytes.count
        pieces.append(token, renderSpecial: renderSpecial, to: &bytes)
        guard stripsLeadingSpace, token != vocabulary.bos else { return }
        stripsLeadingSpace = false
        if bytes.count > start && bytes[start] == UInt8(ascii: " ") {
            bytes.remove(at: start)
        }
    }
}
