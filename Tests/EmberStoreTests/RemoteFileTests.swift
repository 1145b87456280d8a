// RemoteFile: reads by offset and length over range requests, a header read that fetches no more
// than it needs, concurrent readers that get the right bytes, the probe's bytes seeding the forward
// buffer, and the speculative fetch of the next tensor, along a GGUF's tensors and a safetensors file's.

import EmberStore
import EmberTestServer
import EmberTestSupport
import Foundation
import Testing

@Suite struct RemoteFileTests {
    /// Tensors of 8 MiB, big enough to trigger prefetching.
    static let model = SyntheticModel.gguf(tensorBytes: Array(repeating: 8 << 20, count: 6))

    func serve(_ file: [UInt8] = model, configuration: Configuration = .init()) async throws -> TestFileServer {
        try await TestFileServer.start(files: ["/m.gguf": file], configuration: configuration)
    }

    @Test func theHeaderCostsOneRequest() async throws {
        let server = try await serve()
        defer { Task { try await server.shutdown() } }
        let file = try await RemoteFile.open(url: server.url("/m.gguf"), token: nil)
        let header = try await file.header()
        guard case let .gguf(gguf) = header.format else { Issue.record("not parsed as GGUF"); return }
        #expect(gguf.tensors.count == 6 && gguf.fileSize == Self.model.count)
        #expect(file.requests == 1 && file.bytesFetched == RemoteFile.fetchFloor)
    }

    @Test func aLongHeaderIsReadUntilItEnds() async throws {
        let model = SyntheticModel.gguf(tensorBytes: [1 << 20, 1 << 20], metadataBytes: 9 << 20)
        let server = try await serve(model)
        defer { Task { try await server.shutdown() } }
        let file = try await RemoteFile.open(url: server.url("/m.gguf"), token: nil)
        let header = try await file.header()
        guard case let .gguf(gguf) = header.format else { Issue.record("not parsed as GGUF"); return }
        #expect(gguf.metadata["synthetic.filler"]?.stringValue?.count == 9 << 20)
        #expect(header.bytes == Array(model[0 ..< header.bytes.count]))
        // 4 MiB, then 4 more, then up to 16: never the whole file.
        #expect(file.bytesFetched <= 16 << 20 && file.bytesFetched >= gguf.dataSectionOffset)
    }

    @Test func concurrentReadersGetTheRightBytes() async throws {
        let server = try await serve(configuration: Configuration(latency: .milliseconds(5)))
        defer { Task { try await server.shutdown() } }
        let file = try await RemoteFile.open(url: server.url("/m.gguf"), token: nil)
        _ = try await file.header()
        let size = Self.model.count
        try await withThrowingTaskGroup(of: Void.self) { group in
            for reader in 0 ..< 8 {
                group.addTask {
                    var state = UInt64(reader + 1) &* 0x9E37_79B9_7F4A_7C15
                    for _ in 0 ..< 12 {
                        state = state &* 6_364_136_223_846_793_005 &+ 1
                        let start = Int(state >> 33) % size
                        let length = min(size - start, 1 + Int(state >> 40) % (3 << 20))
                        let bytes = try await file.read(start ..< start + length)
                        #expect(bytes == Array(Self.model[start ..< start + length]), "reader \(reader) at \(start)")
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    @Test func theProbeSeedsTheBuffer() async throws {
        let server = try await serve()
        defer { Task { try await server.shutdown() } }
        let file = try await RemoteFile.open(url: server.url("/m.gguf"), token: nil, prefetches: false)
        for start in stride(from: 0, to: RemoteFile.fetchFloor - 4096, by: 100_000) {
            #expect(try await file.read(start ..< start + 4096) == Array(Self.model[start ..< start + 4096]))
        }
        #expect(file.requests == 1)
        // Reading on past the buffer fetches only from its end, at least the fetch floor.
        _ = try await file.read(RemoteFile.fetchFloor - 10 ..< RemoteFile.fetchFloor + 10)
        #expect(server.requests.last?.range == RemoteFile.fetchFloor ..< 2 * RemoteFile.fetchFloor)
    }

    /// The same tensors as a safetensors file.
    static let safetensorsModel = SyntheticModel.safetensors(tensorBytes: Array(repeating: 8 << 20, count: 6))

    @Test(arguments: ["gguf", "safetensors"])
    func readingMostOfATensorFetchesTheNextAhead(format: String) async throws {
        let model = format == "gguf" ? Self.model : Self.safetensorsModel
        let server = try await serve(model)
        defer { Task { try await server.shutdown() } }
        let file = try await RemoteFile.open(url: server.url("/m.gguf"), token: nil)
        let header = try await file.header()
        if case .unknown = header.format { Issue.record("the \(format) header was not parsed") }
        let tensors = header.tensorRanges
        #expect(tensors.count == 6)
        let (first, second) = (tensors[1], tensors[2])
        // Read tensor 1 front to back in 1 MiB pieces, as a loader would.
        for start in stride(from: first.lowerBound, to: first.upperBound, by: 1 << 20) {
            _ = try await file.read(start ..< min(start + (1 << 20), first.upperBound))
        }
        // The speculative fetch runs in a task of its own: give it time to start (generously: other
        // suites running at once can hold up this process's tasks for many seconds).
        let deadline = ContinuousClock.now + .seconds(60)
        while !server.requests.contains(where: { $0.range?.lowerBound == second.lowerBound }), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(server.requests.contains { $0.range?.lowerBound == second.lowerBound }, "no speculative fetch of the next tensor")
        let requestsBefore = file.requests
        #expect(try await file.read(second.lowerBound ..< second.lowerBound + 4096) == Array(model[second.lowerBound ..< second.lowerBound + 4096]))
        #expect(file.requests == requestsBefore, "the prefetched tensor was fetched again")
    }

    @Test func noPrefetchWithoutItsSwitch() async throws {
        let server = try await serve()
        defer { Task { try await server.shutdown() } }
        let file = try await RemoteFile.open(url: server.url("/m.gguf"), token: nil, prefetches: false)
        let tensors = try await file.header().tensorRanges
        _ = try await file.read(tensors[1])
        #expect(!server.requests.contains { $0.range?.lowerBound == tensors[2].lowerBound })
    }

    @Test func aFileThatChangesIsAClearError() async throws {
        let server = try await serve()
        defer { Task { try await server.shutdown() } }
        let file = try await RemoteFile.open(url: server.url("/m.gguf"), token: nil)
        server.setFile("/m.gguf", SyntheticModel.gguf(tensorBytes: [1 << 20], seed: 9))
        await #expect(throws: StoreError.remoteChanging(url: server.url("/m.gguf").absoluteString)) {
            _ = try await file.read(20 << 20 ..< (20 << 20) + 10)
        }
    }

    @Test func aServerWithoutRangesCannotBeReadInParts() async throws {
        let server = try await serve(configuration: Configuration(supportsRanges: false))
        defer { Task { try await server.shutdown() } }
        await #expect(throws: StoreError.noRangeSupport(url: server.url("/m.gguf").absoluteString)) {
            _ = try await RemoteFile.open(url: server.url("/m.gguf"), token: nil)
        }
    }
}
