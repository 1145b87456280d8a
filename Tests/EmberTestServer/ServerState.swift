// The server's mutable state, shared by the public facade and every connection task: hosted files,
// configuration, the request log, byte counters and the open connections that shutdown must close.

import NIOCore
import NIOHTTP1
import Synchronization

final class ServerState: Sendable {
    private struct Contents {
        var configuration: Configuration
        var files: [String: HostedFile] = [:]
        var nextFileVersion = 1
        /// Hex sha256 by file version, computed on first use: hashing 100 MB is too slow to do eagerly.
        var sha256ByVersion: [Int: String] = [:]
        var requests: [RecordedRequest] = []
        var nextRequestIndex = 0
        var bytesSent = 0
        var openConnections: [ObjectIdentifier: any Channel] = [:]
        var isShutDown = false
    }

    private let contents: Mutex<Contents>

    init(configuration: Configuration) {
        contents = Mutex(Contents(configuration: configuration))
    }

    var configuration: Configuration {
        get { contents.withLock { $0.configuration } }
        set { contents.withLock { $0.configuration = newValue } }
    }

    // MARK: Files

    func setFile(_ path: String, _ bytes: [UInt8]) {
        let buffer = ByteBuffer(bytes: bytes)
        contents.withLock {
            if let replaced = $0.files[path] { $0.sha256ByVersion[replaced.version] = nil }
            $0.files[path] = HostedFile(contents: buffer, version: $0.nextFileVersion)
            $0.nextFileVersion += 1
        }
    }

    func removeFile(_ path: String) {
        contents.withLock {
            if let removed = $0.files.removeValue(forKey: path) { $0.sha256ByVersion[removed.version] = nil }
        }
    }

    /// The content to answer `path` with, if any: the hosted file, else (with sidecars on) the sidecar
    /// of the file hosted at `path` minus its `.sha256` suffix.
    func resource(at path: String, configuration: Configuration) -> ServedResource? {
        let sidecarSuffix = ".sha256"
        let subjectPath = path.hasSuffix(sidecarSuffix) ? String(path.dropLast(sidecarSuffix.count)) : nil
        let (file, sidecarSubject) = contents.withLock { contents in
            (contents.files[path], subjectPath.flatMap { contents.files[$0] })
        }
        if let file {
            return ServedResource(file: file, configuration: configuration) { sha256Hex(of: file) }
        }
        guard configuration.sidecars, let subjectPath, let sidecarSubject else { return nil }
        let fileName = subjectPath.split(separator: "/").last.map(String.init) ?? subjectPath
        return ServedResource(sidecarOf: sidecarSubject, named: fileName, fileSHA256Hex: sha256Hex(of: sidecarSubject), configuration: configuration)
    }

    /// Hashes outside the lock so other connections aren't stalled; two requests racing may both hash.
    private func sha256Hex(of file: HostedFile) -> String {
        if let known = contents.withLock({ $0.sha256ByVersion[file.version] }) { return known }
        let digest = file.contents.withUnsafeReadableBytes { SHA256Hex.of($0) }
        contents.withLock {
            // Only cache for a version still hosted, or the cache would outlive the file.
            if $0.files.values.contains(where: { $0.version == file.version }) { $0.sha256ByVersion[file.version] = digest }
        }
        return digest
    }

    // MARK: Request log

    /// Logs a request as it arrives and returns its record.
    func record(_ head: HTTPRequestHead) -> RecordedRequest {
        let target = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = String(target[0])
        let rangeSpec = head.headers.first(name: "range").flatMap(ByteRangeSpec.init(header:))
        return contents.withLock {
            let request = RecordedRequest(
                index: $0.nextRequestIndex,
                method: head.method.rawValue,
                path: path,
                query: target.count > 1 ? String(target[1]) : nil,
                headers: head.headers.map { (name: $0.name.lowercased(), value: $0.value) },
                range: rangeSpec?.requestedRange(size: $0.files[path]?.contents.readableBytes ?? 0)
            )
            $0.nextRequestIndex += 1
            $0.requests.append(request)
            return request
        }
    }

    var requests: [RecordedRequest] { contents.withLock { $0.requests } }

    func resetRequests() {
        contents.withLock { $0.requests.removeAll() }
    }

    func addBytesSent(_ count: Int) {
        contents.withLock { $0.bytesSent += count }
    }

    var bytesSent: Int { contents.withLock { $0.bytesSent } }

    // MARK: Connections

    /// False once shutdown has begun: the caller must then close `connection` itself.
    func register(_ connection: any Channel) -> Bool {
        contents.withLock {
            guard !$0.isShutDown else { return false }
            $0.openConnections[ObjectIdentifier(connection)] = connection
            return true
        }
    }

    func unregister(_ connection: any Channel) {
        _ = contents.withLock { $0.openConnections.removeValue(forKey: ObjectIdentifier(connection)) }
    }

    /// Marks the server shut down and hands back the connections to close; nil if it already was.
    func beginShutdown() -> [any Channel]? {
        contents.withLock {
            guard !$0.isShutDown else { return nil }
            $0.isShutDown = true
            return Array($0.openConnections.values)
        }
    }
}
