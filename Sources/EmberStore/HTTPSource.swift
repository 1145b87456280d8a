// HTTP GETs of one remote file, whole or by byte range, on the process's one AsyncHTTPClient.
// Redirects are followed here rather than by the client so that $HF_TOKEN goes only to the host it
// was meant for (Hugging Face answers `resolve` with a redirect to a signed CDN URL), and so that
// the headers of the redirect itself (Hugging Face's X-Linked-ETag, the file's sha256) are kept.
// Connection errors and 5xx answers are retried with exponential backoff; 4xx are final.

import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The process's HTTP client: never shut down, up to 16 connections per host.
let sharedHTTPClient: HTTPClient = {
    var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow,
                                                 timeout: .init(connect: .seconds(15), read: .seconds(30)))
    configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 16
    return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
}()

struct HTTPSource: Sendable {
    /// The URL as given (reported in errors, the cache key's source).
    let url: URL
    /// Sent as `Authorization: Bearer` to `url`'s host only.
    let token: String?
    /// Attempts per request before a connection error or 5xx is final.
    var attempts = 5
    /// First backoff; doubled per attempt, at most 4 s.
    var backoff: Duration = .milliseconds(200)

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
        var attempt = 0
        while true {
            guard !Task.isCancelled else { throw .network(url: url.absoluteString, reason: "cancelled") }
            do {
                return try await getOnce(target ?? url, range: range, ifRange: ifRange)
            } catch let error as RetryableError {
                attempt += 1
                guard attempt < attempts else { throw StoreError.network(url: url.absoluteString, reason: error.reason) }
                await backOff(attempt: attempt)
            } catch let error as StoreError {
                throw error
            } catch {
                throw StoreError.network(url: url.absoluteString, reason: "\(error)")
            }
        }
    }

    /// Streams bytes `range` of the `total`-byte file at `location` (where the redirects of an earlier
    /// request led) to `deliver(bytes, offset)`, in order, until it returns false (the rest is not
    /// wanted any more). A body that breaks off is asked for again from where it stopped, with
    /// backoff. With `etag`, every request carries If-Range: a file that changed on the server
    /// answers with all of itself, and that throws `remoteChanging`.
    func fetch(_ range: Range<Int>, of total: Int, from location: URL, etag: String?,
               deliver: (UnsafeRawBufferPointer, Int) throws(StoreError) -> Bool) async throws(StoreError) {
        var position = range.lowerBound, broken = 0
        while position < range.upperBound {
            guard !Task.isCancelled else { throw .network(url: url.absoluteString, reason: "cancelled") }
            let response = try await get(location, range: position ..< range.upperBound, ifRange: etag)
            if response.status == 200 { throw .remoteChanging(url: url.absoluteString) }
            guard let answer = response.contentRange, answer.range == position ..< range.upperBound, answer.total == total else {
                throw .badResponse(url: url.absoluteString, reason: "asked for bytes \(position)..<\(range.upperBound) of \(total), got "
                    + (response.response.headers.first(name: "Content-Range").map { "Content-Range \($0)" } ?? "no Content-Range"))
            }
            do {
                guard try await response.stream(from: &position, to: range.upperBound, url: url, deliver: deliver) else { return }
                if position < range.upperBound {
                    throw RetryableError(reason: "the body ended after \(position - answer.range.lowerBound) of \(answer.range.count) bytes")
                }
            } catch let error as StoreError {
                throw error
            } catch {
                broken += 1
                let reason = (error as? RetryableError)?.reason ?? "\(error)"
                guard broken < attempts else { throw .network(url: url.absoluteString, reason: "\(reason), \(broken) times") }
                await backOff(attempt: broken)
            }
        }
    }

    /// Waits before retry number `attempt` (from 1).
    private func backOff(attempt: Int) async {
        try? await Task.sleep(for: min(backoff * (1 << min(attempt - 1, 20)), .seconds(4)))
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
            let response: HTTPClientResponse
            do {
                response = try await sharedHTTPClient.execute(request, timeout: .seconds(60))
            } catch {
                throw RetryableError(reason: "\(error)")
            }
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
                throw RetryableError(reason: "HTTP \(status)")
            default:
                _ = try? await response.body.collect(upTo: 1 << 16)
                throw StoreError.http(url: url.absoluteString, status: status, authorized: token != nil)
            }
        }
        throw StoreError.badResponse(url: url.absoluteString, reason: "more than 10 redirects")
    }
}

/// A failure worth another attempt: the connection, a timeout, a 5xx or 429.
struct RetryableError: Error {
    let reason: String
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
