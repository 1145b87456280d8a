// Load time in a fresh process: `ember bench` runs `ember load-probe FILE` (hidden) and reads the
// milliseconds it prints. For a cold start the probe first asks the kernel to drop the file's pages
// from the page cache (posix_fadvise DONTNEED), so the load reads the disk.

import ArgumentParser
import EmberEngine
import EmberStore
import Foundation

enum LoadProbe {
    /// Milliseconds a fresh `ember` takes to load the model at `path`.
    static func measure(path: String, cold: Bool) throws -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        process.arguments = ["load-probe", path] + (cold ? ["--cold"] : [])
        var environment = ProcessInfo.processInfo.environment
        environment["EMBER_TRACE"] = nil  // the probe measures loading, not tracing
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let milliseconds = Double(String(decoding: output, as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw CommandFailure("cannot measure the load time of \(path): the load probe failed")
        }
        return milliseconds
    }
}

struct LoadProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load-probe", abstract: "Print the milliseconds a model takes to load (for ember bench).",
        shouldDisplay: false)

    @Argument var path: String

    @Flag(help: "Drop the file from the page cache first.")
    var cold = false

    func run() throws {
        if cold { Self.evictFromPageCache(path) }
        let loaded = try LoadedModel(reference: path, threads: 1, store: .standard())
        print(loaded.loadMilliseconds)
    }

    static func evictFromPageCache(_ path: String) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        _ = posix_fadvise(descriptor, 0, 0, POSIX_FADV_DONTNEED)
    }
}
