// Lines that code under test writes through a callback (announcements, heartbeats), kept for the
// test to read; safe to append from any thread.

import Synchronization

public final class RecordedLines: Sendable {
    private let lines = Mutex<[String]>([])

    public init() {}

    @Sendable public func append(_ line: String) { lines.withLock { $0.append(line) } }

    public var all: [String] { lines.withLock { $0 } }
}
