// A file memory-mapped read-only. Tensors are zero-copy views into it: the weights of a model are
// never copied on load, the kernel pages them in on first touch.

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

    public init(path: String) throws(MappedFileError) {
        self.path = path
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
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

    deinit {
        if let start = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: start), bytes.count) }
    }

    public var count: Int { bytes.count }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}
