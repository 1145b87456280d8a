// The test file server in a process of its own (`ember-test-server`, built beside `ember`): the
// command-line tests block their thread on `ember`, which must not starve a server in this process.

import Foundation
import Testing

final class TestServerProcess {
    let port: Int
    private let process = Process()
    private let input = Pipe(), output = Pipe()

    /// Serves `files` (each at /<its name>) with the server's flags `options` (e.g. ["--etag", "sha256"]).
    init(files: [String], options: [String] = []) throws {
        let executable = EmberProcess.executable.deletingLastPathComponent().appendingPathComponent("ember-test-server")
        try #require(FileManager.default.isExecutableFile(atPath: executable.path), "build it first: swift build -c release")
        process.executableURL = executable
        process.arguments = options + files
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        var line = Data()
        while let byte = try output.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) { line += byte }
        port = try #require(Int(String(decoding: line, as: UTF8.self)), "the test server did not start")
    }

    func url(_ name: String) -> String { "http://127.0.0.1:\(port)/\(name)" }

    /// Stops the server and returns the body bytes it sent.
    func stop() throws -> Int {
        try input.fileHandleForWriting.close()
        let rest = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return rest.split(separator: "\n").compactMap { $0.hasPrefix("bytes_sent ") ? Int($0.dropFirst(11)) : nil }.first ?? -1
    }

    deinit {
        if process.isRunning { process.terminate() }
    }
}
