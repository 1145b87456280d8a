// A sign of life for long operations: once one has run for a few seconds, a line on stderr every few
// seconds saying what it is, how far it has come (when it can say) and how long it has run, so that a
// slow step is never silent. `ProgressCounter` is how the work tells it how far it has come.

import Dispatch
import Foundation
import Synchronization

// Unchecked: the timer is only created, cancelled and run on its queue, all thread-safe operations.
public final class Heartbeat: @unchecked Sendable {
    private let queue = DispatchQueue(label: "ember.heartbeat")
    private let timer: DispatchSourceTimer

    /// Starts beating for `what`: after `delay`, every `interval`, one line "ember: WHAT: PROGRESS
    /// (N s)" to `write`, where PROGRESS is what `progress` says; when it says nil, that beat is skipped
    /// (the operation is in a phase that shows itself).
    public init(_ what: String, delay: Duration = .seconds(3), interval: Duration = .seconds(5),
                progress: @escaping @Sendable () -> String? = { "still working" },
                write: @escaping @Sendable (String) -> Void = Heartbeat.writeToStandardError) {
        let start = ContinuousClock.now
        timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + delay.seconds, repeating: interval.seconds)
        timer.setEventHandler {
            guard let said = progress() else { return }
            let seconds = Int((ContinuousClock.now - start).seconds.rounded())
            write("ember: \(what): \(said) (\(seconds) s)")
        }
        timer.activate()
    }

    /// Stops the beats; none comes after this returns.
    public func stop() {
        timer.cancel()
        queue.sync {}  // a beat already running finishes first

    }

    /// Runs `body` with a heartbeat for `what`.
    public static func around<T, E: Error>(_ what: String, progress: @escaping @Sendable () -> String? = { "still working" },
                                           _ body: () throws(E) -> T) throws(E) -> T {
        let heartbeat = Heartbeat(what, progress: progress)
        defer { heartbeat.stop() }
        return try body()
    }

    @Sendable public static func writeToStandardError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

/// How much of a long operation is done: set by the work, read by its heartbeat.
public final class ProgressCounter: Sendable {
    private let doneCount = Atomic<Int>(0)
    private let totalCount = Atomic<Int>(0)

    public init() {}

    public var done: Int { doneCount.load(ordering: .relaxed) }
    public var total: Int { totalCount.load(ordering: .relaxed) }

    /// A new operation of `total` units begins.
    public func start(total: Int) {
        doneCount.store(0, ordering: .relaxed)
        totalCount.store(total, ordering: .relaxed)
    }

    public func advance(to done: Int) { doneCount.store(done, ordering: .relaxed) }

    /// "1536 of 4096 UNIT" while the operation runs, nil once it is done.
    public func describe(_ unit: String) -> String? {
        let (done, total) = (done, total)
        return done < total ? "\(done) of \(total) \(unit)" : nil
    }
}
