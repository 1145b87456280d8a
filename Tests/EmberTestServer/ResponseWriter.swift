// Writes a planned response onto a connection: head, then the body in slices (paced when the server
// has a rate cap), with the wire-level faults applied. Each write is awaited, which is how NIO's
// backpressure reaches us: a slow reader suspends the writer instead of growing a buffer.

import NIOCore
import NIOHTTP1

struct ResponseWriter {
    let outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    let state: ServerState
    let bytesPerSecond: Int?

    /// Unpaced bodies go out in larger slices: fewer hops to the event loop, still zero-copy.
    private static let unpacedSliceSize = 256 << 10

    /// Writes `response` (without its body for a HEAD request). Returns false when the connection must
    /// be closed afterwards because a fault left it unusable (mid-body or with misstated framing).
    /// How long a stalled response stays silent before its connection closes (unless cancelled first).
    static let stallLength = Duration.seconds(120)

    func write(_ response: PlannedResponse, sendsBody: Bool, fault: Fault, keepAlive: Bool) async throws -> Bool {
        let misstatement = if case .lieContentLength(let by) = fault { by } else { 0 }
        try await outbound.write(.head(response.head(announcingExtraBytes: misstatement, keepAlive: keepAlive)))

        let bodyLength = sendsBody ? response.body.readableBytes : 0
        let sendLimit = switch fault {
        case .dropAfter(let bytes), .stallAfter(let bytes): min(max(0, bytes), bodyLength)
        default: bodyLength
        }
        let rate = if case .slow(let rate) = fault { rate } else { bytesPerSecond }
        let pacer = rate.map(BodyPacer.init(bytesPerSecond:))
        let sliceSize = pacer?.sliceSize ?? Self.unpacedSliceSize
        var unsent = response.body
        var sent = 0
        while sent < sendLimit, let slice = unsent.readSlice(length: min(sliceSize, sendLimit - sent)) {
            try await outbound.write(.body(.byteBuffer(slice)))
            sent += slice.readableBytes
            state.addBytesSent(slice.readableBytes)
            try await pacer?.waitUntilDue(bytesSent: sent)
        }

        switch fault {
        case .dropAfter:
            return false
        case .stallAfter:
            try await Task.sleep(for: Self.stallLength)
            return false
        case .lieContentLength:
            try await outbound.write(.end(nil))
            return false
        case .none, .status, .replaceContent, .slow:
            try await outbound.write(.end(nil))
            return true
        }
    }
}
