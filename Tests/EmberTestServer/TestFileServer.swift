// The public face of the loopback HTTP/1.1 file server that the store's tests and benchmark download
// from: start it with some files, point a client at `url(_:)`, inject faults through its
// configuration, then check what it was asked in `requests`.

import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

public final class TestFileServer: Sendable {
    public let port: Int
    private let state: ServerState
    private let listener: any Channel
    private let acceptLoop: Task<Void, Never>

    /// Starts on 127.0.0.1 with an ephemeral port.
    public static func start(files: [String: [UInt8]] = [:], configuration: Configuration = .init()) async throws -> TestFileServer {
        let state = ServerState(configuration: configuration)
        for (path, contents) in files {
            state.setFile(path, contents)
        }
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try HTTPConnection(wrappingChannelSynchronously: channel)
                }
            }
        return TestFileServer(listener: listener, state: state)
    }

    private init(listener: NIOAsyncChannel<HTTPConnection, Never>, state: ServerState) {
        self.port = listener.channel.localAddress?.port ?? 0
        self.state = state
        self.listener = listener.channel
        self.acceptLoop = Task { await AcceptLoop.run(listener: listener, state: state) }
    }

    /// `http://127.0.0.1:PORT` + `path` (which starts with "/" and needs no percent-encoding).
    public func url(_ path: String) -> URL {
        URL(string: "http://127.0.0.1:\(port)\(path)")!
    }

    /// The same server reached as host `localhost`: a different host name, to check that credentials
    /// are not forwarded across hosts on a redirect.
    public func localhostURL(_ path: String) -> URL {
        URL(string: "http://localhost:\(port)\(path)")!
    }

    /// Adds or replaces a file; a replaced file gets a new ETag.
    public func setFile(_ path: String, _ contents: [UInt8]) {
        state.setFile(path, contents)
    }

    public func removeFile(_ path: String) {
        state.removeFile(path)
    }

    public var configuration: Configuration { state.configuration }

    /// Applies to requests arriving from now on; responses under way keep the one they started with.
    public func setConfiguration(_ configuration: Configuration) {
        state.configuration = configuration
    }

    /// Every request received so far (since the last `resetRequests()`), in arrival order.
    public var requests: [RecordedRequest] { state.requests }

    public func resetRequests() {
        state.resetRequests()
    }

    /// Body bytes handed to connections so far, over all responses.
    public var bytesSent: Int { state.bytesSent }

    /// Closes the listening socket and every connection, interrupting responses under way.
    public func shutdown() async throws {
        guard let connections = state.beginShutdown() else { return }
        try await listener.close()
        for connection in connections {
            connection.close(promise: nil)
        }
        // Wakes connection tasks sleeping out latency or pacing, which would otherwise hold us up.
        acceptLoop.cancel()
        await acceptLoop.value
    }
}
