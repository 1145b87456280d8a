// Fetching a Hugging Face repository as one cached model: the Hub's listing gives the commit and the
// files; the files a checkpoint needs (HFRepository) are downloaded at that commit, each verified
// and resumable as a single file is, several at once: config and tokenizer files first (the caller
// hears when they are in, to build the tokenizer while the rest arrives), then the weight shards in
// order (the first layers' first). A fetch broken off is taken up again where it
// stopped: finished files are kept, partial ones resume. The entry (`entry.json`, listing every file
// and its size) is written last, so a repository is in the cache whole or not at all.

import EmberFormats
import EmberTrace
import Foundation
import NIOCore

extension ModelStore {
    /// Files downloaded at once (each over its own range connections).
    static let repositoryFilesAtOnce = 4

    /// The local directory of the cached repository, fetched first on a miss; `onMetadata` hears the
    /// directory as soon as the configuration and tokenizer files are in it (a fetch only).
    func fetchRepository(_ repository: HFRepository, onMetadata: (@Sendable (String) -> Void)? = nil) async throws(StoreError) -> CacheEntry {
        let source = repository.source, cache = cache
        if let hit = cache.lookup(source) {
            cache.touch(hit)
            return hit
        }
        if network.offline { throw .offline(reference: source, cache: cache.root.path) }
        let lock = try await cache.lock(source) { logger.notice("waiting for another ember process to finish downloading \(source)") }
        defer { lock.release() }
        if let hit = cache.lookup(source) {
            cache.touch(hit)
            return hit
        }
        let span = Trace.begin("load.download")
        defer { span?.end(args: ["source": .string(source)]) }

        let listing = try await repositoryListing(repository)
        let commit = listing.sha ?? repository.revision
        let hasIndex = listing.files.contains(CheckpointLayout.indexFile)
        // Without an index the weights are known now: a repository of pickles is refused before any download.
        let listedWeights = hasIndex ? nil : try repository.weightFiles(in: listing.files, index: nil)
        let directory = cache.directory(for: source).appendingPathComponent(repository.name, isDirectory: true)
        try prepare(directory, commit: commit)
        var sizes: [String: Int] = [:]
        let metadata = CheckpointLayout.metadataFiles.filter(listing.files.contains) + (hasIndex ? [CheckpointLayout.indexFile] : [])
        try await download(metadata, of: repository, commit: commit, into: directory, sizes: &sizes)
        checkpoint("fetch: repository metadata in", ["files": "\(metadata.count)"])
        onMetadata?(directory.path)
        let weights: [String]
        if let listedWeights {
            weights = listedWeights
        } else {
            weights = try repository.weightFiles(in: listing.files, index: try weightMap(directory.appendingPathComponent(CheckpointLayout.indexFile)))
        }
        try await download(weights, of: repository, commit: commit, into: directory, sizes: &sizes)

        let entry = CacheEntry(source: source, file: repository.name, size: sizes.values.reduce(0, +), etag: commit, sha256: nil,
                               created: Date(), lastUsed: Date(), files: sizes, directory: cache.directory(for: source))
        try cache.write(entry)
        checkpoint("fetch: repository cached", ["path": "\(directory.path)", "files": "\(sizes.count)", "bytes": "\(entry.size)"])
        return entry
    }

    /// The Hub's listing of the repository at its revision.
    private func repositoryListing(_ repository: HFRepository) async throws(StoreError) -> HFRepository.Listing {
        guard let url = repository.listingURL else { throw .invalidReference("hf:\(repository.owner)/\(repository.name)", reason: "not a valid URL") }
        let response = try await HTTPSource(url: url, token: token, policy: network).get()
        let body: Data
        do {
            var buffer = try await response.response.body.collect(upTo: 64 << 20)
            body = Data(buffer.readBytes(length: buffer.readableBytes) ?? [])
        } catch {
            throw .network(url: url.absoluteString, reason: "\(error)")
        }
        do { return try JSONDecoder().decode(HFRepository.Listing.self, from: body) } catch {
            throw .badResponse(url: url.absoluteString, reason: "not a repository listing: \(error)")
        }
    }

    /// The tensor-to-shard map of a downloaded model.safetensors.index.json.
    private func weightMap(_ index: URL) throws(StoreError) -> [String: String] {
        struct Index: Decodable { let weight_map: [String: String] }
        do { return try JSONDecoder().decode(Index.self, from: Data(contentsOf: index)).weight_map } catch {
            throw .invalidModel(path: index.path, reason: "not a safetensors index: \(error)")
        }
    }

    /// Readies the directory of an interrupted or new fetch of `commit`: the files an interrupted fetch
    /// of the same commit finished (moved into place only once verified) and its partial ones are
    /// kept; those of another commit (the revision moved on since) are cleared.
    private func prepare(_ directory: URL, commit: String) throws(StoreError) {
        let marker = directory.deletingLastPathComponent().appendingPathComponent("repository-commit")
        do {
            if (try? String(contentsOf: marker, encoding: .utf8)) != commit {
                try? FileManager.default.removeItem(at: directory)
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                try Data(commit.utf8).write(to: marker)
            }
        } catch {
            throw .cacheUnwritable(path: directory.path, reason: "\(error)")
        }
    }

    /// Downloads `files` (those not already there whole) into `directory`, a few at once, in order.
    private func download(_ files: [String], of repository: HFRepository, commit: String, into directory: URL,
                          sizes: inout [String: Int]) async throws(StoreError) {
        let store = self
        let results: [(String, Int)]
        do {
            results = try await withThrowingTaskGroup(of: (String, Int).self) { group in
                var collected: [(String, Int)] = [], next = 0
                func start() {
                    guard next < files.count else { return }
                    let file = files[next]
                    next += 1
                    group.addTask { (file, try await store.downloadFile(file, of: repository, commit: commit, into: directory)) }
                }
                for _ in 0 ..< Self.repositoryFilesAtOnce { start() }
                while let result = try await group.next() {
                    collected.append(result)
                    start()
                }
                return collected
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw .network(url: repository.source, reason: "\(error)")
        }
        for (file, size) in results { sizes[file] = size }
    }

    /// One file of the repository, verified, moved into place once whole; its size.
    private func downloadFile(_ file: String, of repository: HFRepository, commit: String, into directory: URL) async throws(StoreError) -> Int {
        guard let url = repository.fileURL(file, commit: commit) else {
            throw .invalidReference("hf:\(repository.owner)/\(repository.name)/\(file)", reason: "not a valid URL")
        }
        let path = directory.appendingPathComponent(file).path, partial = path + ".partial"
        if let finished = try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int { return finished }
        let source = HTTPSource(url: url, token: token, policy: network)
        let result = try await Downloader(source: source, connections: connections, style: progress)
            .download(to: .file(path: partial), name: file, onHeader: OnceCallback(nil))
        try cache.moveIntoPlace(partial, path)
        return result.sink.size
    }
}
