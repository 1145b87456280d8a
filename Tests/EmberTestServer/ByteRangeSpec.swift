// Parsing of a `Range: bytes=…` header. Only a single range is understood: RFC 9110 lets a server
// ignore a Range it doesn't support, and a multi-range answer would need multipart bodies.

import Foundation

enum ByteRangeSpec: Equatable {
    /// `bytes=first-last`, `last` inclusive.
    case closed(first: Int, last: Int)
    /// `bytes=first-`: to the end of the file.
    case from(first: Int)
    /// `bytes=-length`: the last `length` bytes.
    case suffix(length: Int)

    /// Nil for anything but one well-formed byte range, which the server then ignores.
    init?(header: String) {
        let value = header.trimmingCharacters(in: .whitespaces)
        guard value.lowercased().hasPrefix("bytes=") else { return nil }
        let spec = value.dropFirst("bytes=".count)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return nil }
        let firstText = spec[..<dash].trimmingCharacters(in: .whitespaces)
        let lastText = spec[spec.index(after: dash)...].trimmingCharacters(in: .whitespaces)
        switch (Int(firstText), Int(lastText)) {
        case let (first?, last?) where first >= 0 && last >= first && last < Int.max:
            self = .closed(first: first, last: last)
        case let (first?, nil) where first >= 0 && lastText.isEmpty:
            self = .from(first: first)
        case let (nil, length?) where firstText.isEmpty && length >= 0:
            self = .suffix(length: length)
        default:
            return nil
        }
    }

    /// The bytes asked for, clipped to a file of `size` bytes; nil when none of them exist (a 416).
    func satisfiableRange(size: Int) -> Range<Int>? {
        let requested = requestedRange(size: size)
        let clipped = requested.clamped(to: 0 ..< size)
        return clipped.isEmpty ? nil : clipped
    }

    /// The bytes asked for, open ends resolved against `size` but not clipped to it.
    func requestedRange(size: Int) -> Range<Int> {
        switch self {
        case .closed(let first, let last): first ..< last + 1
        case .from(let first): first ..< max(first, size)
        case .suffix(let length): max(0, size - length) ..< size
        }
    }
}
