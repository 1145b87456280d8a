// Downloads one remote file, fast and safely:
//  1. a probe asks for the first 4 MiB by range: the answer gives the size, the ETag and a checksum
//     if the server has one; as the probe's body streams in, the start of the file is parsed, and the
//     moment a GGUF or safetensors header is whole (more is fetched if it is longer than the probe),
//     its tensor boundaries plan the rest while the probe's body goes on arriving;
//  2. the rest is cut into chunks aligned to those boundaries (RangePlan) and fetched over up to 8
//     connections at once, each chunk written at its offset as it streams in; a chunk whose
//     connection breaks resumes where it stopped, with backoff;
//  3. every range request carries If-Range with the probe's ETag: if the file changes on the server
//     mid-way, the answer is the whole new file and the download starts over, cleanly;
//  4. finished chunks are recorded beside the partial file, so a later run resumes an interrupted
//     download; the file is hashed while it lands, and at the end the size, and the sha256 when the
//     server gave one (X-Linked-ETag, an ETag that is a sha256, or a `.sha256` file beside it), are
//     checked before the caller installs it.
// A server without range support gets one plain streamed GET.

import Foundation
import Synchronization

struct Downloader: Sendable {
    let source: HTTPSource
    var connections = 8
    var style: ProgressStyle = .automatic

    /// Fresh starts allowed when the remote file changes during the download.
    static let restarts = 3
    /// How far into the file a header may reach.
    static let headerLimit = 64 << 20

    enum Destination: Sendable {
        /// A file (the cache entry's partial file); its resume state is kept at `path + ".json"`.
        case file(path: String)
        case memory
    }

    struct Result: Sendable {
        let sink: any DownloadSink
        let etag: String?
        /// The verified sha256, when the server gave one.
        let sha256: String?
    }

    /// Downloads the source into `destination`. `onHeader` is called once, while the rest downloads,
    /// with the file's first bytes (at least its whole header when it is a GGUF or safetensors file).
    func download(to destination: Destination, name: String,
                  onHeader: (@Sendable (ModelHeader) -> Void)? = nil) async throws(StoreError) -> Result {
        let once = OnceCallback(onHeader)
        var restart = 0
        while true {
            do throws(StoreError) {
                return try await attempt(destination, name: name, onHeader: once)
            } catch .remoteChanging(let url) {
                if case let .file(path) = destination { ResumeState.discard(path) }
                restart += 1
                guard restart < Self.restarts else { throw .remoteChanging(url: url) }
            }
        }
    }

    private func attempt(_ destination: Destination, name: String, onHeader: OnceCallback) async throws(StoreError) -> Result {
        let probe = try await source.get(range: 0 ..< RangePlan.floor)
        guard probe.status == 206 else {
            return try await wholeFile(probe, destination: destination, name: name)
        }
        let url = source.url.absoluteString
        guard let (probeRange, size) = probe.contentRange, probeRange.lowerBound == 0, probeRange.upperBound <= size else {
            throw .badResponse(url: url, reason: "a 206 answer without a valid Content-Range")
        }
        let etag = probe.strongETag

        // A resumable earlier attempt: same source, size and strong ETag.
        var done: [Range<Int>] = []
        let sink: any DownloadSink
        let resume: ResumeLog?
        switch destination {
        case let .file(path):
            let previous = ResumeState.load(path + ".json")
            let keep = etag != nil && previous?.source == url && previous?.size == size && previous?.etag == etag
            if keep, let previous { done = previous.ranges }
            sink = try FileSink(path: path, size: size, keep: keep)
            resume = etag.map {
                ResumeLog(path: path + ".json", state: ResumeState(source: url, size: size, etag: $0, completed: done.map { [$0.lowerBound, $0.upperBound] }))
            }
        case .memory:
            sink = MemorySink(size: size)
            resume = nil
        }
        let digest = ProgressiveDigest(of: sink)
        defer { digest.cancel() }
        for range in done { digest.landed(range) }
        let progress = DownloadProgress(name: name, total: size, alreadyDone: RangePlan.covered(size: size, done: done), style: style)
        let file = Fetch(source: source, location: probe.finalURL, size: size, etag: etag, sink: sink, progress: progress,
                         digest: digest, resume: resume)

        let headers = AsyncStream<ModelHeader>.makeStream()
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    defer { headers.continuation.finish() }
                    try await file.readStart(probe, range: probeRange) { headers.continuation.yield($0) }
                }
                // The rest waits for the header only, not for the whole probe.
                var iterator = headers.stream.makeAsyncIterator()
                guard let header = await iterator.next() else { return try await group.waitForAll() }
                onHeader(header)
                let covered = max(probeRange.upperBound, header.bytes.count)
                let chunks = RangePlan.chunks(missing: RangePlan.missing(size: size, done: done + [0 ..< covered]), size: size,
                                              connections: connections, boundaries: header.tensorRanges.map(\.lowerBound))
                let queue = ChunkQueue(chunks)
                for _ in 0 ..< min(connections, chunks.count) {
                    group.addTask {
                        while let chunk = queue.next() { try await file.fetch(chunk) }
                    }
                }
                try await group.waitForAll()
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw .network(url: url, reason: "\(error)")
        }
        progress.finish()

        let checksum: String? = if let given = probe.sha256 { given } else { await sidecarChecksum() }
        try verify(digest, against: checksum)
        return Result(sink: sink, etag: etag, sha256: checksum)
    }

    /// A server that answered the probe with the whole file: stream it.
    private func wholeFile(_ response: HTTPSource.Response, destination: Destination, name: String) async throws(StoreError) -> Result {
        let url = source.url.absoluteString
        guard let length = response.response.headers.first(name: "Content-Length").flatMap(Int.init) else {
            throw .badResponse(url: url, reason: "no range support and no Content-Length, so the size is unknown")
        }
        let sink: any DownloadSink
        switch destination {
        case let .file(path):
            ResumeState.discard(path)
            sink = try FileSink(path: path, size: length, keep: false)
        case .memory: sink = MemorySink(size: length)
        }
        let digest = ProgressiveDigest(of: sink)
        defer { digest.cancel() }
        let progress = DownloadProgress(name: name, total: length, alreadyDone: 0, style: style)
        var position = 0
        do {
            try await response.stream(from: &position, to: length, url: source.url) { (bytes, offset) throws(StoreError) in
                try sink.write(bytes, at: offset)
                digest.landed(offset ..< offset + bytes.count)
                progress.add(bytes.count)
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw .network(url: url, reason: "the connection broke after \(position) of \(length) bytes (\(error)), and this server cannot resume")
        }
        guard position == length else {
            throw .badResponse(url: url, reason: "Content-Length \(length), but the body ended after \(position) bytes")
        }
        progress.finish()
        let checksum: String? = if let given = response.sha256 { given } else { await sidecarChecksum() }
        try verify(digest, against: checksum)
        return Result(sink: sink, etag: response.strongETag, sha256: checksum)
    }

    private func verify(_ digest: ProgressiveDigest, against checksum: String?) throws(StoreError) {
        guard let expected = checksum else { return }
        let actual = digest.finish()
        guard actual == expected else { throw .checksumMismatch(source: source.url.absoluteString, expected: expected, actual: actual) }
    }

    /// The sha256 in a `.sha256` file beside the source, if the server has one.
    private func sidecarChecksum() async -> String? {
        guard let url = URL(string: source.url.absoluteString + ".sha256"),
              let response = try? await HTTPSource(url: url, token: source.token, attempts: 2).get(),
              let body = try? await response.response.body.collect(upTo: 4096) else { return nil }
        let text = String(buffer: body).split(whereSeparator: \.isWhitespace).first.map(String.init) ?? ""
        return text.count == 64 && text.allSatisfy(\.isHexDigit) ? text.lowercased() : nil
    }
}

/// One ranged download in progress: where its bytes come from and everything that hears of them.
struct Fetch: Sendable {
    let source: HTTPSource
    let location: URL
    let size: Int
    let etag: String?
    let sink: any DownloadSink
    let progress: DownloadProgress
    let digest: ProgressiveDigest
    let resume: ResumeLog?

    /// Fetches `range` into the sink and records it.
    func fetch(_ range: Range<Int>) async throws(StoreError) {
        try await source.fetch(range, of: size, from: location, etag: etag) { (bytes, offset) throws(StoreError) in
            try land(bytes, at: offset)
        }
        try resume?.record([range])
    }

    private func land(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(StoreError) {
        try sink.write(bytes, at: offset)
        digest.landed(offset ..< offset + bytes.count)
        progress.add(bytes.count)
    }

    /// Receives the probe's body (`range` from the start of the file), offering the start of the file
    /// to `header` as it grows, at doubling lengths, until a header parses; a header longer than the
    /// probe is read on. `header` is called once.
    func readStart(_ probe: HTTPSource.Response, range: Range<Int>, header: (ModelHeader) -> Void) async throws(StoreError) {
        var prefix: [UInt8] = []
        var nextTry = 64 << 10
        var found = false
        func grow(_ bytes: UnsafeRawBufferPointer, end: Int) {
            guard !found else { return }
            prefix.append(contentsOf: bytes)
            guard prefix.count >= nextTry || prefix.count >= end else { return }
            nextTry = 2 * prefix.count
            if let parsed = ModelHeader.parse(prefix, fileSize: size) {
                found = true
                header(parsed)
            }
        }
        var position = 0
        do {
            try await probe.stream(from: &position, to: range.upperBound, url: source.url) { (bytes, offset) throws(StoreError) in
                try land(bytes, at: offset)
                grow(bytes, end: range.upperBound)
            }
        } catch let error as StoreError {
            throw error
        } catch {
            // The body broke off: the rest of the probe's range is asked for again below.
        }
        if position < range.upperBound {
            try await source.fetch(position ..< range.upperBound, of: size, from: location, etag: etag) { (bytes, offset) throws(StoreError) in
                try land(bytes, at: offset)
                grow(bytes, end: range.upperBound)
            }
        }
        try resume?.record([range])
        while !found {
            guard prefix.count < min(size, Downloader.headerLimit) else {
                found = true
                header(ModelHeader(bytes: prefix, fileSize: size, format: .unknown))
                break
            }
            let more = prefix.count ..< min(size, 2 * prefix.count, Downloader.headerLimit)
            try await source.fetch(more, of: size, from: location, etag: etag) { (bytes, offset) throws(StoreError) in
                try land(bytes, at: offset)
                grow(bytes, end: more.upperBound)
            }
            try resume?.record([more])
        }
    }
}

/// The chunks still to fetch, taken by the connections one at a time.
final class ChunkQueue: Sendable {
    private let chunks: Mutex<ArraySlice<Range<Int>>>

    init(_ chunks: [Range<Int>]) {
        self.chunks = Mutex(chunks[...])
    }

    func next() -> Range<Int>? { chunks.withLock { $0.popFirst() } }
}

/// A callback that runs at most once, however many download attempts reach it.
final class OnceCallback: Sendable {
    private let callback: Mutex<(@Sendable (ModelHeader) -> Void)?>

    init(_ callback: (@Sendable (ModelHeader) -> Void)?) {
        self.callback = Mutex(callback)
    }

    func callAsFunction(_ header: ModelHeader) {
        let pending = callback.withLock { callback in
            defer { callback = nil }
            return callback
        }
        pending?(header)
    }
}

/// The finished ranges of a file download, saved after each one.
final class ResumeLog: Sendable {
    private let path: String
    private let state: Mutex<ResumeState>

    init(path: String, state: ResumeState) {
        self.path = path
        self.state = Mutex(state)
    }

    /// Adds `ranges` and saves, under the lock: saves never overtake one another, so the file on
    /// disk always holds every range recorded before it.
    func record(_ ranges: [Range<Int>]) throws(StoreError) {
        try state.withLock { (state: inout ResumeState) throws(StoreError) in
            state.completed += ranges.filter { !$0.isEmpty }.map { [$0.lowerBound, $0.upperBound] }
            try state.save(path)
        }
    }
}

extension ResumeState {
    /// Removes a download's partial file and its state.
    static func discard(_ path: String) {
        unlink(path)
        unlink(path + ".json")
    }
}
