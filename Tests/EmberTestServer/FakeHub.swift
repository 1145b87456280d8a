// A Hugging Face repository as the Hub serves it, for the loopback server: the listing
// (`/api/models/OWNER/REPO/revision/main`) naming the commit and the files, `resolve` URLs at that
// commit, and the weights (.safetensors, LFS files) redirected to a CDN path with their sha256 in
// X-Linked-ETag.

import Foundation

public enum FakeHub {
    /// The repository every fake hub serves.
    public static let repository = "owner/repo"

    /// The paths and redirects that serve `files` (path in the repository to bytes) at `commit`.
    public static func hosting(_ files: [String: [UInt8]], commit: String = "0123abcd") -> (files: [String: [UInt8]], redirects: [String: Redirect]) {
        let listing = #"{"sha": "\#(commit)", "siblings": ["# + files.keys.sorted().map { #"{"rfilename": "\#($0)"}"# }.joined(separator: ", ") + "]}"
        var hosted = ["/api/models/\(repository)/revision/main": Array(listing.utf8)]
        var redirects: [String: Redirect] = [:]
        for (name, bytes) in files {
            let resolve = "/\(repository)/resolve/\(commit)/\(name)"
            if name.hasSuffix(".safetensors") {
                hosted["/cdn/\(name)"] = bytes
                let digest = bytes.withUnsafeBytes(SHA256Hex.of)
                redirects[resolve] = Redirect(location: "/cdn/\(name)", headers: ["X-Linked-ETag": "\"\(digest)\""])
            } else {
                hosted[resolve] = bytes
            }
        }
        return (hosted, redirects)
    }

    /// The files of a checkpoint directory, read for `hosting`.
    public static func files(inDirectory directory: String) throws -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            files[name] = try [UInt8](Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent(name)))
        }
        return files
    }
}
