// HTTP GETs of one remote file, whole or by byte range. Redirects are followed here rather than by
// the client so that $HF_TOKEN goes only to the host it was meant for (Hugging Face answers `resolve`
// with a redirect to a signed CDN URL), and so that the headers of the redirect itself (Hugging Face's
// X-Linked-ETag, the file's sha256) are kept. Failures follow the NetworkPolicy: connection failures
// (DNS, refused, unreachable, no answer) are retried only within its connect timeout; stalls, broken
// bodies, 5xx and 429 up to its attempts; each retry is announced on stderr and in the trace; 4xx are
// final.

import AsyncHTTPClient
import EmberTrace
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// The process's HTTP clients, one per pair of timeouts (in practice one): never shut down, up to
/// 16 connections per host. A failed connection comes back at once (the client does not retry it on
/// its own until its deadline), so that HTTPSource can say what failed and decide.
enum HTTPClients {
    private struct Key: Hashable {
        let connect: Duration
        let stall: Duration
    }
    private static let clients = Mutex<[Key: HTTPClient]>([:])

    static func client(for policy: NetworkPolicy) -> HTTPClient {
        let key = Key(connect: policy.connectTimeout, stall: policy.stallTimeout)
        return clients.withLock { clients in
            if let client = clients[key] { return client }
            var configuration = HTTPClient.Configuration(
                redirectConfiguration: .disallow,
                timeout: .init(connect: .nanoseconds(key.connect.nanoseconds), read: .nanoseconds(key.stall.nanoseconds)))
            configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 16
            configuration.connectionPool.retryConnectionEstablishment = false
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
            clients[key] = client
            return client
        }
    }
}

struct HTTPSource: Sendable {
    /// The URL as given (reported in errors, the cache key's source).
    let url: URL
    /// Sent as `Authorization: Bearer` to `url`'s host only.
    let token: String?
    /// Timeouts, attempts, backoff, and who hears of retries.
    var policy: NetworkPolicy

    /// A response whose body is still to be read, and what its redirects said.
    struct Response: Sendable {
        let response: HTTPClientResponse
        /// Where the body comes from after redirects (later requests go there directly).
        let finalURL: URL
        /// Headers of the redirect responses, lower-cased names (Hugging Face puts checksums there).
        let redirectHeaders: [String: String]

        var status: Int { Int(response.status.code) }

        func header(_ name: String) -> String? {
            response.headers.first(name: name) ?? redirectHeaders[name.lowercased()]
        }
    }

    /// GET `target` (default: `url`), bytes `range` if given, `If-Range: ifRange` if given. Redirects
    /// are followed; 2xx comes back, anything else throws.
    func get(_ target: URL? = nil, range: Range<Int>? = nil, ifRange: String? = nil) async throws(StoreError) -> Response {
        let started = ContinuousClock.now
        var attempt = 1
        while true {
            guard !Task.isCancelled else { throw .network(url: url.absoluteString, reason: "cancelled") }
            do {
                return try await getOnce(target ?? url, range: range, ifRange: ifRange)
            } catch let error as StoreError {
                throw error
            } catch {
                try await retry(after: NetworkFailure(error, url: target ?? url, policy: policy), attempt: &attempt, since: started)
            }
        }
    }

    /// Streams bytes `range` of the `total`-byte file at `location` (where the redirects of an earlier
    /// request led) to `deliver(bytes, offset)`, in order, until it returns false (the rest is not
    /// wanted any more). A body that breaks off or stalls is asked for again from where it stopped,
    /// with backoff. With `etag`, every request carries If-Range: a file that changed on the server
    /// answers with all of itself, and that throws `remoteChanging`.
    func fetch(_ range: Range<Int>, of total: Int, from location: URL, etag: String?,
               deliver: (UnsafeRawBufferPointer, Int) throws(StoreError) -> Bool) async throws(StoreError) {
        var position = range.lowerBound, attempt = 1
        while position < range.upperBound {
            guard !Task.isCancelled else { throw .network(url: url.absoluteString, reason: "cancelled") }
            let response = try await get(location, range: position ..< range.upperBound, ifRange: etag)
            if response.status == 200 { throw .remoteChanging(url: url.absoluteString) }
            guard let answer = response.contentRange, answer.range == position ..< range.upperBound, answer.total == total else {
                throw .badResponse(url: url.absoluteString, reason: "asked for bytes \(position)..<\(range.upperBound) of \(total), got "
                    + (response.response.headers.first(name: "Content-Range").map { "Content-Range \($0)" } ?? "no Content-Range"))
            }
            let started = ContinuousClock.now
            do {
                guard try await response.stream(from: &position, to: range.upperBound, url: url, deliver: deliver) else { return }
                if position < range.upperBound {
                    throw NetworkFailure.bodyEnded(after: position - answer.range.lowerBound, of: answer.range.count)
                }
            } catch let error as StoreError {
                throw error
            } catch {
                try await retry(after: NetworkFailure(error, url: location, policy: policy), attempt: &attempt, since: started)
            }
        }
    }

    /// Waits before the next attempt after `failure`, announcing it, or throws when none is left: a
    /// failure to connect is retried only while the connect timeout since `started` lasts; any other
    /// up to the policy's attempts.
    func retry(after failure: NetworkFailure, attempt: inout Int, since started: ContinuousClock.Instant) async throws(StoreError) {
        let wait = policy.wait(beforeRetry: attempt)
        let elapsed = ContinuousClock.now - started
        let inTime = failure.kind == .transferring || elapsed + wait < policy.connectTimeout
        guard attempt < policy.attempts, inTime else {
            let tries = attempt == 1 ? "" : " (\(attempt) attempts in \(elapsed.secondsText))"
            throw .network(url: url.absoluteString, reason: failure.reason + tries)
        }
        attempt += 1
        policy.announce("\(failure.reason); trying again in \(wait.secondsText) (attempt \(attempt) of \(policy.attempts)): \(url.absoluteString)")
        Trace.instant("network.retry", args: ["url": .string(url.absoluteString), "reason": .string(failure.reason),
                                              "attempt": .int(attempt), "attempts": .int(policy.attempts),
                                              "wait_ms": .int(Int(wait.nanoseconds / 1_000_000))])
        try? await Task.sleep(for: wait)
    }

    /// Says that a body broke off or stalled at `position`, and that the rest is asked for again.
    func announceResume(after error: any Error, at position: Int) {
        let failure = NetworkFailure(error, url: url, policy: policy)
        policy.announce("\(failure.reason); asking for the rest again from byte \(position): \(url.absoluteString)")
        Trace.instant("network.resume", args: ["url": .string(url.absoluteString), "reason": .string(failure.reason), "position": .int(position)])
    }

    private func getOnce(_ start: URL, range: Range<Int>?, ifRange: String?) async throws -> Response {
        var location = start
        var redirectHeaders: [String: String] = [:]
        for _ in 0 ..< 10 {
            var request = HTTPClientRequest(url: location.absoluteString)
            request.method = .GET
            if let range { request.headers.add(name: "Range", value: "bytes=\(range.lowerBound)-\(range.upperBound - 1)") }
            if let ifRange { request.headers.add(name: "If-Range", value: ifRange) }
            if let token, location.host?.lowercased() == url.host?.lowercased() {
                request.headers.add(name: "Authorization", value: "Bearer \(token)")
            }
            request.headers.add(name: "User-Agent", value: "ember")
            // The head must come within the time to connect and one stall.
            let response = try await HTTPClients.client(for: policy)
                .execute(request, timeout: .nanoseconds(policy.connectTimeout.nanoseconds + policy.stallTimeout.nanoseconds))
            let status = Int(response.status.code)
            switch status {
            case 200 ..< 300:
                return Response(response: response, finalURL: location, redirectHeaders: redirectHeaders)
            case 301, 302, 303, 307, 308:
                for (name, value) in response.headers { redirectHeaders[name.lowercased()] = value }
                _ = try? await response.body.collect(upTo: 1 << 16)
                guard let target = response.headers.first(name: "Location").flatMap({ URL(string: $0, relativeTo: location)?.absoluteURL })
                else { throw StoreError.badResponse(url: url.absoluteString, reason: "HTTP \(status) without a usable Location") }
                location = target
            case 500 ..< 600, 429:
                _ = try? await response.body.collect(upTo: 1 << 16)
                throw NetworkFailure.status(status)
            default:
                _ = try? await response.body.collect(upTo: 1 << 16)
                throw StoreError.http(url: url.absoluteString, status: status, authorized: token != nil)
            }
        }
        throw StoreError.badResponse(url: url.absoluteString, reason: "more than 10 redirects")
    }
}

extension HTTPSource.Response {
    /// Hands the body to `deliver(bytes, offset)` from `position` on, advancing `position`, until the
    /// body ends (returns true) or `deliver` returns false (returns false; the connection is dropped).
    /// Bytes past `end` are a lie the server told (a `StoreError`); any other error is the
    /// connection's, and `position` then says how far the body came.
    @discardableResult
    func stream(from position: inout Int, to end: Int, url: URL,
                deliver: (UnsafeRawBufferPointer, Int) throws(StoreError) -> Bool) async throws -> Bool {
        for try await buffer in response.body {
            guard position + buffer.readableBytes <= end else {
                throw StoreError.badResponse(url: url.absoluteString, reason: "more bytes than the \(end - position) announced")
            }
            let more = try buffer.withUnsafeReadableBytes { (bytes: UnsafeRawBufferPointer) throws(StoreError) in try deliver(bytes, position) }
            position += buffer.readableBytes
            // At the end of the range, the body's end is read anyway: the connection then goes back to the pool.
            guard more || position == end else { return false }
        }
        return true
    }

    /// The range and total size of a 206 answer (`Content-Range: bytes a-b/total`).
    var contentRange: (range: Range<Int>, total: Int)? {
        guard let value = response.headers.first(name: "Content-Range"), value.hasPrefix("bytes ") else { return nil }
        let parts = value.dropFirst(6).split(separator: "/")
        guard parts.count == 2, let total = Int(parts[1]) else { return nil }
        let bounds = parts[0].split(separator: "-")
        guard bounds.count == 2, let first = Int(bounds[0]), let last = Int(bounds[1]), first <= last else { return nil }
        return (first ..< last + 1, total)
    }

    /// The strong ETag, usable with If-Range (a weak one is not).
    var strongETag: String? {
        guard let etag = response.headers.first(name: "ETag"), !etag.hasPrefix("W/") else { return nil }
        return etag
    }

    /// A sha256 the server gave for the file: Hugging Face's X-Linked-ETag, or an ETag that is one.
    var sha256: String? {
        for name in ["X-Linked-ETag", "ETag"] {
            guard var value = header(name) else { continue }
            if value.hasPrefix("W/") { value.removeFirst(2) }
            value = value.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            if value.count == 64, value.allSatisfy(\.isHexDigit) { return value.lowercased() }
        }
        return nil
    }
}
