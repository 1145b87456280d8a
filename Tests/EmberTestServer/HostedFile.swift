// One version of a file the server hosts. The content is a ByteBuffer made once per version, so
// every response serves zero-copy slices of it however large the file and however many requests.

import NIOCore

struct HostedFile: Sendable {
    let contents: ByteBuffer
    /// Unique over the server's lifetime, so replacing a file always changes its opaque ETag.
    let version: Int
}
