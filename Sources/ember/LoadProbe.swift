// Load time in a fresh process: `ember bench` (and scripts/bench/checkpoint-load) runs
// `ember load-probe FILE` (hidden) and reads the milliseconds it prints. For a cold start the probe first asks the kernel to drop the file's pages
// from the page cache (posix_fadvise DONTNEED), so the load reads the disk.

import ArgumentParser
import EmberEngine
import EmberFormats
import EmberStore
import Foundation

enum LoadProbe {
    /// Milliseconds a fresh `ember` takes to load the model at `path`.
    static func measure(path: String, cold: Bool, quantize: TensorType? = nil) throws -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        process.arguments = ["load-probe", path] + (cold ? ["--cold"] : []) + (quantize.map { ["--quantize", "\($0)"] } ?? [])
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

    @Flag(help: "Drop the file (a checkpoint's files) from the page cache first.")
    var cold = false

    @Option(name: .customLong("quantize"), help: "Quantize a checkpoint's weights while loading.")
    var quantize: TensorType?

    func run() throws {
        if cold {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: path).map { path + "/" + $0 }) ?? [path]
            files.forEach(Self.evictFromPageCache)
        }
        let loaded = try LoadedModel(reference: path, threads: 1, store: .standard(), quantize: quantize)
        print(loaded.loadMilliseconds)
    }

    static func evictFromPageCache(_ path: String) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        _ = posix_fadvise(descriptor, 0, 0, POSIX_FADV_DONTNEED)
    }
}
