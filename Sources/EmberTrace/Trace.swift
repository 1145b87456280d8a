// The tracing API the whole engine calls: spans, instants and counters, written as Chrome trace events
// to a per-process fragment when tracing is on. Off by default; then every call site costs one load
// and one predictable branch (`isOn`), and names and arguments are never built (autoclosures).
// Building with EMBER_NO_TRACE=1 (see Package.swift) compiles every call site away, the baseline
// BENCHMARKS.md compares against.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

public enum Trace {
    /// The granularity being recorded; `.off` unless `start` succeeded. Written only by start and stop
    /// (and by a failed write, which turns tracing off); read at every span site.
    nonisolated(unsafe) public private(set) static var level: TraceLevel = .off

    /// The track of the current task, set by `withTrack`.
    @TaskLocal public static var currentTrack: TraceTrack?

    /// With `start(file:)`: where the fragment is merged when tracing stops.
    nonisolated(unsafe) private static var mergeTarget: String?
    nonisolated(unsafe) private static var exitHandlerInstalled = false
    nonisolated(unsafe) private static var failureReported = false

    @inlinable @inline(__always)
    public static func isOn(_ level: TraceLevel) -> Bool {
        #if EMBER_NO_TRACE
        return false
        #else
        return Self.level >= level
        #endif
    }

    // MARK: Recording

    /// Runs `body` inside a span named `name` when `level` is recorded.
    @inlinable @inline(__always)
    public static func span<T, E: Error>(_ name: @autoclosure () -> String, level: TraceLevel = .phase,
                                         args: @autoclosure () -> TraceArguments = [:],
                                         _ body: () throws(E) -> T) throws(E) -> T {
        guard isOn(level) else { return try body() }
        let start = TraceClock.now()
        defer { complete(name(), level: level, start: start, args: args()) }
        return try body()
    }

    /// The span of async work; its row is the task's track (see `withTrack`) or the thread it started on.
    public static func span<T>(_ name: @autoclosure () -> String, level: TraceLevel = .phase,
                               args: @autoclosure () -> TraceArguments = [:],
                               isolation: isolated (any Actor)? = #isolation,
                               _ body: () async throws -> T) async rethrows -> T {
        guard isOn(level) else { return try await body() }
        let row = TraceRows.current()
        let start = TraceClock.now()
        defer { complete(name(), level: level, start: start, args: args(), row: row) }
        return try await body()
    }

    /// Opens a span that `OpenSpan.end` closes: for code a closure cannot wrap (an initializer that
    /// delegates). Nil when `level` is not recorded.
    @inlinable @inline(__always)
    public static func begin(_ name: @autoclosure () -> String, level: TraceLevel = .phase) -> OpenSpan? {
        guard isOn(level) else { return nil }
        return OpenSpan(name: name(), level: level, start: TraceClock.now())
    }

    @usableFromInline
    static func complete(_ name: String, level: TraceLevel, start: UInt64, args: TraceArguments, row: Int? = nil) {
        let end = TraceClock.now()
        let tid = row ?? TraceRows.current()
        record(row: tid) { encoder, pid in
            encoder.event(.complete, name: name, category: level, timestamp: start, duration: end &- start,
                          pid: pid, tid: tid, args: args)
        }
    }

    /// A span opened by `Trace.begin`.
    public struct OpenSpan {
        @usableFromInline let name: String
        @usableFromInline let level: TraceLevel
        @usableFromInline let start: UInt64

        @usableFromInline
        init(name: String, level: TraceLevel, start: UInt64) {
            self.name = name
            self.level = level
            self.start = start
        }

        public func end(args: TraceArguments = [:]) {
            Trace.complete(name, level: level, start: start, args: args)
        }
    }

    /// A point in time on the current row (a checkpoint, a cache miss).
    public static func instant(_ name: @autoclosure () -> String, level: TraceLevel = .phase,
                               args: @autoclosure () -> TraceArguments = [:]) {
        guard isOn(level) else { return }
        let tid = TraceRows.current(), now = TraceClock.now()
        let name = name(), args = args()
        record(row: tid) { encoder, pid in
            encoder.event(.instant, name: name, category: level, timestamp: now, pid: pid, tid: tid, args: args)
        }
    }

    /// A value over time (tokens/s, KV cache fill), drawn by trace viewers as a graph per name.
    public static func counter(_ name: String, _ value: Double) {
        guard isOn(.phase) else { return }
        let tid = TraceRows.current(), now = TraceClock.now()
        record(row: tid) { encoder, pid in
            encoder.event(.counter, name: name, category: .phase, timestamp: now, pid: pid, tid: tid,
                          args: ["value": .double(value)])
        }
    }

    /// Runs `body` on a row of its own named `name`: give each concurrent request or task one.
    public static func withTrack<T>(_ name: String, isolation: isolated (any Actor)? = #isolation,
                                    _ body: () async throws -> T) async rethrows -> T {
        guard isOn(.phase) else { return try await body() }
        let track = TraceRows.newTrack()
        TraceRecorder.shared.name(row: track.id, name)
        return try await $currentTrack.withValue(track) { try await body() }
    }

    /// A row of its own named `name`, for spans timed elsewhere (a GPU's timestamps); nil when
    /// `level` is not recorded.
    public static func makeTrack(_ name: String, level: TraceLevel) -> TraceTrack? {
        guard isOn(level) else { return nil }
        let track = TraceRows.newTrack()
        TraceRecorder.shared.name(row: track.id, name)
        return track
    }

    /// A span that is already over, with its start and duration on the trace clock (nanoseconds), on
    /// `track`.
    public static func completed(_ name: String, level: TraceLevel, start: UInt64, duration: UInt64, on track: TraceTrack,
                                 args: TraceArguments = [:]) {
        guard isOn(level) else { return }
        record(row: track.id) { encoder, pid in
            encoder.event(.complete, name: name, category: level, timestamp: start, duration: duration, pid: pid, tid: track.id, args: args)
        }
    }

    /// Names the calling thread's row (e.g. "pool worker 1").
    public static func nameThread(_ name: String) {
        TraceRecorder.shared.name(row: TraceRows.thread(), name)
    }

    private static func record(row: Int, _ encode: (inout EventEncoder, Int) -> Void) {
        let recorder = TraceRecorder.shared
        guard recorder.append(row: row, { encode(&$0, recorder.pid) }) else {
            // The fragment can no longer be written (a full disk, a closed file): stop tracing, say
            // so once, and let the engine go on untouched.
            guard level != .off else { return }
            level = .off
            recorder.finish().map(reportFailure)
            return
        }
    }

    /// Says once per fragment that writing it failed.
    private static func reportFailure(_ failure: String) {
        guard !failureReported else { return }
        failureReported = true
        Logger(label: "ember.trace").warning("tracing stopped: writing \(TraceRecorder.shared.path) failed: \(failure)")
    }

    // MARK: Starting and stopping

    /// Starts recording at `level` into a new fragment `<pid>-<time>.jsonl` in `directory` (created if
    /// needed), where other processes may write theirs; `ember trace merge` joins them. Returns the
    /// fragment's path.
    @discardableResult
    public static func start(directory: String, level: TraceLevel, processName: String) throws(TraceError) -> String {
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw .cannotCreate(path: directory, reason: String(cString: strerror(errno)))
        }
        let fragment = "\(directory)/ember-\(getpid())-\(TraceClock.now()).jsonl"
        try begin(fragment: fragment, level: level, processName: processName)
        return fragment
    }

    /// Starts recording into a fragment beside `file` that is merged into `file` when tracing stops
    /// (at exit). If the process dies first, the fragment stays for `ember trace merge`.
    public static func start(file: String, level: TraceLevel, processName: String) throws(TraceError) {
        try begin(fragment: "\(file).\(getpid()).jsonl", level: level, processName: processName)
        mergeTarget = file
    }

    private static func begin(fragment: String, level newLevel: TraceLevel, processName: String) throws(TraceError) {
        #if EMBER_NO_TRACE
        throw .compiledOut
        #else
        try TraceRecorder.shared.start(path: fragment, processName: processName)
        mergeTarget = nil
        failureReported = false
        nameThread("main")
        level = newLevel
        if !exitHandlerInstalled {
            exitHandlerInstalled = true
            atexit { Trace.stop() }
        }
        #endif
    }

    /// Writes everything recorded and closes the fragment; with `start(file:)`, merges it into the file.
    public static func stop() {
        guard level != .off || mergeTarget != nil else { return }
        level = .off
        let recorder = TraceRecorder.shared
        recorder.finish().map(reportFailure)
        guard let target = mergeTarget else { return }
        mergeTarget = nil
        let logger = Logger(label: "ember.trace")
        do {
            try TraceMerge.merge(inputs: [recorder.path], output: target)
            unlink(recorder.path)
        } catch {
            logger.warning("cannot write the trace \(target): \(error); the events are in \(recorder.path)")
        }
    }

    /// Writes what is buffered without waiting on a lock: for signal handlers.
    public static func flushFromSignalHandler() {
        TraceRecorder.shared.flushFromSignalHandler()
    }

    /// SIGINT and SIGTERM write what is buffered, then end the process as they would have.
    public static func installSignalFlush() {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber) { number in
                Trace.flushFromSignalHandler()
                signal(number, SIG_DFL)
                raise(number)
            }
        }
    }
}
