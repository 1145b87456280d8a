// The answer to one request, decided before anything is written: status, headers and body. The
// framing headers (Content-Length, a 206's Content-Range) are rendered only when the head is written,
// so that a `lieContentLength` fault can misstate them.

import NIOCore
import NIOHTTP1

struct PlannedResponse {
    var status: HTTPResponseStatus
    /// Every header except the framing ones.
    var headers: HTTPHeaders
    var body: ByteBuffer
    /// For a 206: where the body starts in the file and the file's size, for `Content-Range`.
    var partialContent: (start: Int, total: Int)?

    /// The head announcing a body `extraBytes` longer than `body` (shorter when negative).
    func head(announcingExtraBytes extraBytes: Int, keepAlive: Bool) -> HTTPResponseHead {
        var headers = headers
        let announcedLength = max(0, body.readableBytes + extraBytes)
        headers.add(name: "Content-Length", value: String(announcedLength))
        if let (start, total) = partialContent {
            headers.add(name: "Content-Range", value: "bytes \(start)-\(start + announcedLength - 1)/\(total)")
        }
        if !keepAlive {
            headers.add(name: "Connection", value: "close")
        }
        return HTTPResponseHead(version: .http1_1, status: status, headers: headers)
    }
}

extension PlannedResponse {
    /// A status with a one-line text body saying why.
    static func text(status code: Int, _ message: String) -> PlannedResponse {
        PlannedResponse(
            status: HTTPResponseStatus(statusCode: code),
            headers: ["Content-Type": "text/plain; charset=utf-8"],
            body: ByteBuffer(string: message + "\n")
        )
    }

    static func redirect(_ redirect: Redirect) -> PlannedResponse {
        var headers = HTTPHeaders(redirect.headers.map { ($0.key, $0.value) })
        headers.add(name: "Location", value: redirect.location)
        return PlannedResponse(status: HTTPResponseStatus(statusCode: redirect.status), headers: headers, body: ByteBuffer())
    }

    /// `resource` whole (200), the single range asked for (206), or 416 when that range lies past the end.
    /// A Range guarded by an `If-Range` that isn't the current strong ETag is ignored (RFC 9110 §13.1.5):
    /// the content changed, so the client must start over.
    static func content(_ resource: ServedResource, rangeHeader: String?, ifRangeHeader: String?, supportsRanges: Bool) -> PlannedResponse {
        var headers: HTTPHeaders = ["Content-Type": "application/octet-stream"]
        if let etag = resource.etag { headers.add(name: "ETag", value: etag) }
        if let linkedETag = resource.linkedETag { headers.add(name: "X-Linked-ETag", value: linkedETag) }
        guard supportsRanges else { return PlannedResponse(status: .ok, headers: headers, body: resource.contents) }

        headers.add(name: "Accept-Ranges", value: "bytes")
        guard let rangeSpec = rangeHeader.flatMap(ByteRangeSpec.init(header:)),
              ifRangeHeader == nil || ifRangeHeader == resource.strongETag
        else { return PlannedResponse(status: .ok, headers: headers, body: resource.contents) }

        let total = resource.contents.readableBytes
        guard let range = rangeSpec.satisfiableRange(size: total),
              let slice = resource.contents.getSlice(at: resource.contents.readerIndex + range.lowerBound, length: range.count)
        else {
            headers.add(name: "Content-Range", value: "bytes */\(total)")
            return PlannedResponse(status: .rangeNotSatisfiable, headers: headers, body: ByteBuffer())
        }
        return PlannedResponse(status: .partialContent, headers: headers, body: slice, partialContent: (range.lowerBound, total))
    }
}
