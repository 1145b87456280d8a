// How long the network may take before a download gives up, how often it tries again, and whether
// it may be used at all. Defaults come from the environment (EMBER_CONNECT_TIMEOUT,
// EMBER_STALL_TIMEOUT, EMBER_RETRIES in seconds and attempts; EMBER_OFFLINE=1 or HF_HUB_OFFLINE=1),
// and the command line overrides them.

import EmberTrace
import Foundation

public struct NetworkPolicy: Sendable {
    /// How long making a connection may take, retries included: a name that does not resolve, a
    /// refused connection, an unreachable host or one that never answers ends in an error by then.
    public var connectTimeout: Duration = .seconds(15)
    /// How long a transfer may go without a byte before it is broken off and tried again.
    public var stallTimeout: Duration = .seconds(30)
    /// Attempts per request (the first one included) before a failure is final.
    public var attempts = 5
    /// The wait before the first retry; doubled for each further one, at most 4 s.
    public var backoff: Duration = .milliseconds(500)
    /// Use only the cache: a model missing from it is an error, and nothing is fetched.
    public var offline = false
    /// Hears each retry, as one line (the default writes it to stderr).
    public var announce: @Sendable (String) -> Void = NetworkPolicy.announceOnStandardError

    public init() {}

    /// The defaults, with what `environment` sets. A value that is not a positive number is an error
    /// naming the variable.
    public init(environment: [String: String]) throws(StoreError) {
        if let seconds = try Self.seconds("EMBER_CONNECT_TIMEOUT", in: environment) { connectTimeout = seconds }
        if let seconds = try Self.seconds("EMBER_STALL_TIMEOUT", in: environment) { stallTimeout = seconds }
        if let text = environment["EMBER_RETRIES"], !text.isEmpty {
            guard let retries = Int(text) else { throw .invalidSetting(name: "EMBER_RETRIES", value: text, expected: Self.retriesRange) }
            attempts = try Self.attempts(retries: retries, name: "EMBER_RETRIES")
        }
        offline = Self.isSet("EMBER_OFFLINE", in: environment) || Self.isSet("HF_HUB_OFFLINE", in: environment)
    }

    /// The wait before retry number `retry` (from 1).
    func wait(beforeRetry retry: Int) -> Duration {
        min(backoff * (1 << min(retry - 1, 20)), .seconds(4))
    }

    /// The attempts `retries` retries make, checked: 0 to 100 retries.
    public static func attempts(retries: Int, name: String) throws(StoreError) -> Int {
        guard (0 ... 100).contains(retries) else { throw .invalidSetting(name: name, value: "\(retries)", expected: retriesRange) }
        return retries + 1
    }

    private static let retriesRange = "a whole number of retries from 0 to 100"

    /// `seconds` as a Duration, checked: positive, finite, at most a day.
    public static func duration(seconds: Double, name: String) throws(StoreError) -> Duration {
        guard seconds.isFinite, seconds > 0, seconds <= 86_400 else {
            throw .invalidSetting(name: name, value: "\(seconds)", expected: "seconds above 0 and at most 86400")
        }
        return .milliseconds(Int64((seconds * 1000).rounded(.up)))
    }

    private static func seconds(_ name: String, in environment: [String: String]) throws(StoreError) -> Duration? {
        guard let text = environment[name], !text.isEmpty else { return nil }
        guard let seconds = Double(text) else {
            throw .invalidSetting(name: name, value: text, expected: "seconds above 0 and at most 86400")
        }
        return try duration(seconds: seconds, name: name)
    }

    /// Whether a flag variable is on, as huggingface_hub reads HF_HUB_OFFLINE: 1, true, yes or on.
    private static func isSet(_ name: String, in environment: [String: String]) -> Bool {
        guard let value = environment[name]?.lowercased() else { return false }
        return ["1", "true", "yes", "on"].contains(value)
    }

    @Sendable public static func announceOnStandardError(_ line: String) {
        FileHandle.standardError.write(Data(("ember: " + line + "\n").utf8))
    }
}

extension Duration {
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }

    /// Seconds, for messages: "15 s", "0.5 s", "20 ms".
    var secondsText: String {
        if seconds < 0.1 { return "\(Int((seconds * 1000).rounded())) ms" }
        return seconds == seconds.rounded() ? "\(Int(seconds)) s" : String(format: "%.1f s", seconds)
    }
}
