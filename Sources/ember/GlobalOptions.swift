// What every `ember` command takes besides its own options: the log level and tracing. `apply` runs
// first in each command, before any library logs or records.

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
        do {
            if let trace {
                try Trace.start(file: trace, level: traceLevel, processName: "ember \(command)")
            } else if let directory = environment["EMBER_TRACE"], !directory.isEmpty {
                try Trace.start(directory: directory, level: traceLevel, processName: "ember \(command)")
            } else {
                return
            }
            Trace.installSignalFlush()
        } catch {
            // Tracing is a diagnostic: when it cannot start, the command still runs.
            Logger(label: "ember").warning("tracing is off: \(error)")
        }
    }
}
