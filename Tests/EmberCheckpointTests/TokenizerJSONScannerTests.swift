// The scanner of tokenizer.json's vocabulary and merges reads what JSONDecoder reads: escapes of
// every kind, both forms of merges, the rest of the document intact; a broken file is an error at
// its byte, never a crash. On the real families' files (EMBER_HF_TOKENIZERS) it agrees with
// JSONDecoder entry for entry.

@testable import EmberCheckpoint
import Foundation
import Testing

struct TokenizerJSONScannerTests {
    @Test func escapesAndBothMergeFormsReadAsJSONDecoderReadsThem() throws {
        for merges in [#"["a b", "\u00e9 \ud83d\ude00"]"#, #"[["a", "b"], ["\u00e9", "\ud83d\ude00"]]"#] {
            let text = #"""
                {"version": "1.0", "added_tokens": [{"id": 5, "content": "<|x|>", "special": true}],
                 "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "\"q\\": 2, "line\nbreak": 3, "\u00e9": 4, "\ud83d\ude00": 6},
                           "merges": \#(merges), "byte_fallback": false}}
                """#
            let scanner = try TokenizerJSONScanner(Array(text.utf8))
            #expect(scanner.vocab?.map(\.text) == ["a", "b", "\"q\\", "line\nbreak", "é", "😀"])
            #expect(scanner.vocab?.map(\.id) == [0, 1, 2, 3, 4, 6])
            #expect(scanner.merges == ["a b", "é 😀"])
            let rest = try JSONDecoder().decode(TokenizerJSON.self, from: Data(scanner.rest))
            #expect(rest.model.merges?.pairs == [] && rest.model.byte_fallback == false)
            #expect(rest.added_tokens?.first?.content == "<|x|>")
        }
    }

    @Test func brokenDocumentsAreErrorsAtTheirByte() {
        let whole = #"{"model": {"vocab": {"a": 0, "b": 1}, "merges": ["a b"]}}"#
        for end in 0 ..< whole.utf8.count - 1 {  // every truncation
            #expect(throws: TokenizerJSONScanner.Failure.self) { try TokenizerJSONScanner(Array(whole.utf8.prefix(end))) }
        }
        for broken in [#"{"model": {"vocab": {"a": "zero"}}}"#, #"{"model": {"merges": [["a"]]}}"#, #"["model"]"#,
                       #"{"model": {"vocab": {"a": 0 "b": 1}}}"#, #"{"model": {"vocab": {"\u12": 0}}}"#] {
            #expect(throws: TokenizerJSONScanner.Failure.self, "\(broken)") { try TokenizerJSONScanner(Array(broken.utf8)) }
        }
    }

    @Test(.enabled(if: HFTokenizerTests.directory != nil, "EMBER_HF_TOKENIZERS names the tokenizer.json files (the test command sets it)"),
          arguments: ["gpt-2", "smollm", "llama-bpe", "qwen2", "llama-spm"])
    func agreesWithJSONDecoderOnRealFiles(family: String) throws {
        let path = HFTokenizerTests.directory! + "/" + family + "/tokenizer.json"
        struct Vocabulary: Decodable {
            struct Model: Decodable { let vocab: [String: Int] }
            let model: Model
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let decoded = try JSONDecoder().decode(TokenizerJSON.self, from: data)
        let vocab = try JSONDecoder().decode(Vocabulary.self, from: data).model.vocab
        let scanned = try TokenizerJSON.read(path: path)
        // Every entry, once: more than a [String: Int] keeps where two texts are canonically
        // equivalent (Llama 2's vocabulary has such pairs), and each of those it keeps.
        #expect(Set(scanned.vocab.map(\.id)).count == scanned.vocab.count && scanned.vocab.count >= vocab.count)
        let entries = Set(scanned.vocab.map { "\($0.id) \(Array($0.text.utf8))" })
        for (text, id) in vocab { #expect(entries.contains("\(id) \(Array(text.utf8))"), "\(text)") }
        #expect(scanned.model.merges?.pairs == decoded.model.merges?.pairs)
        #expect(scanned.added_tokens?.map(\.content) == decoded.added_tokens?.map(\.content))
    }
}
