// `hf:OWNER/REPO[@REVISION]` from a fake Hugging Face repository on the loopback test server: the
// Hub's listing, `resolve` URLs at the listed commit that redirect the weights to a CDN path with
// their sha256 in X-Linked-ETag. Only the files a checkpoint needs are fetched (never pickles, ONNX
// or READMEs), the shards the index names, verified; the repository is one cache entry; a hit asks
// the network nothing; the configuration and tokenizer are heard of before the weights land; a
// repository of pickles is refused before any download.

import EmberStore
import EmberTestServer
import Foundation
import Synchronization
import Testing

@Suite final class RepositoryTests {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ember-repository-\(UUID().uuidString)")

    deinit { try? FileManager.default.removeItem(at: scratch) }

    func store(_ server: TestFileServer) -> ModelStore {
        var store = ModelStore(home: scratch, environment: ["HF_ENDPOINT": server.url("/").absoluteString])
        store.progress = .quiet
        store.network.backoff = .milliseconds(5)
        store.network.announce = { _ in }
        return store
    }

    /// A safetensors file of one U8 tensor of `count` bytes.
    static func safetensors(_ name: String, count: Int, seed: UInt8) -> [UInt8] {
        var header = Array(#"{"\#(name)": {"dtype": "U8", "shape": [\#(count)], "data_offsets": [0, \#(count)]}}"#.utf8)
        while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }
        let length = withUnsafeBytes(of: UInt64(header.count).littleEndian, Array.init)
        return length + header + (0 ..< count).map { UInt8(truncatingIfNeeded: $0 &* 31) &+ seed }
    }

    /// Files of the repository (path in it to bytes), served as the Hub serves them at `commit`.
    static func serve(_ files: [String: [UInt8]], commit: String = "0123abcd") async throws -> TestFileServer {
        let hub = FakeHub.hosting(files, commit: commit)
        return try await TestFileServer.start(files: hub.files, configuration: Configuration(redirects: hub.redirects))
    }

    @Test func onlyTheCheckpointsFilesAreFetchedVerifiedAsOneEntry() async throws {
        let first = Self.safetensors("a", count: 300_000, seed: 1), second = Self.safetensors("b", count: 200_000, seed: 2)
        let index = #"{"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}"#
        let files: [String: [UInt8]] = [
            "config.json": Array(#"{"architectures": ["LlamaForCausalLM"]}"#.utf8), "tokenizer.json": Array("{}".utf8),
            "tokenizer_config.json": Array("{}".utf8), "model.safetensors.index.json": Array(index.utf8),
            "model-00001-of-00002.safetensors": first, "model-00002-of-00002.safetensors": second,
            "pytorch_model.bin": [1, 2, 3], "onnx/model.onnx": [4, 5], "README.md": Array("# repo".utf8),
            "unused.safetensors": Self.safetensors("c", count: 10, seed: 3),
        ]
        let server = try await Self.serve(files)
        defer { Task { try await server.shutdown() } }
        let store = store(server)

        let directory = try await store.pull("hf:owner/repo")
        let fetched = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(fetched == ["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                            "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json"])
        for name in fetched { #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))) == files[name]) }
        let paths = server.requests.map(\.path)
        #expect(!paths.contains { $0.contains("pytorch_model") || $0.contains("onnx") || $0.contains("README") || $0.contains("unused") })
        #expect(paths.allSatisfy { !$0.contains("/resolve/main/") }, "files come from the listed commit")

        let entries = store.cache.contents().entries
        #expect(entries.count == 1 && entries[0].files?.count == 6 && entries[0].size == files.filter { fetched.contains($0.key) }.map(\.value.count).reduce(0, +))
        server.resetRequests()
        #expect(try await store.pull("hf:owner/repo") == directory)
        #expect(try await store.checkpointDirectory("hf:owner/repo") == directory)
        #expect(server.requests.isEmpty, "a cached repository asks the network nothing")

        try store.remove("hf:owner/repo")
        #expect(store.cache.contents().entries.isEmpty && !FileManager.default.fileExists(atPath: directory))
    }

    /// The configuration and tokenizer files are announced while the weights are still on their way;
    /// a cache hit announces nothing.
    @Test func theMetadataIsHeardBeforeTheWeights() async throws {
        let shard = Self.safetensors("a", count: 2_000_000, seed: 4)
        let server = try await Self.serve(["config.json": Array("{}".utf8), "tokenizer.json": Array("{}".utf8), "model.safetensors": shard])
        defer { Task { try await server.shutdown() } }
        var configuration = server.configuration
        configuration.bytesPerSecondPerConnection = 4_000_000  // the shard takes half a second
        server.setConfiguration(configuration)
        let heard = Mutex<[(directory: String, config: Bool, shard: Bool)]>([])
        let store = store(server)
        let directory = try await store.checkpointDirectory("hf:owner/repo") { directory in
            let manager = FileManager.default
            heard.withLock { $0.append((directory, manager.fileExists(atPath: directory + "/config.json") && manager.fileExists(atPath: directory + "/tokenizer.json"),
                                        manager.fileExists(atPath: directory + "/model.safetensors"))) }
        }
        let calls = heard.withLock { $0 }
        #expect(calls.count == 1)
        #expect(calls.first?.directory == directory && calls.first?.config == true && calls.first?.shard == false)
        _ = try await store.checkpointDirectory("hf:owner/repo") { _ in Issue.record("a cache hit announced metadata") }
    }

    @Test func aCorruptShardIsNotInstalled() async throws {
        let shard = Self.safetensors("a", count: 100_000, seed: 1)
        let server = try await Self.serve(["config.json": Array("{}".utf8), "tokenizer.json": Array("{}".utf8), "model.safetensors": shard])
        defer { Task { try await server.shutdown() } }
        var configuration = server.configuration
        configuration.redirects["/owner/repo/resolve/0123abcd/model.safetensors"]?.headers["X-Linked-ETag"] = "\"\(String(repeating: "0", count: 64))\""
        server.setConfiguration(configuration)
        await #expect(throws: StoreError.self) { try await self.store(server).pull("hf:owner/repo") }
        #expect(store(server).cache.contents().entries.isEmpty)
    }

    /// A fetch broken off mid-shard is taken up again: finished files are not asked for again, the
    /// shard resumes from its finished ranges.
    @Test func anInterruptedFetchResumesWhereItStopped() async throws {
        let shard = Self.safetensors("a", count: 6_000_000, seed: 7)
        let files: [String: [UInt8]] = ["config.json": Array("{}".utf8), "tokenizer.json": Array("{}".utf8), "model.safetensors": shard]
        let server = try await Self.serve(files)
        defer { Task { try await server.shutdown() } }
        var configuration = server.configuration
        let cut = shard.count * 3 / 4  // past the first 4 MiB, which are asked for first
        configuration.fault = { request in request.path == "/cdn/model.safetensors" && (request.range?.upperBound ?? 0) > cut ? .dropAfter(bytes: 1000) : .none }
        server.setConfiguration(configuration)
        let store = store(server)
        // Every try at the shard's back part breaks off: the fetch ends there, its other files whole.
        do {
            _ = try await store.pull("hf:owner/repo")
            Issue.record("the fetch did not fail")
        } catch {
            #expect("\(error)".contains("model.safetensors"), "\(error)")
        }
        #expect(store.cache.contents().entries.isEmpty)
        // What the broken-off fetch kept, by the shard's resume log (how much depends on how far the
        // front ranges got before the back ones gave up: on a loaded machine, not all of them).
        struct ResumeLog: Decodable { let completed: [[Int]] }
        let logs = FileManager.default.enumerator(atPath: scratch.path)?.compactMap { $0 as? String }.filter { $0.hasSuffix("model.safetensors.partial.json") } ?? []
        let log = try JSONDecoder().decode(ResumeLog.self, from: Data(contentsOf: scratch.appendingPathComponent(try #require(logs.first))))
        #expect(log.completed.reduce(0) { $0 + $1[1] - $1[0] } > 0)

        configuration.fault = { _ in .none }
        server.setConfiguration(configuration)
        server.resetRequests()
        let directory = try await self.store(server).pull("hf:owner/repo")
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/model.safetensors"))) == shard)
        let paths = server.requests.map(\.path)
        #expect(!paths.contains { $0.hasSuffix("config.json") || $0.hasSuffix("tokenizer.json") }, "\(paths)")
        // The probe (from 0; again for each try, on a machine slow enough for a try to time out), then only
        // what was missing: no range asked for again overlaps what was kept (retried ones may repeat).
        let keptRanges = log.completed.map { $0[0] ..< $0[1] }
        let resumed = server.requests.filter { $0.path == "/cdn/model.safetensors" }.compactMap(\.range).filter { $0.lowerBound > 0 }
        #expect(!resumed.isEmpty)
        for range in resumed {
            #expect(!keptRanges.contains { $0.overlaps(range) }, "\(range) was kept (\(keptRanges)), yet asked for again")
        }
    }

    @Test func aRepositoryOfPicklesIsRefusedBeforeAnyDownload() async throws {
        let server = try await Self.serve(["config.json": Array("{}".utf8), "pytorch_model.bin": [1, 2, 3]])
        defer { Task { try await server.shutdown() } }
        do {
            _ = try await store(server).pull("hf:owner/repo")
            Issue.record("a pickle-only repository was fetched")
        } catch {
            guard case let .pickleOnly(_, files) = error else { Issue.record("\(error)"); return }
            #expect(files == ["pytorch_model.bin"])
            #expect("\(error)".contains("never unpickles"))
        }
        #expect(server.requests.map(\.path) == ["/api/models/owner/repo/revision/main"])
    }
}
