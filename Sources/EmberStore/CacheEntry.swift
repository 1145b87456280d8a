// A cache entry's metadata, `entry.json` beside the model file: where it came from, what it should
// be, and when it was last used (for `ember list` and for pruning the least recently used first).

import Foundation

public struct CacheEntry: Codable, Sendable, Equatable {
    /// The normalized source URL, whose hash names the entry's directory.
    public var source: String
    /// The model file's name inside the entry's directory (a repository's: the directory of its files).
    public var file: String
    public var size: Int
    public var etag: String?
    /// Hex sha256 of the file when the source gave one (and it was checked).
    public var sha256: String?
    public var created: Date
    public var lastUsed: Date
    /// A repository's entry: `file` is a directory of these files (path inside it to size); nil for a single file.
    public var files: [String: Int]? = nil

    /// Where the entry lives (not stored).
    public internal(set) var directory: URL? = nil

    enum CodingKeys: String, CodingKey {
        case source, file, size, etag, sha256, created, lastUsed, files
    }

    public var path: String? { directory?.appendingPathComponent(file).path }
}
