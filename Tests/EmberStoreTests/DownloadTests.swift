// Downloads into the cache from the loopback test server, fault by fault: every one must end in a
// correct, verified file or a clear error, with no corrupt entry and nothing half-written left behind
// (an interrupted download keeps only its resumable partial file and state, which the next pull uses).

import Crypto
import EmberFormats
import EmberStore
import EmberTestServer
import EmberTestSupport
import Foundation
import Synchronization
import Testing

@Suite final class DownloadTests {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ember-download-\(UUID().uuidString)")
    /// 13 tensors from 0.5 to 6.5 MiB: about 46 MB, so the download is cut into several chunks.
    static let model = SyntheticModel.gguf(tensorBytes: (1 ... 13).map { $0 << 19 })
    static let modelSHA256 = sha256(model)

    init() throws {
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: scratch) }

    func store(_ environment: [String: String] = [:], home: URL? = nil) -> ModelStore {
        var store = ModelStore(home: home ?? scratch.appendingPathComponent("home"), environment: environment)
        store.progress = .quiet
        store.network.backoff = .milliseconds(5)
        store.network.announce = { _ in }
        return store
    }

    func serve(_ configuration: Configuration = .init(), file: [UInt8] = model) async throws -> TestFileServer {
        try await TestFileServer.start(files: ["/m.gguf": file], configuration: configuration)
    }

    static func sha256(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    func contents(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// The error `operation` throws, or a recorded issue if it throws none.
    func failure(_ operation: () async throws(StoreError) -> String) async -> StoreError? {
        do {
            let path = try await operation()
            Issue.record("expected an error, got \(path)")
            return nil
        } catch {
            return error
        }
    }

    @Test func parallelRangesAlignedToTensorsGiveAVerifiedEntry() async throws {
        let server = try await serve(Configuration(etag: .sha256))
        defer { Task { try await server.shutdown() } }
        let store = store()
        let path = try await store.pull(server.url("/m.gguf").absoluteString)
        #expect(try contents(path) == Self.model)
        let entry = try #require(store.cache.contents().entries.first)
        #expect(entry.sha256 == Self.modelSHA256 && entry.size == Self.model.count && entry.etag != nil)
        #expect(CacheFiles.all(store).sorted() == ["entry.json", "m.gguf"])

        let ranges = server.requests.compactMap(\.range)
        // The first 4 MiB in eight pieces at once, the probe first.
        #expect(ranges.first == 0 ..< RangePlan.floor / 8)
        #expect(Set(ranges.filter { $0.upperBound <= RangePlan.floor }.map(\.count)) == [RangePlan.floor / 8])
        let requested = ranges.filter { $0.lowerBound >= RangePlan.floor }
        // A request that starts inside another took over the rest of a slower one (a split at the end).
        let chunks = requested.filter { range in !requested.contains { $0.lowerBound < range.lowerBound && range.lowerBound < $0.upperBound } }
            .sorted { $0.lowerBound < $1.lowerBound }
        #expect(chunks.count >= 5, "\(ranges)")
        // Each planned cut is on a tensor start, unless it falls inside a tensor with no start within a quarter chunk.
        let tensors = try GGUFFile(path: path).tensorRanges
        let quarter = RangePlan.target(size: Self.model.count, connections: 8) / 4
        for chunk in chunks.dropLast() {
            let cut = chunk.upperBound
            #expect(tensors.contains { $0.lowerBound == cut } || !tensors.contains { abs($0.lowerBound - cut) <= quarter },
                    "chunk \(chunk) is cut off a tensor boundary")
        }
        #expect(chunks.map(\.count).reduce(0, +) == Self.model.count - RangePlan.floor)
        #expect(RangePlan.missing(size: Self.model.count, done: Array(ranges)).isEmpty)

        // A hit asks the server nothing.
        server.resetRequests()
        #expect(try await store.pull(server.url("/m.gguf").absoluteString) == path)
        #expect(server.requests.isEmpty)
    }

    @Test func theRestOfASlowChunkIsTakenOverByIdleConnections() async throws {
        // The first chunk after the probe comes at 1 MiB/s, everything else as fast as it can.
        let server = try await serve(Configuration(fault: { request in
            request.range?.lowerBound == RangePlan.floor ? .slow(bytesPerSecond: 1 << 20) : .none
        }))
        defer { Task { try await server.shutdown() } }
        let path = try await store().pull(server.url("/m.gguf").absoluteString)
        #expect(try contents(path) == Self.model)
        let ranges = server.requests.compactMap(\.range)
        let slow = try #require(ranges.first { $0.lowerBound == RangePlan.floor })
        // Idle connections took over a good part of it (most, on an idle machine; how much depends on
        // how far the slow request got while the rest downloaded, so the parallel suite asks a quarter),
        // and the slow request stopped where they began.
        let takeovers = ranges.filter { $0.lowerBound > slow.lowerBound && $0.lowerBound < slow.upperBound }
        let takenOver = RangePlan.covered(size: Self.model.count, done: takeovers)
        #expect(takenOver >= slow.count / 4, "\(ranges)")
        let sent = server.bytesSent
        try await Task.sleep(for: .milliseconds(300))
        #expect(server.bytesSent - sent < 64 << 10, "the slow request is still being sent")
        #expect(CacheFiles.all(store()).sorted() == ["entry.json", "m.gguf"])
    }

    @Test func anInterruptedDownloadResumesWhereItStopped() async throws {
        let cut = Self.model.count / 2
        let server = try await serve(Configuration(fault: { request in
            (request.range?.upperBound ?? 0) > cut ? .dropAfter(bytes: 1000) : .none
        }))
        defer { Task { try await server.shutdown() } }
        let store = store()
        let url = server.url("/m.gguf").absoluteString
        let error = await failure { () throws(StoreError) in try await store.pull(url) }
        guard case .network = error else { Issue.record("got \(String(describing: error))"); return }
        // No entry, only the partial file and its state.
        #expect(store.cache.lookup(url) == nil)
        #expect(CacheFiles.all(store).sorted() == ["m.gguf.partial", "m.gguf.partial.json"])
        let partial = try #require(store.cache.contents().partial.first)
        #expect(partial.bytesDone >= RangePlan.floor && partial.bytesDone < Self.model.count)

        server.setConfiguration(Configuration())
        server.resetRequests()
        let path = try await store.pull(url)
        #expect(try contents(path) == Self.model)
        // The probe, then only what was missing.
        let fetched = RangePlan.covered(size: Self.model.count, done: Array(server.requests.compactMap(\.range).dropFirst()))
        #expect(fetched == Self.model.count - partial.bytesDone)
        #expect(CacheFiles.all(store).sorted() == ["entry.json", "m.gguf"])
    }

    @Test func transientServerErrorsAreRetried() async throws {
        let server = try await serve(Configuration(fault: { request in request.index % 3 == 0 ? .status(503) : .none }))
        defer { Task { try await server.shutdown() } }
        let path = try await store().pull(server.url("/m.gguf").absoluteString)
        #expect(try contents(path) == Self.model)
    }

    @Test func aServerThatKeepsFailingIsAClearErrorAndLeavesNothing() async throws {
        let server = try await serve(Configuration(fault: { _ in .status(500) }))
        defer { Task { try await server.shutdown() } }
        let store = store()
        let error = await failure { () throws(StoreError) in try await store.pull(server.url("/m.gguf").absoluteString) }
        guard case .network = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(error!.description.contains("HTTP 500"))
        #expect(CacheFiles.all(store).isEmpty)
    }

    @Test func missingFileNamesTheURL() async throws {
        let server = try await serve()
        defer { Task { try await server.shutdown() } }
        let store = store()
        let url = server.url("/nope.gguf").absoluteString
        let error = await failure { () throws(StoreError) in try await store.pull(url) }
        #expect(error == .http(url: url, status: 404, authorized: false))
        #expect(error!.description.contains(url) && error!.description.contains("404"))
        #expect(CacheFiles.all(store).isEmpty)
    }

    @Test func accessDeniedMentionsHFToken() async throws {
        let server = try await serve(Configuration(fault: { _ in .status(401) }))
        defer { Task { try await server.shutdown() } }
        let store = store(["HF_ENDPOINT": server.url("").absoluteString, "HF_TOKEN": "secret"])
        let error = await failure { () throws(StoreError) in try await store.pull("hf:owner/repo/m.gguf") }
        #expect(error!.description.contains("HF_TOKEN") && error!.description.contains("401"))
        #expect(server.requests.first?.path == "/owner/repo/resolve/main/m.gguf")
        #expect(server.requests.first?.header("Authorization") == "Bearer secret")
    }

    @Test func theTokenGoesOnlyToTheOriginalHostAndRedirectChecksumsAreUsed() async throws {
        let server = try await serve()
        defer { Task { try await server.shutdown() } }
        // The CDN is the same server under another host name; the redirect carries the file's sha256.
        server.setConfiguration(Configuration(redirects: [
            "/owner/repo/resolve/main/m.gguf": Redirect(location: server.localhostURL("/m.gguf").absoluteString,
                                                        headers: ["X-Linked-ETag": "\"\(Self.modelSHA256)\""]),
        ]))
        let store = store(["HF_ENDPOINT": server.url("").absoluteString, "HF_TOKEN": "secret"])
        let path = try await store.pull("hf:owner/repo/m.gguf")
        #expect(try contents(path) == Self.model)
        #expect(store.cache.contents().entries.first?.sha256 == Self.modelSHA256)
        let toResolve = server.requests.filter { $0.path.hasPrefix("/owner/") }
        let toFile = server.requests.filter { $0.path == "/m.gguf" }
        #expect(!toResolve.isEmpty && toResolve.allSatisfy { $0.header("Authorization") == "Bearer secret" })
        #expect(!toFile.isEmpty && toFile.allSatisfy { $0.header("Authorization") == nil })
    }

    @Test func aChecksumMismatchIsAnErrorAndCachesNothing() async throws {
        let wrong = String(repeating: "ab", count: 32)
        let server = try await serve(Configuration(linkedETag: wrong))
        defer { Task { try await server.shutdown() } }
        let store = store()
        let url = server.url("/m.gguf").absoluteString
        let error = await failure { () throws(StoreError) in try await store.pull(url) }
        #expect(error == .checksumMismatch(source: url, expected: wrong, actual: Self.modelSHA256))
        #expect(CacheFiles.all(store).isEmpty)
    }

    @Test func aSidecarChecksumIsVerified() async throws {
        let server = try await serve(Configuration(etag: .opaque, sidecars: true))
        defer { Task { try await server.shutdown() } }
        let store = store()
        _ = try await store.pull(server.url("/m.gguf").absoluteString)
        #expect(store.cache.contents().entries.first?.sha256 == Self.modelSHA256)
        #expect(server.requests.contains { $0.path == "/m.gguf.sha256" })
    }

    @Test func aLyingContentLengthIsAClearError() async throws {
        for lie in [100, -100] {
            let server = try await serve(Configuration(fault: { request in request.index > 0 ? .lieContentLength(by: lie) : .none }))
            let store = store()
            let error = await failure { () throws(StoreError) in try await store.pull(server.url("/m.gguf").absoluteString) }
            guard case .badResponse = error else { Issue.record("lie \(lie): got \(String(describing: error))"); continue }
            #expect(CacheFiles.all(store).isEmpty, "lie \(lie)")
            try await server.shutdown()
        }
    }

    @Test func aLyingContentLengthWithoutRangesIsAClearError() async throws {
        let server = try await serve(Configuration(supportsRanges: false, fault: { _ in .lieContentLength(by: 100) }))
        defer { Task { try await server.shutdown() } }
        let store = store()
        let error = await failure { () throws(StoreError) in try await store.pull(server.url("/m.gguf").absoluteString) }
        #expect(error != nil && error!.description.contains("\(Self.model.count + 100)"), "\(String(describing: error))")
        #expect(CacheFiles.all(store).isEmpty)
    }

    @Test func aServerWithoutRangesIsStreamedWhole() async throws {
        let server = try await serve(Configuration(supportsRanges: false, etag: .sha256))
        defer { Task { try await server.shutdown() } }
        var store = store()
        let retries = RecordedLines()
        store.network.announce = { retries.append($0) }
        let path = try await store.pull(server.url("/m.gguf").absoluteString)
        #expect(try contents(path) == Self.model)
        // One request streams the whole file; a retry (a stall on a starved machine) is announced.
        #expect(server.requests.filter { $0.path == "/m.gguf" }.count == 1 + retries.all.count, "\(retries.all)")
        #expect(store.cache.contents().entries.first?.sha256 == Self.modelSHA256)
    }

    @Test func aFileThatChangesMidDownloadRestartsCleanly() async throws {
        let newer = SyntheticModel.gguf(tensorBytes: (1 ... 13).map { $0 << 19 }, seed: 2)
        let changed = Atomic<Bool>(false)
        let server = try await serve(Configuration(etag: .sha256, fault: { request in
            request.index == 3 && !changed.exchange(true, ordering: .relaxed) ? .replaceContent(newer) : .none
        }))
        defer { Task { try await server.shutdown() } }
        let store = store()
        let path = try await store.pull(server.url("/m.gguf").absoluteString)
        #expect(try contents(path) == newer)
        #expect(store.cache.contents().entries.first?.sha256 == Self.sha256(newer))
        #expect(CacheFiles.all(store).sorted() == ["entry.json", "m.gguf"])
    }

    @Test func aFileThatKeepsChangingIsAClearError() async throws {
        let versions = Mutex(0)
        let server = try await serve(Configuration(fault: { request in
            guard request.range?.lowerBound ?? 0 > 0 else { return .none }
            let seed = versions.withLock { $0 += 1; return UInt64($0 + 10) }
            return .replaceContent(SyntheticModel.gguf(tensorBytes: [4 << 20, 4 << 20, 4 << 20], seed: seed))
        }), file: SyntheticModel.gguf(tensorBytes: [4 << 20, 4 << 20, 4 << 20]))
        defer { Task { try await server.shutdown() } }
        let store = store()
        let url = server.url("/m.gguf").absoluteString
        let error = await failure { () throws(StoreError) in try await store.pull(url) }
        #expect(error == .remoteChanging(url: url))
        #expect(CacheFiles.all(store).isEmpty)
    }

    @Test func somethingThatIsNotAModelIsNotCached() async throws {
        let page = Array("<html>rate limited</html>".utf8)
        let server = try await serve(file: page)
        defer { Task { try await server.shutdown() } }
        let store = store()
        let error = await failure { () throws(StoreError) in try await store.pull(server.url("/m.gguf").absoluteString) }
        guard case .invalidModel = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(CacheFiles.all(store).isEmpty)
    }

    @Test func twoPullsAtOnceDownloadOnce() async throws {
        let server = try await serve(Configuration(bytesPerSecondPerConnection: 40 << 20))
        defer { Task { try await server.shutdown() } }
        let url = server.url("/m.gguf").absoluteString
        let first = store(), second = store()  // two stores on one cache, as two processes would be
        async let a = first.pull(url)
        async let b = second.pull(url)
        let (pathA, pathB) = try await (a, b)
        #expect(pathA == pathB)
        #expect(try contents(pathA) == Self.model)
        // At most a little more than once (a chunk split at the end may have had bytes on the way).
        #expect(server.bytesSent < Self.model.count + Self.model.count / 4, "the file was downloaded twice")
    }

    @Test func anUnwritableCacheKeepsTheModelInMemory() async throws {
        let server = try await serve(Configuration(etag: .sha256))
        defer { Task { try await server.shutdown() } }
        let blocker = scratch.appendingPathComponent("not-a-directory")
        try Data([0]).write(to: blocker)
        let store = store(home: blocker.appendingPathComponent("home"))
        let opened = try await store.open(server.url("/m.gguf").absoluteString)
        #expect(opened.location.hasPrefix("memory:") && opened.entry == nil)
        #expect([UInt8](opened.file.bytes) == Self.model)
        // A pull, whose whole point is the cache, says why it cannot.
        let error = await failure { () throws(StoreError) in try await store.pull(server.url("/m.gguf").absoluteString) }
        guard case .cacheUnwritable = error else { Issue.record("got \(String(describing: error))"); return }
    }

    @Test func theHeaderArrivesBeforeTheRest() async throws {
        let server = try await serve(Configuration(bytesPerSecondPerConnection: 20 << 20))
        defer { Task { try await server.shutdown() } }
        let seen = Mutex<(tensors: Int, at: ContinuousClock.Instant)?>(nil)
        let opened = try await store().open(server.url("/m.gguf").absoluteString) { header in
            seen.withLock { $0 = (header.tensorRanges.count, .now) }
        }
        let done = ContinuousClock.now
        let (tensors, at) = try #require(seen.withLock { $0 })
        #expect(tensors == 13)
        // 46 MB at 8 x 20 MiB/s takes about 0.3 s; the header came at the first 4 MiB.
        #expect(done - at > .milliseconds(100))
        #expect(opened.entry != nil)
    }
}
