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

    /// A vocabulary of llama.cpp's own tokenizer tests (scripts/goldens/import_llamacpp_vocab_tests.py),
    /// with its inputs and llama.cpp's ids for them (nothing special added or parsed).
    static func llamaCppVocabularyTest(_ name: String) throws -> (tokenizer: Tokenizer, cases: [(text: String, ids: [Int32])]) {
        let base = "llamacpp_vocab_\(name)"
        let tokenizer = try Tokenizer(metadata: metadata(json: url(base + ".json")))
        return (tokenizer, try llamaCppVocabularyCases(inputs: url(base + ".inp"), outputs: url(base + ".out")))
    }

    /// llama.cpp's own test of the vocab-only `models/ggml-vocab-NAME.gguf` in `directory` (its
    /// source tree's models/), read as llama.cpp ships it.
    static func llamaCppVocabularyTest(_ name: String, directory: String) throws -> (tokenizer: Tokenizer, cases: [(text: String, ids: [Int32])]) {
        let base = URL(fileURLWithPath: directory).appendingPathComponent("ggml-vocab-\(name).gguf")
        let tokenizer = try Tokenizer(metadata: GGUFFile(path: base.path).metadata)
        return (tokenizer, try llamaCppVocabularyCases(inputs: URL(fileURLWithPath: base.path + ".inp"),
                                                       outputs: URL(fileURLWithPath: base.path + ".out")))
    }

    private static func llamaCppVocabularyCases(inputs: URL, outputs: URL) throws -> [(text: String, ids: [Int32])] {
        let inputs = try String(contentsOf: inputs, encoding: .utf8).components(separatedBy: "\n__ggml_vocab_test__\n")
        let outputs = try String(contentsOf: outputs, encoding: .utf8).components(separatedBy: "\n")
        // The inputs end with a separator, so the last piece is empty; the outputs end with a line break.
        let texts = inputs.last == "" ? Array(inputs.dropLast()) : inputs
        let ids = outputs.prefix(texts.count).map { $0.split(separator: " ").compactMap { Int32($0) } }
        return Array(zip(texts, ids)).map { (text: $0.0, ids: $0.1) }
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
