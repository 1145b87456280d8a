// The faults a test can inject into one response, chosen per request by `Configuration.fault`.

public enum Fault: Sendable {
    case none
    /// Answers this status with a short text body instead of the file.
    case status(Int)
    /// Sends the correct head, then only this many body bytes, then closes the connection mid-body.
    case dropAfter(bytes: Int)
    /// Sends the correct head, then only this many body bytes, then nothing more (the connection
    /// stays open, silent, until the client gives up or the server shuts down).
    case stallAfter(bytes: Int)
    /// Announces a body `by` bytes longer (or, negative, shorter) than the one sent, in `Content-Length`
    /// and in the end of a 206's `Content-Range`; sends the true body, then closes the connection.
    case lieContentLength(by: Int)
    /// Sends this response's body at this rate, whatever the connections' cap (one slow connection).
    case slow(bytesPerSecond: Int)
    /// Replaces the file's content (giving it a new version and ETag) before answering normally.
    case replaceContent([UInt8])
}
