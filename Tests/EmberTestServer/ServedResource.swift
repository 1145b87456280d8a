// What a path resolves to when answered from content: a hosted file, or the checksum sidecar derived
// from one, together with the validators the configured ETag style gives it.

import NIOCore

struct ServedResource: Sendable {
    let contents: ByteBuffer
    /// The `ETag` header value, nil when the style sends none.
    let etag: String?
    /// The `X-Linked-ETag` header value: sidecars don't carry it, being no model file themselves.
    let linkedETag: String?

    /// The validator `If-Range` must equal: only a strong ETag can (RFC 9110 §13.1.5).
    var strongETag: String? {
        guard let etag, !etag.hasPrefix("W/") else { return nil }
        return etag
    }

    init(file: HostedFile, configuration: Configuration, sha256Hex: () -> String) {
        contents = file.contents
        etag = configuration.etag.header(versionTag: "v\(file.version)", sha256Hex: sha256Hex)
        linkedETag = configuration.linkedETag.map { "\"\($0)\"" }
    }

    init(sidecarOf file: HostedFile, named fileName: String, fileSHA256Hex: String, configuration: Configuration) {
        let sidecar = ByteBuffer(string: "\(fileSHA256Hex)  \(fileName)\n")
        contents = sidecar
        etag = configuration.etag.header(versionTag: "v\(file.version).sha256") {
            sidecar.withUnsafeReadableBytes { SHA256Hex.of($0) }
        }
        linkedETag = nil
    }
}

extension ETagStyle {
    /// `versionTag` names the content version for the opaque styles; `sha256Hex` is only asked for
    /// when the style needs it, hashing a large file being slow.
    func header(versionTag: String, sha256Hex: () -> String) -> String? {
        switch self {
        case .none: nil
        case .opaque: "\"\(versionTag)\""
        case .sha256: "\"\(sha256Hex())\""
        case .weak: "W/\"\(versionTag)\""
        }
    }
}
