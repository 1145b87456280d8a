// Stop strings on streamed text. Text is released as soon as it cannot be the start of a stop string;
// text that might be is held back until the next piece decides. A matched stop string and everything
// after it is never released. Matching is on UTF-8 bytes, not Characters, so a stop of "\n" is found
// inside "\r\n" (one Character) too; matches of valid UTF-8 always fall on scalar boundaries.

public struct StopMatcher: Sendable {
    public let stops: [String]
    private let stopBytes: [[UInt8]]
    private var pending: [UInt8] = []
    public private(set) var matched: String?

    public init(stops: [String]) {
        self.stops = stops.filter { !$0.isEmpty }
        stopBytes = self.stops.map { Array($0.utf8) }
    }

    /// Adds decoded text; returns the text that is now safe to emit.
    public mutating func append(_ text: String) -> String {
        guard matched == nil else { return "" }
        pending.append(contentsOf: text.utf8)
        var earliest: (start: Int, stop: Int)?
        for (index, stop) in stopBytes.enumerated() {
            if let start = firstOccurrence(of: stop), earliest == nil || start < earliest!.start {
                earliest = (start, index)
            }
        }
        if let earliest {
            matched = stops[earliest.stop]
            let released = String(decoding: pending[..<earliest.start], as: UTF8.self)
            pending.removeAll()
            return released
        }
        return take(upTo: safeEnd())
    }

    /// At the end of generation: whatever is still held back (it did not become a stop string).
    public mutating func finish() -> String {
        guard matched == nil else { return "" }
        return take(upTo: pending.count)
    }

    private func firstOccurrence(of needle: [UInt8]) -> Int? {
        guard needle.count <= pending.count else { return nil }
        for start in 0 ... pending.count - needle.count where pending[start] == needle[0] {
            if pending[start ..< start + needle.count].elementsEqual(needle) { return start }
        }
        return nil
    }

    /// The end of the prefix of `pending` in which no stop string can still start.
    private func safeEnd() -> Int {
        var end = pending.count
        for stop in stopBytes {
            // Hold back the longest suffix of `pending` that is a proper prefix of `stop`.
            var length = min(stop.count - 1, pending.count)
            while length > 0 {
                if pending[(pending.count - length)...].elementsEqual(stop[..<length]) {
                    end = min(end, pending.count - length)
                    break
                }
                length -= 1
            }
        }
        return end
    }

    private mutating func take(upTo end: Int) -> String {
        let released = String(decoding: pending[..<end], as: UTF8.self)
        pending.removeFirst(end)
        return released
    }
}
