// A file on an HTTP server read lazily, by offset and length, over range requests: the engine of
// `ember inspect URL`, which fetches only the header, and of any reader that wants parts of a model
// without downloading all of it.
//
// Each file keeps a prefetch state: a forward buffer (the bytes of the latest fetch, which the probe's
// bytes seed) and at most one speculative fetch in flight. Every fetch asks for at least the fetch-size
// floor, so that small sequential reads cost one request per 4 MiB rather than one each. When a read
// passes 75% of a tensor of at least 4 MiB, the next tensor is fetched ahead, on its own connection.
// The lock is held only to plan a read and to store what arrived, never across network I/O, so
// concurrent readers fetch in parallel; a buffer is stored together with its offset, as one value, so
// that no interleaving of stores can pair bytes with the wrong place in the file.

import Foundation
import Synchronization

public final class RemoteFile: Sendable {
    /// The URL as given (named in errors).
    public let url: URL
    public let size: Int
    /// The strong ETag: later requests carry it in If-Range, so a file that changes is noticed.
    public let etag: String?
    /// The sha256 the server gave for the whole file, if any.
    public let sha256: String?
    let source: HTTPSource
    /// Where the probe's redirects led; later requests go there directly.
    let location: URL
    /// Whether reads trigger speculative fetches of the next tensor.
    let prefetches: Bool

    /// Smallest fetch: below this a request is mostly latency.
    public static let fetchFloor = RangePlan.floor
    /// Tensors at least this big trigger a speculative fetch of the next one.
    static let speculationMinimum = 4 << 20
    /// Most bytes one speculative fetch asks for.
    static let speculationLimit = RangePlan.ceiling

    private let state: Mutex<PrefetchState>
    private let received = Atomic<Int>(0)
    private let requestCount = Atomic<Int>(0)

    /// Opens the file at `url`, reading its first 4 MiB (the probe, whose bytes seed the buffer).
    /// `token` goes to `url`'s host as a bearer token.
    public static func open(url: URL, token: String?, prefetches: Bool = true,
                            policy: NetworkPolicy = NetworkPolicy()) async throws(StoreError) -> RemoteFile {
        let source = HTTPSource(url: url, token: token, policy: policy)
        let response = try await source.get(range: 0 ..< fetchFloor)
        guard response.status == 206 else { throw .noRangeSupport(url: url.absoluteString) }
        guard let (range, size) = response.contentRange, range.lowerBound == 0, range.upperBound <= size else {
            throw .badResponse(url: url.absoluteString, reason: "a 206 answer without a valid Content-Range")
        }
        let file = RemoteFile(source: source, location: response.finalURL, size: size, etag: response.strongETag,
                              sha256: response.sha256, prefetches: prefetches)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(range.count)
        var position = 0
        do {
            try await response.stream(from: &position, to: range.upperBound, url: url) { chunk, _ in
                bytes.append(contentsOf: chunk)
                return true
            }
        } catch let error as StoreError {
            throw error
        } catch {
            // The body broke off: what came stays, the rest is asked for again.
            source.announceResume(after: error, at: position)
        }
        if position < range.upperBound {
            try await source.fetch(position ..< range.upperBound, of: size, from: response.finalURL, etag: file.etag) { chunk, _ in
                bytes.append(contentsOf: chunk)
                return true
            }
        }
        file.requestCount.add(1, ordering: .relaxed)
        file.received.add(bytes.count, ordering: .relaxed)
        file.state.withLock { $0.buffer = Buffer(offset: 0, bytes: bytes) }
        return file
    }

    private init(source: HTTPSource, location: URL, size: Int, etag: String?, sha256: String?, prefetches: Bool) {
        url = source.url
        self.source = source
        self.location = location
        self.size = size
        self.etag = etag
        self.sha256 = sha256
        self.prefetches = prefetches
        state = Mutex(PrefetchState())
    }

    /// Bytes received from the server so far, speculative fetches included.
    public var bytesFetched: Int { received.load(ordering: .relaxed) }
    /// Range requests made so far, the probe included.
    public var requests: Int { requestCount.load(ordering: .relaxed) }

    /// The bytes `range` of the file.
    public func read(_ range: Range<Int>) async throws(StoreError) -> [UInt8] {
        precondition(range.lowerBound >= 0 && range.upperBound <= size, "a read past the end of \(url)")
        guard !range.isEmpty else { return [] }
        let bytes: [UInt8]
        switch state.withLock({ $0.plan(range, fileSize: size) }) {
        case let .copy(buffer):
            bytes = buffer.slice(range)
        case let .await(task):
            if let buffer = try? await task.value {
                bytes = buffer.slice(range)
            } else {
                bytes = try await fetchAndStore(range.lowerBound ..< min(size, max(range.upperBound, range.lowerBound + Self.fetchFloor)),
                                                keeping: nil).slice(range)
            }
        case let .stitch(buffer, task):
            if let later = try? await task.value {
                bytes = buffer.slice(range.lowerBound ..< buffer.range.upperBound) + later.slice(buffer.range.upperBound ..< range.upperBound)
                state.withLock { $0.buffer = later }
            } else {
                bytes = try await fetchAndStore(range.lowerBound ..< min(size, max(range.upperBound, range.lowerBound + Self.fetchFloor)),
                                                keeping: nil).slice(range)
            }
        case let .extend(buffer, fetch):
            bytes = try await fetchAndStore(fetch, keeping: (buffer, range.lowerBound)).slice(range)
        case let .fetch(fetch):
            bytes = try await fetchAndStore(fetch, keeping: nil).slice(range)
        }
        speculate(after: range)
        return bytes
    }

    /// Reads the start of the file until its GGUF or safetensors header is whole, and from then on
    /// prefetches along its tensors.
    public func header() async throws(StoreError) -> ModelHeader {
        var bytes = try await read(0 ..< min(size, Self.fetchFloor))
        while true {
            if let header = ModelHeader.parse(bytes, fileSize: size) {
                let tensors = header.tensorRanges
                state.withLock { $0.tensors = tensors }
                return header
            }
            guard bytes.count < min(size, Downloader.headerLimit) else {
                return ModelHeader(bytes: bytes, fileSize: size, format: .unknown)
            }
            bytes += try await read(bytes.count ..< min(size, 2 * bytes.count, Downloader.headerLimit))
        }
    }

    /// Fetches `range` and makes it the forward buffer; with `keeping`, the part of an earlier buffer
    /// from the given offset on goes in front of it (a read that ran past that buffer's end).
    private func fetchAndStore(_ range: Range<Int>, keeping: (buffer: Buffer, from: Int)?) async throws(StoreError) -> Buffer {
        var fetched = try await fetch(range)
        if let (earlier, from) = keeping {
            fetched = Buffer(offset: from, bytes: earlier.slice(from ..< earlier.range.upperBound) + fetched.bytes)
        }
        let buffer = fetched
        state.withLock { $0.buffer = buffer }
        return buffer
    }

    private func fetch(_ range: Range<Int>) async throws(StoreError) -> Buffer {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(range.count)
        requestCount.add(1, ordering: .relaxed)
        try await source.fetch(range, of: size, from: location, etag: etag) { chunk, _ in
            bytes.append(contentsOf: chunk)
            return true
        }
        received.add(bytes.count, ordering: .relaxed)
        return Buffer(offset: range.lowerBound, bytes: bytes)
    }

    /// Starts fetching the tensor after the one a read ended in, if the read passed 75% of a big
    /// tensor and no speculative fetch is in flight.
    private func speculate(after range: Range<Int>) {
        guard prefetches else { return }
        state.withLock { state in
            guard state.speculative?.landed ?? true, let next = state.speculationTarget(after: range, fileSize: size) else { return }
            let id = state.nextSpeculation
            state.nextSpeculation += 1
            let task = Task { [self] () throws -> Buffer in
                defer { self.state.withLock { if $0.speculative?.id == id { $0.speculative?.landed = true } } }
                return try await self.fetch(next)
            }
            state.speculative = Speculation(id: id, range: next, task: task)
        }
    }
}

/// Bytes of a remote file from `offset` on.
struct Buffer: Sendable {
    let offset: Int
    let bytes: [UInt8]

    var range: Range<Int> { offset ..< offset + bytes.count }

    func slice(_ wanted: Range<Int>) -> [UInt8] {
        Array(bytes[wanted.lowerBound - offset ..< wanted.upperBound - offset])
    }
}

/// A fetch started ahead of the reads that will want it.
struct Speculation: Sendable {
    let id: Int
    let range: Range<Int>
    let task: Task<Buffer, any Error>
    var landed = false
}

/// What a remote file has fetched, or is fetching, ahead of its reads.
struct PrefetchState {
    var buffer: Buffer?
    var speculative: Speculation?
    var nextSpeculation = 0
    /// The tensors' byte ranges in file order, once the header is known.
    var tensors: [Range<Int>] = []

    enum Plan {
        case copy(Buffer)
        case await(Task<Buffer, any Error>)
        /// The read starts in the buffer and ends in the speculative fetch that continues it.
        case stitch(Buffer, Task<Buffer, any Error>)
        /// The read starts in the buffer and runs past it: fetch from the buffer's end.
        case extend(Buffer, fetch: Range<Int>)
        case fetch(Range<Int>)
    }

    func plan(_ range: Range<Int>, fileSize: Int) -> Plan {
        if let buffer, buffer.range.covers(range) { return .copy(buffer) }
        if let speculative, speculative.range.covers(range) { return .await(speculative.task) }
        if let buffer, buffer.range.contains(range.lowerBound) {
            let end = buffer.range.upperBound
            if let speculative, speculative.range.contains(end), speculative.range.upperBound >= range.upperBound {
                return .stitch(buffer, speculative.task)
            }
            return .extend(buffer, fetch: end ..< min(fileSize, max(range.upperBound, end + RemoteFile.fetchFloor)))
        }
        return .fetch(range.lowerBound ..< min(fileSize, max(range.upperBound, range.lowerBound + RemoteFile.fetchFloor)))
    }

    /// The range to fetch ahead after a read of `range`: the next tensor (at least the fetch floor, at
    /// most the speculation limit), when the read passed 75% of a tensor of at least 4 MiB and that
    /// next tensor is not already at hand.
    func speculationTarget(after range: Range<Int>, fileSize: Int) -> Range<Int>? {
        let end = range.upperBound
        var low = 0, high = tensors.count
        while low < high {
            let middle = (low + high) / 2
            if tensors[middle].upperBound < end { low = middle + 1 } else { high = middle }
        }
        guard low + 1 < tensors.count else { return nil }
        let tensor = tensors[low]
        guard tensor.contains(end - 1), tensor.count >= RemoteFile.speculationMinimum,
              (end - tensor.lowerBound) * 4 >= tensor.count * 3 else { return nil }
        let next = tensors[low + 1]
        let stop = min(fileSize, next.lowerBound + min(max(next.count, RemoteFile.fetchFloor), RemoteFile.speculationLimit))
        // What the buffer already holds of it is not fetched again.
        let start = buffer.map { $0.range.contains(next.lowerBound) ? $0.range.upperBound : next.lowerBound } ?? next.lowerBound
        guard start < stop else { return nil }
        if let speculative, speculative.range.covers(start ..< stop) { return nil }
        return start ..< stop
    }
}

extension Range<Int> {
    func covers(_ other: Range<Int>) -> Bool { other.lowerBound >= lowerBound && other.upperBound <= upperBound }
}
