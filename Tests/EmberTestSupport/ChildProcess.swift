// A child process whose stdout and stderr go to files rather than pipes, so that it never blocks on a
// full pipe and several can run at once; for the tests and tools that spawn `ember`.

import Foundation

public final class ChildProcess {
    public struct Outcome {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    private let process = Process()
    private let out: URL, err: URL

    /// Starts `executable` with `arguments` and `environment` over the current one; its output goes
    /// to `name.out` and `name.err` in `directory`.
    public init(_ executable: URL, _ arguments: [String], environment: [String: String] = [:], outputIn directory: URL,
                name: String) throws {
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        out = directory.appendingPathComponent("\(name).out")
        err = directory.appendingPathComponent("\(name).err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
    }

    /// Waits for the process to end.
    public func wait() throws -> Outcome {
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, stdout: try String(contentsOf: out, encoding: .utf8),
                       stderr: try String(contentsOf: err, encoding: .utf8))
    }
}
