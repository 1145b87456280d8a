// Loopback addresses that fail the way networks fail, for tests of timeouts and retries: a port
// that refuses connections, a listener that never answers a connection attempt (a black hole), and
// a host name that cannot resolve.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

public enum DeadEndpoints {
    /// A URL on a loopback port where nothing listens: connecting is refused at once.
    public static func refusedURL(path: String = "/m.gguf") throws -> URL {
        let socket = try LoopbackSocket()
        let port = socket.port
        socket.close()
        return URL(string: "http://127.0.0.1:\(port)\(path)")!
    }

    /// A name under `.invalid`, which no resolver may answer (RFC 6761).
    public static func unresolvableURL(path: String = "/m.gguf") -> URL {
        URL(string: "http://ember-test-\(UInt32.random(in: 0 ... .max)).invalid\(path)")!
    }
}

/// A loopback listener whose queue of pending connections is full and never accepted: a further
/// connection attempt gets no answer at all (its SYN is dropped) until the attempt times out, as
/// with a firewalled host.
public final class BlackHole: @unchecked Sendable {
    private let listener: LoopbackSocket
    private var fillers: [Int32] = []

    public init() throws {
        listener = try LoopbackSocket(listenBacklog: 0)
        var address = listener.address
        for _ in 0 ..< 3 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            fillers.append(fd)
        }
        usleep(100_000)  // the fillers' handshakes complete and fill the queue
    }

    public func url(path: String = "/m.gguf") -> URL {
        URL(string: "http://127.0.0.1:\(listener.port)\(path)")!
    }

    deinit {
        for fd in fillers { Glibc.close(fd) }
        listener.close()
    }
}

/// A TCP socket bound to 127.0.0.1 on a free port, listening when a backlog is given.
final class LoopbackSocket {
    let fd: Int32
    let address: sockaddr_in

    init(listenBacklog: Int32? = nil) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound, listenBacklog.map({ listen(fd, $0) == 0 }) ?? true else {
            let code = errno
            Glibc.close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
        }
        self.fd = fd
        self.address = address
    }

    var port: Int { Int(UInt16(bigEndian: address.sin_port)) }

    func close() { Glibc.close(fd) }
}
