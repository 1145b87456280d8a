// A Hugging Face repository named as a whole model (`hf:OWNER/REPO[@REVISION]`), and which of its
// files a checkpoint needs: config.json, the tokenizer files, generation_config.json, and the
// safetensors weights (the shards model.safetensors.index.json names, or the .safetensors files at
// its top). Weights only in pickle formats are refused: Ember never unpickles.

import EmberFormats
import Foundation

public struct HFRepository: Sendable, Equatable {
    /// $HF_ENDPOINT or https://huggingface.co, without a trailing slash.
    public let endpoint: String
    public let owner: String
    public let name: String
    public let revision: String

    public init(endpoint: String, owner: String, name: String, revision: String) {
        (self.endpoint, self.owner, self.name, self.revision) = (endpoint, owner, name, revision)
    }

    /// The cache key's source: one per endpoint, repository and revision.
    public var source: String { "\(endpoint)/\(owner)/\(name)@\(revision)" }

    /// The Hub's listing of the repository at the revision: its commit and files.
    var listingURL: URL? { URL(string: "\(endpoint)/api/models/\(escape(owner))/\(escape(name))/revision/\(escape(revision))") }

    /// A file at `commit` (the listing's sha, so that every file comes from the same commit).
    func fileURL(_ path: String, commit: String) -> URL? {
        let file = path.split(separator: "/").map { escape(String($0)) }.joined(separator: "/")
        return URL(string: "\(endpoint)/\(escape(owner))/\(escape(name))/resolve/\(escape(commit))/\(file)")
    }

    private func escape(_ part: String) -> String { part.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? part }

    /// The listing's JSON: `{"sha": ..., "siblings": [{"rfilename": ...}]}`.
    struct Listing: Decodable {
        struct Sibling: Decodable { let rfilename: String }
        let sha: String?
        let siblings: [Sibling]

        var files: [String] { siblings.map(\.rfilename) }
    }

    /// The weight files of a repository holding `files`: the index's shards, else its top-level
    /// .safetensors files. Throws for a repository with only pickled weights, or none.
    func weightFiles(in files: [String], index: [String: String]?) throws(StoreError) -> [String] {
        let reference = "hf:\(owner)/\(name)"
        if let index {
            let shards = Set(index.values).sorted()
            for shard in shards where shard.contains("/") || shard.contains("..") || !files.contains(shard) {
                throw .invalidModel(path: reference, reason: "\(CheckpointLayout.indexFile) names \(shard), which the repository does not have")
            }
            return shards
        }
        let weights = files.filter { !$0.contains("/") && $0.hasSuffix(".safetensors") }.sorted()
        guard weights.isEmpty else { return weights }
        let pickles = files.filter(CheckpointLayout.isPickle)
        if !pickles.isEmpty { throw .pickleOnly(reference: reference, files: pickles) }
        throw .invalidModel(path: reference, reason: "the repository has no .safetensors weights (and no GGUF was named: use hf:OWNER/REPO/FILE.gguf)")
    }
}
