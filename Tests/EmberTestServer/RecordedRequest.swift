// A request as the server received it, kept so tests can check what the client asked for.

public struct RecordedRequest: Sendable {
    /// 0-based arrival order over the server's lifetime (`resetRequests()` doesn't restart it).
    public let index: Int
    public let method: String
    /// The request target without its query string.
    public let path: String
    /// The query string after `?`, if any.
    public let query: String?
    /// Every header in arrival order, names lower-cased.
    public let headers: [(name: String, value: String)]
    /// The single byte range asked for by `Range: bytes=…`, nil without one (or for a malformed or
    /// multi-range value). An open-ended `a-` or suffix `-n` range is resolved against the size of the
    /// file at arrival (0 if none is hosted there).
    public let range: Range<Int>?

    /// The first value of the header `name`, compared case-insensitively.
    public func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.name == lowered }?.value
    }
}
