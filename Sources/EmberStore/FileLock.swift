// An exclusive lock between processes on a lock file (flock): the process that gets it downloads,
// the others wait for it and then find the finished entry. The kernel drops the lock when its
// holder exits, however it exits.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

final class FileLock {
    private var descriptor: Int32

    /// Opens (creating) `path` and waits for its exclusive lock, or with `wait: false` returns nil when
    /// another process holds it.
    init?(path: String, wait: Bool = true) throws(StoreError) {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .io(path: path, reason: "cannot open lock file: \(String(cString: strerror(errno)))") }
        while flock(descriptor, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0 {
            let error = errno
            if error == EINTR { continue }
            close(descriptor)
            if error == EWOULDBLOCK { return nil }
            throw .io(path: path, reason: "cannot lock: \(String(cString: strerror(error)))")
        }
        self.descriptor = descriptor
    }

    /// Unlocks now (the lock's holder is done).
    func release() {
        guard descriptor >= 0 else { return }
        flock(descriptor, LOCK_UN)
        close(descriptor)
        descriptor = -1
    }

    deinit { release() }
}
