// What went wrong on the network, in words a user can act on, from the errors of SwiftNIO and
// AsyncHTTPClient: a name that does not resolve, a refused connection, an unreachable host, no answer
// in time, a stalled or broken transfer, a server error worth another try.

import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix

struct NetworkFailure: Error {
    enum Kind {
        /// No connection could be made: DNS, refused, unreachable, connect timeout.
        case connecting
        /// A connection was made, then the exchange failed (stall, break, 5xx, 429).
        case transferring
    }

    let kind: Kind
    /// What happened, e.g. "the name example.invalid does not resolve (DNS)".
    let reason: String

    /// A server answer worth another try.
    static func status(_ status: Int) -> NetworkFailure {
        NetworkFailure(kind: .transferring, reason: "HTTP \(status)")
    }

    /// A body that ended before the bytes its head announced.
    static func bodyEnded(after received: Int, of announced: Int) -> NetworkFailure {
        NetworkFailure(kind: .transferring, reason: "the body ended after \(received) of \(announced) bytes")
    }

    /// The failure `error` describes, for a request to `url` under `policy`.
    init(_ error: any Error, url: URL, policy: NetworkPolicy) {
        let host = url.host ?? "the server"
        if let error = error as? NetworkFailure {
            self = error
        } else if let error = error as? NIOConnectionError {
            if error.connectionErrors.isEmpty, error.dnsAError != nil || error.dnsAAAAError != nil {
                self.init(kind: .connecting, reason: "the name \(error.host) does not resolve (DNS)")
            } else if let first = error.connectionErrors.first {
                self.init(kind: .connecting, reason: Self.connectFailure(first.error, host: host, policy: policy) ?? "\(first.error)")
            } else {
                self.init(kind: .connecting, reason: "cannot connect to \(host): \(error)")
            }
        } else if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout, .deadlineExceeded, .getConnectionFromPoolTimeout:
                self.init(kind: .connecting, reason: "\(host) did not answer within \(policy.connectTimeout.secondsText) (connect timeout)")
            case .readTimeout:
                self.init(kind: .transferring, reason: "no bytes from \(host) for \(policy.stallTimeout.secondsText) (stall timeout)")
            case .remoteConnectionClosed:
                self.init(kind: .transferring, reason: "\(host) closed the connection")
            default:
                self.init(kind: .transferring, reason: "\(error)")
            }
        } else if let reason = Self.connectFailure(error, host: host, policy: policy) {
            self.init(kind: .connecting, reason: reason)
        } else {
            self.init(kind: .transferring, reason: "\(error)")
        }
    }

    private init(kind: Kind, reason: String) {
        self.kind = kind
        self.reason = reason
    }

    /// The words for an error of making one connection, if `error` is one.
    private static func connectFailure(_ error: any Error, host: String, policy: NetworkPolicy) -> String? {
        if let error = error as? IOError {
            switch error.errnoCode {
            case ECONNREFUSED: return "\(host) refused the connection (nothing listens on that port)"
            case ENETUNREACH: return "the network of \(host) is unreachable (no route; is this machine offline?)"
            case EHOSTUNREACH: return "\(host) is unreachable (no route to the host)"
            case ETIMEDOUT: return "\(host) did not answer (connection timed out)"
            default: return "cannot connect to \(host): \(error)"
            }
        }
        if let error = error as? ChannelError, case .connectTimeout = error {
            return "\(host) did not answer within \(policy.connectTimeout.secondsText) (connect timeout)"
        }
        if let error = error as? SocketAddressError, case .unknown = error {
            return "the name \(host) does not resolve (DNS)"
        }
        return nil
    }
}
