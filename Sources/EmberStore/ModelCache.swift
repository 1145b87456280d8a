// The model cache on disk, `$EMBER_HOME/cache`:
//
//     cache/<key>/<file>               the model, complete and verified (a repository's: a directory
//                                      of its files, each verified, `<name>.partial` while it downloads)
//     cache/<key>/entry.json           its metadata (CacheEntry), written last: its presence marks the entry whole
//     cache/<key>/<file>.partial       a download under way or interrupted
//     cache/<key>/<file>.partial.json  the ranges of it that are finished (resume state)
//     cache/<key>.lock                 held (flock) by the process downloading or removing the entry
//
// `<key>` is the first 32 hex digits of the sha256 of the normalized source URL, so two files with the
// same name from different places never collide. A hit is judged by the metadata and the file's size,
// without reading the file.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging

public struct ModelCache: Sendable {
    public let root: URL

    public init(root: URL) {
        self.root = root
    }

    static let metadataName = "entry.json"

    static func key(for source: String) -> String {
        String(SHA256Digest.hex(of: source).prefix(32))
    }

    public func directory(for source: String) -> URL {
        root.appendingPathComponent(Self.key(for: source), isDirectory: true)
    }

    func lockPath(for source: String) -> String {
        root.appendingPathComponent(Self.key(for: source) + ".lock").path
    }

    func partialPath(for source: String, file: String) -> String {
        directory(for: source).appendingPathComponent(file + ".partial").path
    }

    /// The complete entry for `source`, if there is one.
    public func lookup(_ source: String) -> CacheEntry? {
        guard let entry = Self.entry(in: directory(for: source)), entry.source == source else { return nil }
        return entry
    }

    /// The entry in `directory` if its metadata reads back and its file has the recorded size.
    static func entry(in directory: URL) -> CacheEntry? {
        guard let data = try? Data(contentsOf: directory.appendingPathComponent(metadataName)),
              var entry = try? JSONDecoder.cache.decode(CacheEntry.self, from: data) else { return nil }
        entry.directory = directory
        var status = stat()
        guard let path = entry.path else { return nil }
        if let files = entry.files {  // a repository: every file there at its size
            for (name, size) in files where stat(path + "/" + name, &status) != 0 || Int(status.st_size) != size { return nil }
            return entry
        }
        guard stat(path, &status) == 0, Int(status.st_size) == entry.size else { return nil }
        return entry
    }

    /// Records that `entry` was used now (for pruning); best effort, as a read-only cache still serves.
    public func touch(_ entry: CacheEntry) {
        var entry = entry
        entry.lastUsed = Date()
        try? write(entry)
    }

    /// Waits for the lock of `source`'s entry (another process may be downloading it), creating the
    /// cache directories as needed. `onWait` is called once if the lock is taken.
    func lock(_ source: String, onWait: () -> Void) async throws(StoreError) -> FileLock {
        do {
            try FileManager.default.createDirectory(at: directory(for: source), withIntermediateDirectories: true)
        } catch {
            throw .cacheUnwritable(path: root.path, reason: "cannot create a directory: \(error.localizedDescription)")
        }
        var waited = false
        while true {
            let lock: FileLock?
            do { lock = try FileLock(path: lockPath(for: source), wait: false) } catch {
                throw .cacheUnwritable(path: root.path, reason: "\(error)")
            }
            if let lock { return lock }
            if !waited { onWait() }
            waited = true
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Moves a finished, verified download (`partial`) into place and writes its metadata, which makes
    /// the entry visible. The file is flushed to disk first, so a crash never leaves an entry whose
    /// file misses data.
    func install(_ partial: String, as entry: CacheEntry) throws(StoreError) -> CacheEntry {
        var entry = entry
        entry.directory = directory(for: entry.source)
        try moveIntoPlace(partial, entry.path!)
        try write(entry)
        return entry
    }

    /// Moves a finished download to `path` once its bytes are on disk, and drops its resume state.
    func moveIntoPlace(_ partial: String, _ path: String) throws(StoreError) {
        let descriptor = open(partial, O_RDONLY | O_CLOEXEC)
        let flushed = descriptor >= 0 && fsync(descriptor) == 0
        if descriptor >= 0 { close(descriptor) }
        guard flushed, rename(partial, path) == 0 else {
            throw .io(path: path, reason: "cannot move the download into place: \(String(cString: strerror(errno)))")
        }
        unlink(partial + ".json")
    }

    /// Writes the metadata of an entry whose file (or directory of files) is in place: the entry is whole from now on.
    func write(_ entry: CacheEntry) throws(StoreError) {
        let file = directory(for: entry.source).appendingPathComponent(Self.metadataName)
        do {
            try JSONEncoder.cache.encode(entry).write(to: file, options: .atomic)
        } catch {
            throw .io(path: file.path, reason: "cannot write the cache metadata: \(error.localizedDescription)")
        }
    }

    /// Everything in the cache: complete entries, most recently used first, and downloads that have
    /// not finished.
    public func contents() -> (entries: [CacheEntry], partial: [PartialDownload]) {
        let directories = (try? FileManager.default.contentsOfDirectory(at: root, includingPropertiesForKeys: nil)) ?? []
        var entries: [CacheEntry] = [], partial: [PartialDownload] = []
        for directory in directories where directory.hasDirectoryPath || isDirectory(directory) {
            if let entry = Self.entry(in: directory) {
                entries.append(entry)
            } else {
                partial += PartialDownload.all(in: directory)
            }
        }
        return (entries.sorted { $0.lastUsed > $1.lastUsed }, partial)
    }

    /// Removes the entry of `source` and any partial download of it; false when there was neither.
    public func remove(_ source: String) throws(StoreError) -> Bool {
        let directory = directory(for: source)
        guard FileManager.default.fileExists(atPath: directory.path) else { return false }
        let lock: FileLock?
        do { lock = try FileLock(path: lockPath(for: source), wait: true) } catch { throw .cacheUnwritable(path: root.path, reason: "\(error)") }
        defer { withExtendedLifetime(lock) {} }
        do {
            try FileManager.default.removeItem(at: directory)
        } catch {
            throw .io(path: directory.path, reason: "cannot remove: \(error.localizedDescription)")
        }
        return true
    }

    /// Removes the least recently used entries (and stale partial downloads, oldest first) until the
    /// cache holds at most `maxBytes`. Entries being downloaded are left alone. Returns what went.
    public func prune(maxBytes: Int) throws(StoreError) -> [String] {
        let (entries, partial) = contents()
        var candidates: [(path: URL, source: String, bytes: Int, used: Date)] =
            entries.map { ($0.directory!, $0.source, $0.size, $0.lastUsed) }
            + partial.map { ($0.directory, $0.source, $0.bytesOnDisk, $0.lastModified) }
        var total = candidates.reduce(0) { $0 + $1.bytes }
        candidates.sort { $0.used < $1.used }
        var removed: [String] = []
        for candidate in candidates where total > maxBytes {
            let lockPath = root.appendingPathComponent(candidate.path.lastPathComponent + ".lock").path
            guard let lock = try? FileLock(path: lockPath, wait: false) else { continue }  // being downloaded
            defer { withExtendedLifetime(lock) {} }
            do {
                try FileManager.default.removeItem(at: candidate.path)
            } catch {
                throw .io(path: candidate.path.path, reason: "cannot remove: \(error.localizedDescription)")
            }
            total -= candidate.bytes
            removed.append(candidate.source)
        }
        return removed
    }

    private func isDirectory(_ url: URL) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}

/// A download in the cache that has not finished: resumable when its state file is there.
public struct PartialDownload: Sendable {
    public let directory: URL
    /// The source URL, when the state file names it.
    public let source: String
    public let file: String
    /// The size the finished file will have (0 when unknown).
    public let size: Int
    /// Bytes finished so far.
    public let bytesDone: Int
    public let bytesOnDisk: Int
    public let lastModified: Date

    static func all(in directory: URL) -> [PartialDownload] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".partial") }.map { name in
            let path = directory.appendingPathComponent(name).path
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            let state = ResumeState.load(path + ".json")
            let done = state.map { RangePlan.covered(size: $0.size, done: $0.ranges) } ?? 0
            return PartialDownload(directory: directory, source: state?.source ?? directory.lastPathComponent,
                                   file: String(name.dropLast(".partial".count)), size: state?.size ?? 0, bytesDone: done,
                                   bytesOnDisk: (attributes?[.size] as? Int) ?? 0,
                                   lastModified: (attributes?[.modificationDate] as? Date) ?? .distantPast)
        }
    }
}

/// Dates in entry.json: ISO 8601 with milliseconds, so that uses a moment apart still order.
private let cacheDateFormat = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

extension JSONEncoder {
    static var cache: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(cacheDateFormat.format(date))
        }
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

extension JSONDecoder {
    static var cache: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = try? cacheDateFormat.parse(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an ISO 8601 date: \(text)"))
            }
            return date
        }
        return decoder
    }
}
