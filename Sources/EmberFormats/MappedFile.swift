// A file memory-mapped read-only. Tensors are zero-copy views into it: the weights of a model are
// never copied on load, the kernel pages them in on first touch. The same type holds a file's bytes
// kept in memory instead (a download that could not be cached, the start of a remote file).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum MappedFileError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case cannotMap(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): "cannot open \(path): \(reason)"
        case let .cannotMap(path, reason): "cannot memory-map \(path): \(reason)"
        }
    }
}

public final class MappedFile: @unchecked Sendable {
    public let path: String
    /// The whole file. Immutable: the mapping is read-only for the file's lifetime.
    public let bytes: UnsafeRawBufferPointer
    /// Whether `bytes` were allocated here rather than mapped.
    private let owned: Bool

    public init(path: String) throws(MappedFileError) {
        self.path = path
        owned = false
        // Non-blocking, so that a FIFO or a device is refused below instead of blocking the open.
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { throw .cannotOpen(path: path, reason: MappedFile.lastError()) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .cannotOpen(path: path, reason: MappedFile.lastError()) }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw .cannotOpen(path: path, reason: "not a regular file") }
        let size = Int(status.st_size)
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0)
        guard let address, address != MAP_FAILED else {
            throw .cannotMap(path: path, reason: MappedFile.lastError())
        }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    /// Takes `buffer` (allocated with `UnsafeMutableRawBufferPointer.allocate`) as the bytes of a file
    /// named `path` that lives in memory; it is deallocated with this object.
    public init(owning buffer: UnsafeMutableRawBufferPointer, path: String) {
        self.path = path
        bytes = UnsafeRawBufferPointer(buffer)
        owned = true
    }

    /// A copy of `contents` as an in-memory file named `path`.
    public convenience init(copying contents: UnsafeRawBufferPointer, path: String) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: contents.count, alignment: 64)
        if let source = contents.baseAddress { buffer.baseAddress!.copyMemory(from: source, byteCount: contents.count) }
        self.init(owning: buffer, path: path)
    }

    deinit {
        guard let start = bytes.baseAddress else { return }
        if owned {
            UnsafeMutableRawPointer(mutating: start).deallocate()
        } else {
            munmap(UnsafeMutableRawPointer(mutating: start), bytes.count)
        }
    }

    public var count: Int { bytes.count }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}
