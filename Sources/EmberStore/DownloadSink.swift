// Where a download's bytes go, each range written at its offset as it arrives: a file in the cache
// (pwrite; the file is sized up front and its finished ranges recorded beside it, so an interrupted
// download resumes), or memory, when the cache cannot be written.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import EmberFormats
import Foundation

protocol DownloadSink: AnyObject, Sendable {
    var size: Int { get }
    /// Writes `bytes` at `offset`; ranges of concurrent writers never overlap.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(StoreError)
    /// The content as written so far, for reading back the ranges that are finished.
    var contents: UnsafeRawBufferPointer { get }
}

extension DownloadSink {
    func write(_ bytes: [UInt8], at offset: Int) throws(StoreError) {
        var failure: StoreError?
        bytes.withUnsafeBytes { raw in
            do throws(StoreError) { try write(raw, at: offset) } catch { failure = error }
        }
        if let failure { throw failure }
    }
}

/// A download into `path` (the entry's `.partial` file), with its resume state in `path.json`.
final class FileSink: DownloadSink, @unchecked Sendable {
    let path: String
    let size: Int
    let contents: UnsafeRawBufferPointer
    private let descriptor: Int32

    /// Opens `path` for a file of `size` bytes, keeping its contents when `keep` (a resumed download).
    /// The disk space is reserved up front, so that a full disk is found before the download starts.
    init(path: String, size: Int, keep: Bool) throws(StoreError) {
        self.path = path
        self.size = size
        let flags = O_RDWR | O_CREAT | O_CLOEXEC | (keep ? 0 : O_TRUNC)
        let descriptor = open(path, flags, 0o644)
        guard descriptor >= 0 else { throw .cacheUnwritable(path: path, reason: "cannot create: \(String(cString: strerror(errno)))") }
        var status = size > 0 ? posix_fallocate(descriptor, 0, off_t(size)) : 0
        if status == EOPNOTSUPP || status == EINVAL {  // a file system without preallocation
            status = ftruncate(descriptor, off_t(size)) == 0 ? 0 : errno
        }
        guard status == 0 else {
            close(descriptor)
            throw .cacheUnwritable(path: path, reason: "no room for \(size) bytes: \(String(cString: strerror(status)))")
        }
        // A shared read-only view of the file: what is written shows through, for hashing as it lands.
        var view = UnsafeRawBufferPointer(start: nil, count: 0)
        if size > 0 {
            guard let address = mmap(nil, size, PROT_READ, MAP_SHARED, descriptor, 0), address != MAP_FAILED else {
                let reason = String(cString: strerror(errno))
                close(descriptor)
                throw .io(path: path, reason: "cannot map: \(reason)")
            }
            view = UnsafeRawBufferPointer(start: address, count: size)
        }
        self.descriptor = descriptor
        contents = view
    }

    deinit {
        if let start = contents.baseAddress { munmap(UnsafeMutableRawPointer(mutating: start), size) }
        close(descriptor)
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(StoreError) {
        var done = 0
        while done < bytes.count {
            let written = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if written < 0 {
                if errno == EINTR { continue }
                throw .cacheUnwritable(path: path, reason: "cannot write: \(String(cString: strerror(errno)))")
            }
            done += written
        }
    }
}

/// A download kept in memory.
final class MemorySink: DownloadSink, @unchecked Sendable {
    let size: Int
    private let buffer: UnsafeMutableRawBufferPointer
    private var taken = false

    init(size: Int) {
        self.size = size
        buffer = .allocate(byteCount: max(size, 1), alignment: 64)
    }

    deinit { if !taken { buffer.deallocate() } }

    var contents: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0 ..< size]) }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(StoreError) {
        precondition(offset + bytes.count <= size, "a range past the end of the download")
        (buffer.baseAddress! + offset).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
    }

    /// The content as an in-memory file named `name`; the sink gives up its buffer.
    func file(named name: String) -> MappedFile {
        taken = true
        return MappedFile(owning: UnsafeMutableRawBufferPointer(rebasing: buffer[0 ..< size]), path: name)
    }
}

/// What a file download has finished, saved beside its `.partial` file so that a later attempt can
/// resume it, if the remote file is still the same (URL, size and strong ETag).
struct ResumeState: Codable, Equatable {
    var source: String
    var size: Int
    var etag: String
    var completed: [[Int]]

    var ranges: [Range<Int>] { completed.compactMap { $0.count == 2 && $0[0] <= $0[1] ? $0[0] ..< $0[1] : nil } }

    static func load(_ path: String) -> ResumeState? {
        try? JSONDecoder().decode(ResumeState.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    func save(_ path: String) throws(StoreError) {
        do {
            try JSONEncoder().encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw .io(path: path, reason: "cannot record the download's progress: \(error.localizedDescription)")
        }
    }
}
