// Spawning the built `ember` as a user would: arguments, extra environment, signals sent while it runs,
// and optionally a file-size limit (a disk that fills up), with stdout and stderr captured.

import EmberTestSupport
import EmberTrace
import Foundation
import Synchronization
import Testing

enum EmberProcess {
    /// .build/release/ember next to this package (scripts/test builds it before the tests run).
    static let executable = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".build/release/ember")

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
        /// Whether a signal ended the process (a crash, or the kill after `timeout`).
        var signalled = false
        /// Whether it was killed for running past `timeout`.
        var timedOut = false
    }

    /// Runs ember with `arguments`, `input` on its stdin (then end of file). `signals` are sent in
    /// order, each after its delay (signals of one delay go out back to back); `fileSizeLimit` caps, in
    /// KiB, every file the process writes; a process still running after `timeout` is killed.
    static func run(_ arguments: [String], environment: [String: String] = [:], input: String? = nil,
                    signals: [(after: Duration, signal: Int32)] = [], fileSizeLimit: Int? = nil,
                    timeout: Duration? = nil) throws -> Result {
        try #require(FileManager.default.isExecutableFile(atPath: executable.path),
                     "build it first: swift build -c release")
        let process = Process()
        if let fileSizeLimit {
            // Writes past the limit fail with EFBIG, as on a full disk; SIGXFSZ is ignored so they fail
            // instead of killing the process.
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = ["-c", "trap '' XFSZ; ulimit -f \(fileSizeLimit); exec \"$0\" \"$@\"", executable.path] + arguments
        } else {
            process.executableURL = executable
            process.arguments = arguments
        }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let stdin = Pipe()
        if input != nil { process.standardInput = stdin }
        try process.run()
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try stdin.fileHandleForWriting.close()
        }
        let killed = Flag()
        let pid = process.processIdentifier
        let watchdog = DispatchWorkItem {
            killed.raise()
            kill(pid, SIGKILL)
        }
        if let timeout { DispatchQueue.global().asyncAfter(deadline: .now() + timeout.seconds, execute: watchdog) }
        defer { watchdog.cancel() }
        for (delay, signal) in signals {
            Thread.sleep(forTimeInterval: Double(delay.components.seconds) + Double(delay.components.attoseconds) * 1e-18)
            kill(process.processIdentifier, signal)
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        watchdog.cancel()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self), signalled: process.terminationReason == .uncaughtSignal,
                      timedOut: killed.isRaised)
    }

    /// A flag raised from another thread.
    final class Flag: Sendable {
        private let raised = Atomic<Bool>(false)
        func raise() { raised.store(true, ordering: .relaxed) }
        var isRaised: Bool { raised.load(ordering: .relaxed) }
    }

    /// Runs ember once per argument list, all at the same time, and waits for every one.
    static func runConcurrently(_ argumentLists: [[String]], environment: [String: String] = [:]) throws -> [Result] {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ember-concurrent-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let started = try argumentLists.enumerated().map { index, arguments in
            try ChildProcess(executable, arguments, environment: environment, outputIn: scratch, name: "\(index)")
        }
        return try started.map { child in
            let outcome = try child.wait()
            return Result(status: outcome.status, stdout: outcome.stdout, stderr: outcome.stderr)
        }
    }
}
