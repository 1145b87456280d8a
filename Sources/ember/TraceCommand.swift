// `ember trace merge` and `ember trace summary`: join the fragments that traced processes wrote into
// one file for Perfetto, and show where the time went.

import ArgumentParser
import EmberTrace
import Foundation

struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Merge and summarise traces recorded with --trace or EMBER_TRACE.",
        subcommands: [Merge.self, Summary.self])

    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Merge trace fragments (*.jsonl) into one trace-event file.")

        @Argument(help: "Directories of fragments (EMBER_TRACE=DIR) or fragment files.")
        var inputs: [String]

        @Option(name: .shortAndLong, help: "The merged trace.")
        var output = "trace.json"

        @OptionGroup var global: GlobalOptions

        func run() throws {
            try global.apply(command: "trace merge")
            let report = try TraceMerge.merge(inputs: inputs, output: output)
            guard report.events > 0 else {
                try? FileManager.default.removeItem(atPath: output)
                throw CommandFailure("no trace events in \(inputs.joined(separator: ", "))"
                    + (report.droppedLines > 0 ? ": \(report.droppedLines) lines are not trace events" : ""))
            }
            var line = "merged \(report.events) events from \(report.fragments) fragments into \(output)"
            if report.droppedLines > 0 { line += " (\(report.droppedLines) truncated or malformed lines left out)" }
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    struct Summary: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time per span name (count, total, mean, p95) and each phase's share of the wall time.")

        @Argument(help: "A merged trace (trace.json).")
        var file: String

        @OptionGroup var global: GlobalOptions

        func run() throws {
            try global.apply(command: "trace summary")
            FileHandle.standardOutput.write(Data(try TraceSummary(contentsOf: file).render().utf8))
        }
    }
}
