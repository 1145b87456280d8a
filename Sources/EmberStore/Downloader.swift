// Downloads one remote file, fast and safely:
//  1. the first 4 MiB come first, over all the connections at once: a probe asks for its share by
//     range, and its answer gives the size, the ETag and a checksum if the server has one; the other
//     connections fetch the rest of those 4 MiB in pieces meanwhile. The header of a GGUF or
//     safetensors file is parsed from them (more is fetched while it is longer);
//  2. the rest is cut into chunks aligned to the header's tensor boundaries (RangePlan) and fetched
//     over up to 8 connections at once, each chunk written at its offset as it streams in; a chunk
//     whose connection breaks resumes where it stopped, with backoff; at the end, a connection with
//     nothing left takes over the back part of the slowest chunk;
//  3. every range request carries If-Range with the probe's ETag: if the file changes on the server
//     mid-way, the answer is the whole new file and the download starts over, cleanly;
//  4. finished chunks are recorded beside the partial file, so a later run resumes an interrupted
//     download; the file is hashed while it lands, and at the end the size, and the sha256 when the
//     server gave one (X-Linked-ETag, an ETag that is a sha256, or a `.sha256` file beside it), are
//     checked before the caller installs it.
// A server without range support gets one plain streamed GET.

import EmberTrace
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
    /// The first request: its share of the file's first `RangePlan.floor` bytes, which all the
    /// connections fetch together (the answer gives the size, and the rest of the start is split).
    var probeSize: Int { RangePlan.floor / max(connections, 1) }
    /// The smallest piece of the file's start given to a connection of its own.
    static let smallestStartPiece = 256 << 10

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

    /// Downloads the source into `destination`. `onHeader` hears, at most once however often the
    /// download restarts, the file's first bytes while the rest downloads (at least its whole header
    /// when it is a GGUF or safetensors file).
    func download(to destination: Destination, name: String, onHeader: OnceCallback) async throws(StoreError) -> Result {
        var restart = 0
        while true {
            do throws(StoreError) {
                return try await attempt(destination, name: name, onHeader: onHeader)
            } catch .remoteChanging(let url) {
                if case let .file(path) = destination { ResumeState.discard(path) }
                restart += 1
                guard restart < Self.restarts else { throw .remoteChanging(url: url) }
            }
        }
    }

    private func attempt(_ destination: Destination, name: String, onHeader: OnceCallback) async throws(StoreError) -> Result {
        let probe = try await firstAnswer(name: name)
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

        do {
            // The start of the file first, over all the connections at once: the header is on the
            // critical path, since the rest is cut along its tensor boundaries.
            let header = try await file.readStart(probe, range: probeRange, connections: connections, done: done)
            onHeader(header)
            let covered = max(RangePlan.floor, header.bytes.count)
            let boundaries = header.tensorRanges.map(\.lowerBound)
            let queue = ChunkQueue(RangePlan.chunks(missing: RangePlan.missing(size: size, done: done + [0 ..< covered]), size: size,
                                                    connections: connections, boundaries: boundaries),
                                   boundaries: boundaries)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for connection in 0 ..< max(connections, 1) {
                    group.addTask {
                        try await Trace.withTrack("download connection \(connection + 1)") { try await file.fetchAll(from: queue) }
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

    /// The answer to the first request (the probe). Until it comes there is no progress to show, so
    /// a heartbeat says what is awaited.
    private func firstAnswer(name: String) async throws(StoreError) -> HTTPSource.Response {
        let host = source.url.host ?? "the server"
        let heartbeat = style.isQuiet ? nil : Heartbeat("download \(name)", progress: { "waiting for \(host) to answer" })
        defer { heartbeat?.stop() }
        return try await source.get(range: 0 ..< probeSize)
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
                return true
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
        let actual = Trace.span("download.verify") { digest.finish() }
        guard actual == expected else { throw .checksumMismatch(source: source.url.absoluteString, expected: expected, actual: actual) }
    }

    /// The sha256 in a `.sha256` file beside the source, if the server has one.
    private func sidecarChecksum() async -> String? {
        var policy = source.policy
        policy.attempts = 2  // an optional file: one retry
        guard let url = URL(string: source.url.absoluteString + ".sha256"),
              let response = try? await HTTPSource(url: url, token: source.token, policy: policy).get(),
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

    /// Fetches chunks from `queue` into the sink, recording each, until none is left.
    func fetchAll(from queue: ChunkQueue) async throws(StoreError) {
        while true {
            let chunk: ChunkQueue.Chunk
            switch queue.next() {
            case let .fetch(next): chunk = next
            case .wait:
                try? await Task.sleep(for: ChunkQueue.pollInterval)
                guard !Task.isCancelled else { throw .network(url: source.url.absoluteString, reason: "cancelled") }
                continue
            case .finished: return
            }
            let span = Trace.begin("download.chunk")
            try await source.fetch(chunk.range, of: size, from: location, etag: etag) { (bytes, offset) throws(StoreError) in
                // The chunk may have been split meanwhile: only the bytes before its end are still its own.
                let (kept, more) = queue.advance(chunk.id, past: offset, by: bytes.count)
                if kept > 0 { try land(UnsafeRawBufferPointer(rebasing: bytes[0 ..< kept]), at: offset) }
                return more
            }
            let done = queue.finish(chunk.id)
            try resume?.record([done])
            span?.end(args: ["offset": .int(done.lowerBound), "bytes": .int(done.count), "asked": .int(chunk.range.count)])
        }
    }

    private func land(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(StoreError) {
        try sink.write(bytes, at: offset)
        digest.landed(offset ..< offset + bytes.count)
        progress.add(bytes.count)
    }

    /// Fetches the first `RangePlan.floor` bytes (or the whole file, if smaller) over `connections`
    /// connections at once, the probe's body (its first part) among them, skipping what `done` holds;
    /// then parses the header from them, reading on while it is longer.
    func readStart(_ probe: HTTPSource.Response, range probeRange: Range<Int>, connections: Int,
                   done: [Range<Int>]) async throws -> ModelHeader {
        let start = min(size, RangePlan.floor)
        let rest = RangePlan.missing(size: start, done: done + [probeRange])
        let pieces = rest.flatMap { gap in
            let count = max(1, min(connections - 1, gap.count / Downloader.smallestStartPiece))
            return (0 ..< count).map { gap.lowerBound + gap.count * $0 / count ..< gap.lowerBound + gap.count * ($0 + 1) / count }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await Trace.withTrack("download connection 1") {
                    try await Trace.span("download.probe", args: ["bytes": .int(probeRange.count)]) { try await streamProbe(probe, range: probeRange) }
                }
            }
            for (index, piece) in pieces.enumerated() {
                group.addTask {
                    try await Trace.withTrack("download connection \(index + 2)") {
                        try await Trace.span("download.start", args: ["offset": .int(piece.lowerBound), "bytes": .int(piece.count)]) { try await fetch(piece) }
                    }
                }
            }
            try await group.waitForAll()
        }
        var length = start
        while true {
            let prefix = [UInt8](UnsafeRawBufferPointer(rebasing: sink.contents[0 ..< length]))
            if let header = Trace.span("download.parse_header", args: ["bytes": .int(length)], { ModelHeader.parse(prefix, fileSize: size) }) {
                return header
            }
            guard length < min(size, Downloader.headerLimit) else { return ModelHeader(bytes: prefix, fileSize: size, format: .unknown) }
            let more = length ..< min(size, 2 * length, Downloader.headerLimit)
            try await fetch(more)
            length = more.upperBound
        }
    }

    /// Lands the probe's body (`range`); a body that breaks off is asked for again from where it stopped.
    private func streamProbe(_ probe: HTTPSource.Response, range: Range<Int>) async throws(StoreError) {
        var position = range.lowerBound
        do {
            try await probe.stream(from: &position, to: range.upperBound, url: source.url) { (bytes, offset) throws(StoreError) in
                try land(bytes, at: offset)
                return true
            }
        } catch let error as StoreError {
            throw error
        } catch {
            // The body broke off: the rest of the probe's range is asked for again below.
            source.announceResume(after: error, at: position)
        }
        if position < range.upperBound { try await fetch(position ..< range.upperBound) }
        else { try resume?.record([range]) }
    }

    /// Fetches `range` in one request (resumed if it breaks) and records it.
    private func fetch(_ range: Range<Int>) async throws(StoreError) {
        try await source.fetch(range, of: size, from: location, etag: etag) { (bytes, offset) throws(StoreError) in
            try land(bytes, at: offset)
            return true
        }
        try resume?.record([range])
    }
}

/// The chunks of a download, shared by its connections. A connection takes the next planned chunk;
/// when none is left, it takes the back part of the chunk in flight with the most bytes to go
/// (`RangePlan.split`), whose connection then stops at the cut, so that all the connections finish
/// together instead of waiting on the slowest.
final class ChunkQueue: Sendable {
    struct Chunk {
        let id: Int
        let range: Range<Int>
    }

    private struct InFlight {
        let start: Int
        /// How far its bytes have come.
        var position: Int
        /// Lowered when the chunk is split.
        var end: Int
        let requested = ContinuousClock.now
        var firstByte: ContinuousClock.Instant?

        /// Whether handing half the rest to a second request saves time. At the rate the bytes come,
        /// the rest takes `rest`; split, it takes the new request's latency (the first byte's wait)
        /// plus half of it: a gain when the rest is longer than twice the latency. Only a rest three
        /// times the latency and at least `minimumWait` is split: on a fast link a split saves nothing
        /// and wastes what the server has already sent.
        func worthSplitting(now: ContinuousClock.Instant) -> Bool {
            guard let firstByte, position > start else { return false }
            let latency = firstByte - requested
            let rest = (now - firstByte) * (Double(end - position) / Double(position - start))
            return rest > max(ChunkQueue.minimumWait, latency * 3)
        }
    }
    static let minimumWait = Duration.milliseconds(30)

    private struct State {
        var planned: ArraySlice<Range<Int>>
        var inFlight: [Int: InFlight] = [:]
        var nextID = 0
    }

    private let state: Mutex<State>
    private let boundaries: [Int]

    init(_ chunks: [Range<Int>], boundaries: [Int]) {
        state = Mutex(State(planned: chunks[...]))
        self.boundaries = boundaries
    }

    enum Next {
        case fetch(Chunk)
        /// Nothing to take now, but a chunk in flight may become worth splitting: ask again shortly.
        case wait
        case finished
    }

    /// How long a connection with nothing to take waits before it asks again.
    static let pollInterval = Duration.milliseconds(10)

    /// The next chunk to fetch: a planned one, else the back part of the chunk in flight with the
    /// most bytes to go when splitting it saves time.
    func next() -> Next {
        state.withLock { state in
            var range = state.planned.popFirst()
            if range == nil {
                guard let (victim, flight) = state.inFlight.max(by: { $0.value.end - $0.value.position < $1.value.end - $1.value.position }),
                      let cut = RangePlan.split(flight.position ..< flight.end, boundaries: boundaries) else { return .finished }
                guard flight.worthSplitting(now: .now) else { return .wait }
                state.inFlight[victim]!.end = cut
                range = cut ..< flight.end
            }
            guard let range else { return .finished }
            defer { state.nextID += 1 }
            state.inFlight[state.nextID] = InFlight(start: range.lowerBound, position: range.lowerBound, end: range.upperBound)
            return .fetch(Chunk(id: state.nextID, range: range))
        }
    }

    /// Chunk `id` received `count` bytes at `offset`: how many of them are still its own (those before
    /// its end), and whether it wants more.
    func advance(_ id: Int, past offset: Int, by count: Int) -> (kept: Int, more: Bool) {
        state.withLock { state in
            let end = state.inFlight[id]!.end
            let kept = max(0, min(count, end - offset))
            state.inFlight[id]!.position = offset + kept
            if state.inFlight[id]!.firstByte == nil { state.inFlight[id]!.firstByte = .now }
            return (kept, offset + kept < end)
        }
    }

    /// Chunk `id` is whole: the range it covered.
    func finish(_ id: Int) -> Range<Int> {
        state.withLock { state in
            let flight = state.inFlight.removeValue(forKey: id)!
            return flight.start ..< flight.end
        }
    }
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
        unlink(path + ".json.tmp")
    }
}
