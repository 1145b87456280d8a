// What every `ember` command takes besides its own options: the log level and tracing. `apply` runs
// first in each command, before any library logs or records. A --trace that cannot be written is an
// error; EMBER_TRACE, set for every process, only warns.

import ArgumentParser
import EmberTrace
import Foundation
import Logging

struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("log-level"),
            help: "Log level: trace, debug, info, warning or error. At trace, each checkpoint of a run goes to stderr at once.",
            transform: GlobalOptions.logLevel)
    var logLevel: Logger.Level = .warning

    @Option(name: .customLong("trace"), help: ArgumentHelp(
        "Record a trace of this command into FILE (Chrome trace-event JSON: open it in Perfetto).",
        discussion: "EMBER_TRACE=DIR records every ember process into DIR instead (merge with `ember trace merge`); EMBER_TRACE_LEVEL=phase|layer|op sets the detail (default layer).",
        valueName: "file"))
    var trace: String?

    static func logLevel(_ name: String) throws -> Logger.Level {
        guard let level = Logger.Level(rawValue: name.lowercased()) else {
            throw ValidationError("--log-level must be trace, debug, info, warning or error, not \(name)")
        }
        return level
    }

    /// Sets up logging and, if asked for, tracing for the command `command`.
    func apply(command: String) throws {
        if trace?.isEmpty == true { throw ValidationError("--trace needs a file name") }
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let environment = ProcessInfo.processInfo.environment
        var traceLevel = TraceLevel.layer
        if let name = environment["EMBER_TRACE_LEVEL"], !name.isEmpty {
            guard let parsed = TraceLevel(name: name), parsed != .off else { throw TraceError.invalidLevel(name) }
            traceLevel = parsed
        }
        if let trace {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: trace, isDirectory: &isDirectory), isDirectory.boolValue {
                throw CommandFailure("--trace takes a file, and \(trace) is a directory (EMBER_TRACE=DIR records into a directory)")
            }
            do {
                try Trace.start(file: trace, level: traceLevel, processName: "ember \(command)")
            } catch {
                throw CommandFailure("cannot record the trace into \(trace): \(error)")
            }
            Trace.installSignalFlush()
            return
        }
        guard let directory = environment["EMBER_TRACE"], !directory.isEmpty else { return }
        do {
            try Trace.start(directory: directory, level: traceLevel, processName: "ember \(command)")
            Trace.installSignalFlush()
        } catch {
            // EMBER_TRACE is set for every process: where it cannot record, the command still runs.
            Logger(label: "ember").warning("tracing is off: \(error)")
        }
    }
}
