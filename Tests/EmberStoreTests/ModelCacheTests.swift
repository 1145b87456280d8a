// The cache on disk: an entry is a hit only with its metadata and a file of the recorded size; a hit
// records its use; list, remove and prune (least recently used first, never an entry that another
// process holds locked). Entries are made by real pulls from the test server.

#if canImport(Glibc)
import Glibc
#endif
import EmberStore
import EmberTestServer
import EmberTestSupport
import Foundation
import Testing

@Suite final class ModelCacheTests {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ember-cache-\(UUID().uuidString)")
    let store: ModelStore

    init() throws {
        var store = ModelStore(home: scratch, environment: [:])
        store.progress = .quiet
        self.store = store
    }

    deinit { try? FileManager.default.removeItem(at: scratch) }

    /// Serves `names` (1 MB models each) and pulls them in order; returns their sources.
    func pull(_ names: [String]) async throws -> (TestFileServer, [String]) {
        let files = Dictionary(uniqueKeysWithValues: names.enumerated().map { index, name in
            ("/" + name, SyntheticModel.gguf(tensorBytes: [1_000_000], seed: UInt64(index + 1)))
        })
        let server = try await TestFileServer.start(files: files)
        var sources: [String] = []
        for name in names {
            let url = server.url("/" + name).absoluteString
            _ = try await store.pull(url)
            sources.append(url)
        }
        return (server, sources)
    }

    @Test func aHitNeedsMetadataAndTheRecordedSize() async throws {
        let (server, sources) = try await pull(["a.gguf"])
        defer { Task { try await server.shutdown() } }
        let entry = try #require(store.cache.lookup(sources[0]))
        #expect(entry.size > 1_000_000 && entry.source == sources[0])
        #expect(store.cache.lookup(server.url("/b.gguf").absoluteString) == nil)
        // A file cut short (a disk error, a hand edit) is a miss, not a model; so is one without metadata.
        let path = try #require(entry.path)
        try FileHandle(forWritingTo: URL(fileURLWithPath: path)).truncate(atOffset: 1000)
        #expect(store.cache.lookup(sources[0]) == nil)
        _ = try await store.pull(sources[0])  // fetched again
        #expect(store.cache.lookup(sources[0])?.size == entry.size)
        try FileManager.default.removeItem(at: entry.directory!.appendingPathComponent("entry.json"))
        #expect(store.cache.lookup(sources[0]) == nil)
    }

    @Test func aHitRecordsItsUse() async throws {
        let (server, sources) = try await pull(["a.gguf", "b.gguf"])
        defer { Task { try await server.shutdown() } }
        #expect(store.cache.contents().entries.map(\.source) == [sources[1], sources[0]])
        _ = try store.resolve(sources[0])
        #expect(store.cache.contents().entries.map(\.source) == [sources[0], sources[1]])
    }

    @Test func removeTakesTheEntryAway() async throws {
        let (server, sources) = try await pull(["a.gguf", "b.gguf"])
        defer { Task { try await server.shutdown() } }
        try store.remove(sources[0])
        #expect(throws: StoreError.notCached(reference: sources[0])) { try self.store.remove(sources[0]) }
        #expect(store.cache.contents().entries.map(\.source) == [sources[1]])
        #expect(throws: StoreError.self) { try self.store.remove("/a/local/file.gguf") }
    }

    @Test func pruneRemovesTheLeastRecentlyUsedFirst() async throws {
        let (server, sources) = try await pull(["1.gguf", "2.gguf", "3.gguf"])
        defer { Task { try await server.shutdown() } }
        #expect(try store.cache.prune(maxBytes: 2_500_000) == [sources[0]])
        #expect(try store.cache.prune(maxBytes: 2_500_000).isEmpty)
        #expect(try store.cache.prune(maxBytes: 1_500_000) == [sources[1]])
        #expect(store.cache.contents().entries.map(\.source) == [sources[2]])
    }

    @Test func pruneLeavesAnEntryThatIsBeingDownloaded() async throws {
        let (server, sources) = try await pull(["busy.gguf", "idle.gguf"])
        defer { Task { try await server.shutdown() } }
        // Hold the busy entry's lock as a downloading process would.
        let lockPath = store.cache.root.appendingPathComponent(store.cache.directory(for: sources[0]).lastPathComponent + ".lock").path
        let descriptor = open(lockPath, O_RDWR)
        #expect(descriptor >= 0 && flock(descriptor, LOCK_EX) == 0)
        #expect(try store.cache.prune(maxBytes: 0) == [sources[1]])
        close(descriptor)
        #expect(try store.cache.prune(maxBytes: 0) == [sources[0]])
    }
}
