// tokenizer.json read into Ember's tokenizer gives the `tokenizers` package's ids on the tokenizer
// corpus (302 texts) for each family: GPT-2's byte-level BPE, SmolLM2's (digits split), Llama 3's
// (ignore_merges), Qwen2's (NFC), Llama 2's SentencePiece-style BPE (Metaspace, byte fallback).
// The files and ids are made where the tests run (scripts/hf-tokenizers, EMBER_HF_TOKENIZERS); the
// converter's choices for each form of pre-tokenizer are checked here on small files.

@testable import EmberCheckpoint
import EmberFormats
import EmberTokenizer
import Foundation
import Testing

@Suite struct HFTokenizerTests {
    static let directory = ProcessInfo.processInfo.environment["EMBER_HF_TOKENIZERS"]

    struct Reference: Decodable {
        let texts: [String]
        let ids: [[Int32]]
    }

    @Test(.enabled(if: directory != nil, "EMBER_HF_TOKENIZERS names the tokenizer.json files (the test command sets it)"),
          arguments: ["gpt-2", "smollm", "llama-bpe", "qwen2", "llama-spm"])
    func idsEqualTokenizers(family: String) throws {
        let folder = Self.directory! + "/" + family
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/ids.json")))
        let tokenizer = try Tokenizer(metadata: GGUFMetadata(try HFTokenizer(directory: folder).metadata))
        #expect(reference.texts.count >= 200)
        var mismatches = 0
        for (text, expected) in zip(reference.texts, reference.ids) {
            let ids = tokenizer.encode(text, addSpecial: false, parseSpecial: true)
            if ids != expected { mismatches += 1 }
            #expect(ids == expected, "\(family): \(text.debugDescription)")
        }
        #expect(mismatches == 0)
    }

    static func metadata(_ json: String, config: String? = nil) throws -> [String: GGUFValue] {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ember-tokenizer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data(json.utf8).write(to: folder.appendingPathComponent("tokenizer.json"))
        if let config { try Data(config.utf8).write(to: folder.appendingPathComponent("tokenizer_config.json")) }
        return Dictionary(try HFTokenizer(directory: folder.path).metadata.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
    }

    static func byteLevel(pre: String, ignoreMerges: Bool = false) -> String {
        """
        {"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]], "ignore_merges": \(ignoreMerges)},
         "added_tokens": [{"id": 3, "content": "<|end|>", "special": true}], "pre_tokenizer": \(pre),
         "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<|end|>"}}, {"Sequence": {"id": "A"}}]}}
        """
    }

    @Test func preTokenizersMapToLlamaCppNames() throws {
        let split = { (regex: String) in
            #"{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": ""# + regex.replacingOccurrences(of: "\\", with: "\\\\")
                + #""}, "behavior": "Isolated"}, {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]}"#
        }
        let cases: [(String, Bool, String)] = [
            (#"{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}"#, false, "gpt-2"),
            (#"{"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": true}, {"type": "ByteLevel", "use_regex": true}]}"#,
             false, "smollm"),
            (split(HFTokenizer.llama3Pattern), true, "llama-bpe"),
            (split(HFTokenizer.llama3Pattern), false, "smaug-bpe"),
            (split(HFTokenizer.qwen2Pattern), false, "qwen2"),
        ]
        for (pre, ignoreMerges, name) in cases {
            let metadata = try Self.metadata(Self.byteLevel(pre: pre, ignoreMerges: ignoreMerges))
            #expect(metadata["tokenizer.ggml.pre"] == .string(name), "\(pre)")
            #expect(metadata["tokenizer.ggml.model"] == .string("gpt2"))
            #expect(metadata["tokenizer.ggml.merges"] == .array(.string(["a b"])))
            #expect(metadata["tokenizer.ggml.token_type"] == .array(.int32([1, 1, 1, 3])))
            // The post-processor's template puts a special token first: BOS is added.
            #expect(metadata["tokenizer.ggml.add_bos_token"] == .bool(true))
        }
        #expect(throws: CheckpointError.self) { try Self.metadata(Self.byteLevel(pre: split(#"\p{L}+|\s+"#))) }
    }

    @Test func sentencePieceStyleGetsScoresBytesAndSpecialTokens() throws {
        let json = """
            {"model": {"type": "BPE", "byte_fallback": true, "unk_token": "<unk>",
                       "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "<0x41>": 3, "▁": 4, "a": 5, "▁a": 6, "aa": 7, "▁aa": 8},
                       "merges": ["▁ a", "a a", "▁a a"]},
             "added_tokens": [{"id": 0, "content": "<unk>", "special": true}, {"id": 1, "content": "<s>", "special": true},
                              {"id": 2, "content": "</s>", "special": true}],
             "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false}}
            """
        let config = #"{"bos_token": "<s>", "eos_token": {"content": "</s>"}, "add_bos_token": true, "chat_template": "{{ x }}"}"#
        let metadata = try Self.metadata(json, config: config)
        #expect(metadata["tokenizer.ggml.model"] == .string("llama"))
        #expect(metadata["tokenizer.ggml.token_type"] == .array(.int32([2, 3, 3, 6, 1, 1, 1, 1, 1])))
        // Made by merge 0, 1 and 2: the earlier the merge, the higher the score; no merge makes the rest.
        #expect(metadata["tokenizer.ggml.scores"] == .array(.float32([-4, -4, -4, -4, -4, -4, 0, -1, -2])))
        #expect(metadata["tokenizer.ggml.add_space_prefix"] == .bool(true))
        #expect(metadata["tokenizer.ggml.bos_token_id"] == .uint32(1) && metadata["tokenizer.ggml.eos_token_id"] == .uint32(2))
        #expect(metadata["tokenizer.chat_template"] == .string("{{ x }}"))
        let tokenizer = try Tokenizer(metadata: GGUFMetadata(metadata.map { (key: $0.key, value: $0.value) }))
        #expect(tokenizer.encode("aa a", addSpecial: true) == [1, 8, 6])
    }
}
