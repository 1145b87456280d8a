// The rows of a trace (each event's `tid`): the OS thread that ran synchronous code, or a track that
// stands for one piece of concurrent async work (a server request), so that many requests sharing a
// thread pool each get a row of their own instead of overlapping spans on one thread's row.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A row for async work; `Trace.withTrack` makes one and puts it in the task's context.
public struct TraceTrack: Sendable, Hashable {
    public let id: Int
}

enum TraceRows {
    /// Per-thread cache of the thread's row id.
    private static let threadKey: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "no thread-specific key left")
        return key
    }()

    /// Track ids start far above any thread id (Linux caps those at 2^22).
    private static let nextTrack = Atomic<Int>(1 << 30)
    /// Fallback thread ids where the kernel's are unavailable.
    private static let nextThread = Atomic<Int>(1)

    /// The row of the calling code: its task's track if it has one, else its thread.
    static func current() -> Int {
        Trace.currentTrack?.id ?? thread()
    }

    /// The calling thread's id: the kernel's thread id on Linux (as `top -H` and `perf` show it).
    static func thread() -> Int {
        if let cached = pthread_getspecific(threadKey) { return Int(bitPattern: cached) }
        let id = kernelThreadID() ?? nextThread.add(1, ordering: .relaxed).oldValue
        pthread_setspecific(threadKey, UnsafeRawPointer(bitPattern: id))
        return id
    }

    static func newTrack() -> TraceTrack {
        TraceTrack(id: nextTrack.add(1, ordering: .relaxed).oldValue)
    }

    /// /proc/thread-self links to "<pid>/task/<tid>".
    private static func kernelThreadID() -> Int? {
        var buffer = [CChar](repeating: 0, count: 64)
        let count = readlink("/proc/thread-self", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        let link = String(decoding: buffer[0 ..< count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return link.split(separator: "/").last.flatMap { Int($0) }
    }
}
