// Loading of the test inputs: the golden corpus and llama.cpp's ids (Fixtures/, made by
// scripts/goldens/make_tokenizer_goldens.py), the committed small BPE and SentencePiece vocabularies, and
// the SmolLM2 model's metadata through the model store.

import EmberFormats
import EmberStore
import EmberTokenizer
import Foundation

/// llama.cpp's tokenization of the corpus with one vocabulary and pre-tokenizer.
struct GoldenFile: Decodable {
    struct Case: Decodable {
        let index: Int
        let text: String
        /// add_special and parse_special on.
        let special: [Int32]
        /// add_special on, parse_special off.
        let plain: [Int32]
        /// Both off.
        let raw: [Int32]
    }

    let name: String
    let vocabularySize: Int
    let bos: Int32
    let eos: Int32
    let addBOS: Bool
    let endOfGeneration: [Int32]
    let cases: [Case]
}

enum Fixtures {
    static func url(_ name: String) throws -> URL {
        guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures") else {
            throw FixtureError.missing(name)
        }
        return url
    }

    static func corpus() throws -> [String] {
        try JSONDecoder().decode([String].self, from: Data(contentsOf: url("tokenizer_corpus.json")))
    }

    static func goldens(_ name: String) throws -> GoldenFile {
        try JSONDecoder().decode(GoldenFile.self, from: Data(contentsOf: url("tokenizer_goldens_\(name).json")))
    }

    /// SmolLM2's metadata, read once (the store fetches the model with pip on first use).
    static func smolLM2() throws -> GGUFMetadata { try smolLM2Metadata.get() }

    static func smolLM2Tokenizer(preTokenizer: String? = nil) throws -> Tokenizer {
        try Tokenizer(metadata: smolLM2(), preTokenizer: preTokenizer)
    }

    /// The small byte-level BPE vocabulary (its file says pre-tokenizer llama-bpe).
    static func tinyBPETokenizer(preTokenizer: String? = nil) throws -> Tokenizer {
        try Tokenizer(metadata: metadata(json: url("bpe_tiny.json")), preTokenizer: preTokenizer)
    }

    static func sentencePieceTokenizer() throws -> Tokenizer {
        try Tokenizer(metadata: metadata(json: url("spm_tiny.json")))
    }

    private static let smolLM2Metadata = Result { () throws -> GGUFMetadata in
        try GGUFFile(path: ModelStore.standard().resolve("smollm2")).metadata
    }
}

enum FixtureError: Error, CustomStringConvertible {
    case missing(String)

    var description: String {
        switch self {
        case let .missing(name): "test fixture \(name) is missing; run scripts/goldens/make_tokenizer_goldens.py"
        }
    }
}
