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
import Synchronization

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
    /// Bytes written since the kernel was last asked to start writing the file out.
    private let unflushed = Atomic<Int>(0)

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
        startWriteback(after: bytes.count)
    }

    /// How much written data may wait before the disk is asked to start writing it out.
    private static let writebackStep = 8 << 20

    /// Linux's sync_file_range(fd, offset, count, flags), which Swift's Glibc module does not
    /// export; nil where the C library lacks it.
    private typealias SyncFileRange = @convention(c) (Int32, Int64, Int64, UInt32) -> Int32
    private static let syncFileRange: SyncFileRange? =
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sync_file_range").map { unsafeBitCast($0, to: SyncFileRange.self) }
    private static let syncFileRangeWrite: UInt32 = 2  // SYNC_FILE_RANGE_WRITE: start writing, do not wait

    /// Asks the kernel, every `writebackStep` bytes, to start writing the whole file out without
    /// waiting: the fsync before the file is installed then finds little left to do (it took ~40 ms
    /// of a 0.8 s pull of the 98 MB test model when all the writing was left to it).
    private func startWriteback(after count: Int) {
        let total = unflushed.add(count, ordering: .relaxed).newValue
        guard total >= Self.writebackStep, unflushed.compareExchange(expected: total, desired: 0, ordering: .relaxed).exchanged else { return }
        _ = Self.syncFileRange?(descriptor, 0, 0, Self.syncFileRangeWrite)
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

    /// Replaces the state at `path` (written beside it, then renamed over it). There is no fsync: the
    /// state is saved after every chunk, and a sync each time held the download up by ~15 ms a chunk;
    /// what a crash of the machine could leave wrong, the size and checksum checks at the end catch.
    func save(_ path: String) throws(StoreError) {
        let temporary = path + ".tmp"
        let bytes = (try? JSONEncoder().encode(self)) ?? Data()
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        var failed = descriptor < 0
        if !failed {
            failed = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) } != bytes.count
            failed = close(descriptor) != 0 || failed
        }
        if failed || rename(temporary, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw .io(path: path, reason: "cannot record the download's progress: \(reason)")
        }
    }
}
