// How the test server behaves: pacing, latency, range support, ETag style, checksum sidecars,
// redirects and the per-request fault hook. Tests may swap it at any time; each request reads it once.

public struct Configuration: Sendable {
    /// Caps the body bytes of each response on its connection; nil sends as fast as the client reads.
    public var bytesPerSecondPerConnection: Int?
    /// Waited before answering each request, to model a distant server.
    public var latency: Duration
    /// False models a server that ignores `Range`: always 200 with the whole file, no `Accept-Ranges`.
    public var supportsRanges: Bool
    public var etag: ETagStyle
    /// Sent as `X-Linked-ETag: "<value>"` on every file response, the way Hugging Face announces the
    /// sha256 of an LFS file; a wrong value lets tests exercise checksum verification.
    public var linkedETag: String?
    /// When true, `GET <path>.sha256` answers `<lowercase hex sha256 of path>  <file name>\n` for any file
    /// hosted at `<path>` (a file hosted at the `.sha256` path itself takes precedence).
    public var sidecars: Bool
    /// Decides, once per request as it arrives, which fault to inject into its answer.
    public var fault: @Sendable (RecordedRequest) -> Fault
    /// Request paths answered with a redirect instead of a file.
    public var redirects: [String: Redirect]

    public init(
        bytesPerSecondPerConnection: Int? = nil,
        latency: Duration = .zero,
        supportsRanges: Bool = true,
        etag: ETagStyle = .opaque,
        linkedETag: String? = nil,
        sidecars: Bool = false,
        fault: @escaping @Sendable (RecordedRequest) -> Fault = { _ in .none },
        redirects: [String: Redirect] = [:]
    ) {
        self.bytesPerSecondPerConnection = bytesPerSecondPerConnection
        self.latency = latency
        self.supportsRanges = supportsRanges
        self.etag = etag
        self.linkedETag = linkedETag
        self.sidecars = sidecars
        self.fault = fault
        self.redirects = redirects
    }
}

/// The `ETag` a file response carries.
public enum ETagStyle: Sendable {
    /// No `ETag` header.
    case none
    /// A strong ETag that changes with every version of the file but is not a content hash.
    case opaque
    /// A strong ETag that is the quoted lowercase hex sha256 of the content.
    case sha256
    /// A weak ETag (`W/"…"`), which `If-Range` never matches.
    case weak
}

/// A redirect answered instead of a file.
public struct Redirect: Sendable {
    /// 301, 302, 303, 307 or 308.
    public var status: Int
    /// The absolute URL sent as `Location`.
    public var location: String
    /// Extra headers for the redirect response (e.g. to check the client doesn't carry them over).
    public var headers: [String: String]

    public init(status: Int = 302, location: String, headers: [String: String] = [:]) {
        self.status = status
        self.location = location
        self.headers = headers
    }
}
