// Serves the requests of one connection in turn, for as long as the client keeps it alive: records
// each request, asks the fault hook about it, waits out the configured latency, then answers.

import NIOCore
import NIOHTTP1

typealias HTTPConnection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

struct ConnectionHandler {
    let connection: HTTPConnection
    let state: ServerState

    /// Never throws: a failing connection, usually a client gone mid-response, only ends itself.
    func run() async {
        guard state.register(connection.channel) else {
            connection.channel.close(promise: nil)
            return
        }
        defer { state.unregister(connection.channel) }
        try? await connection.executeThenClose { inbound, outbound in
            var pendingHead: HTTPRequestHead?
            for try await part in inbound {
                switch part {
                case .head(let head):
                    pendingHead = head
                case .body:
                    continue  // GET and HEAD have no body worth reading
                case .end:
                    guard let head = pendingHead else { continue }
                    pendingHead = nil
                    guard try await respond(to: head, outbound: outbound) else {
                        try await closeAfterPendingWrites()
                        return
                    }
                }
            }
        }
    }

    /// Answers one request; returns whether the connection can carry another.
    private func respond(to head: HTTPRequestHead, outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws -> Bool {
        let request = state.record(head)
        let configuration = state.configuration
        let fault = configuration.fault(request)
        if configuration.latency > .zero {
            try await Task.sleep(for: configuration.latency)
        }
        let response = plan(request, fault: fault, configuration: configuration)
        let writer = ResponseWriter(outbound: outbound, state: state, bytesPerSecond: configuration.bytesPerSecondPerConnection)
        let isReusable = try await writer.write(response, sendsBody: head.method != .HEAD, fault: fault, keepAlive: head.isKeepAlive)
        return isReusable && head.isKeepAlive
    }

    private func plan(_ request: RecordedRequest, fault: Fault, configuration: Configuration) -> PlannedResponse {
        switch fault {
        case .status(let code):
            return .text(status: code, "injected fault: status \(code)")
        case .replaceContent(let contents):
            state.setFile(request.path, contents)
        case .none, .dropAfter, .stallAfter, .lieContentLength, .slow:
            break
        }
        guard request.method == "GET" || request.method == "HEAD" else {
            return .text(status: 405, "only GET and HEAD are served")
        }
        if let redirect = configuration.redirects[request.path] {
            return .redirect(redirect)
        }
        guard let resource = state.resource(at: request.path, configuration: configuration) else {
            return .text(status: 404, "no file at \(request.path)")
        }
        return .content(
            resource, rangeHeader: request.header("range"), ifRangeHeader: request.header("if-range"),
            supportsRanges: configuration.supportsRanges
        )
    }

    /// A full close discards writes still queued in NIO, which would cut a response short by an
    /// unpredictable amount; closing the output side first waits for them to reach the socket, so a
    /// client sees exactly the bytes written and then end-of-stream.
    private func closeAfterPendingWrites() async throws {
        try await connection.channel.close(mode: .output).get()
    }
}
