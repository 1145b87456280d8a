// One process's trace fragment: events are appended as JSON lines to an in-memory buffer and written
// to the fragment file in blocks of 256 KiB, never one write per event. Writing fails silent: after a
// failed write (a full disk, a closed file) the recorder keeps the reason, drops every later event and
// reports `false`, so the caller switches tracing off; nothing is thrown into the engine.
// A single instance lives for the whole process and is restarted by each `Trace.start`, so that a
// thread recording while another stops the trace never touches a freed object.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

final class TraceRecorder: @unchecked Sendable {
    static let shared = TraceRecorder()
    static let blockSize = 256 << 10

    // Everything below is guarded by `mutex`.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var descriptor: Int32 = -1
    private(set) var path = ""
    private var encoder = EventEncoder(capacity: blockSize + 64 << 10)
    private var failure: String?
    /// Rows (threads and tracks) whose thread_name has been written to this fragment.
    private var namedRows: Set<Int> = []
    /// Names given to rows before or while recording.
    private var rowNames: [Int: String] = [:]
    let pid = Int(getpid())

    private init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    /// Opens a new fragment at `path` (which must not exist), closing any previous one.
    func start(path: String, processName: String) throws(TraceError) {
        let opened = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o644)
        guard opened >= 0 else { throw .cannotCreate(path: path, reason: String(cString: strerror(errno))) }
        locked {
            closeLocked()
            descriptor = opened
            self.path = path
            failure = nil
            namedRows = []
            encoder.event(.metadata, name: "process_name", category: nil, timestamp: nil, pid: pid, tid: 0,
                          args: ["name": .string(processName)])
        }
    }

    /// Writes what is buffered and closes the fragment; returns the failure that stopped recording, if any.
    @discardableResult
    func finish() -> String? {
        locked {
            closeLocked()
            return failure
        }
    }

    private func closeLocked() {
        guard descriptor >= 0 else { return }
        writeBufferLocked()
        close(descriptor)
        descriptor = -1
    }

    /// Appends one event; false once the recorder is closed or has failed.
    func append(row: Int, _ encode: (inout EventEncoder) -> Void) -> Bool {
        locked {
            guard descriptor >= 0, failure == nil else { return false }
            if !namedRows.contains(row) {
                namedRows.insert(row)
                encoder.event(.metadata, name: "thread_name", category: nil, timestamp: nil, pid: pid, tid: row,
                              args: ["name": .string(rowNames[row] ?? "thread \(row)")])
            }
            encode(&encoder)
            if encoder.count >= Self.blockSize { writeBufferLocked() }
            return failure == nil
        }
    }

    /// Names a row (an OS thread or a task's track); written before the row's first event.
    func name(row: Int, _ name: String) {
        locked {
            rowNames[row] = name
            if namedRows.contains(row), descriptor >= 0 {
                encoder.event(.metadata, name: "thread_name", category: nil, timestamp: nil, pid: pid, tid: row,
                              args: ["name": .string(name)])
            }
        }
    }

    func flush() {
        locked { writeBufferLocked() }
    }

    /// For signal handlers: writes the buffer if no thread is appending right now (a handler must not
    /// wait on a lock its own thread may hold). write(2) itself is async-signal-safe.
    func flushFromSignalHandler() {
        guard pthread_mutex_trylock(mutex) == 0 else { return }
        writeBufferLocked()
        pthread_mutex_unlock(mutex)
    }

    private func writeBufferLocked() {
        defer { encoder.removeAll() }
        guard descriptor >= 0, failure == nil, !encoder.isEmpty else { return }
        var offset = 0
        while offset < encoder.count {
            let written = write(descriptor, encoder.base + offset, encoder.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                failure = String(cString: strerror(errno))
                return
            }
            offset += written
        }
    }
}
