// Every subcommand against a table of edge values: 0, -1, huge numbers, NaN, empty strings,
// non-ASCII text, paths that do not exist, directories, /dev/null, a FIFO, unreadable and unwritable
// places, truncated models and files that are not models. Each run must end on its own within the
// (generous) timeout with exit status 1 or 64 and one clear error line: never a signal, a crash
// report or a hang. Values that are extreme but valid may also succeed (status 0). Runs are offline,
// so nothing here waits on a network.

import EmberStore
import EmberTestSupport
import Foundation
import Testing

@Suite final class CLIRobustnessTests {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ember-robust-\(UUID().uuidString)")

    init() throws {
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: scratch) }

    /// What a case may end with.
    enum Outcome {
        /// Exit status 1 or 64 with one error line.
        case fails
        /// Extreme but valid: status 0, or 1 or 64 with one error line.
        case mayRun
    }

    struct Case: CustomStringConvertible {
        let arguments: [String]
        let outcome: Outcome
        var input: String? = nil
        var description: String { "ember " + arguments.map { $0.contains(" ") || $0.isEmpty ? "'\($0)'" : $0 }.joined(separator: " ") }
    }

    /// Files and places the cases name, made in the scratch directory.
    struct Fixtures {
        let model: String
        let directory: String
        let text: String
        let empty: String
        let truncatedHeader: String
        let truncatedData: String
        let unreadable: String
        let fifo: String
        let nonASCIIModel: String
        let missing: String
        let missingNonASCII: String
        let trace: String
        /// A loopback port something already listens on.
        let busyPort: Int
        let listener: BlackHole
    }

    func makeFixtures() throws -> Fixtures {
        let model = try ModelStore.standard().resolve("smollm2")
        func path(_ name: String) -> String { scratch.appendingPathComponent(name).path }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: model), options: .alwaysMapped)
        try FileManager.default.createDirectory(atPath: path("a directory.gguf"), withIntermediateDirectories: true)
        try Data("this is not a model\n".utf8).write(to: URL(fileURLWithPath: path("text.gguf")))
        try Data().write(to: URL(fileURLWithPath: path("empty.gguf")))
        try bytes.prefix(64 << 10).write(to: URL(fileURLWithPath: path("truncated-header.gguf")))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path("truncated-data.gguf")))
        try Data(repeating: 0xA5, count: 4096).write(to: URL(fileURLWithPath: path("unreadable.gguf")))
        chmod(path("unreadable.gguf"), 0)
        #expect(mkfifo(path("fifo.gguf"), 0o600) == 0)
        try FileManager.default.createSymbolicLink(atPath: path("модель 🔥.gguf"), withDestinationPath: model)
        let listener = try BlackHole()
        return Fixtures(model: model, directory: path("a directory.gguf"), text: path("text.gguf"), empty: path("empty.gguf"),
                        truncatedHeader: path("truncated-header.gguf"), truncatedData: path("truncated-data.gguf"),
                        unreadable: path("unreadable.gguf"), fifo: path("fifo.gguf"), nonASCIIModel: path("модель 🔥.gguf"),
                        missing: path("missing.gguf"), missingNonASCII: path("нет 模型.gguf"), trace: path("trace.json"),
                        busyPort: listener.url().port!, listener: listener)
    }

    func cases(_ f: Fixtures) -> [Case] {
        var cases: [Case] = []
        func add(_ outcome: Outcome, _ arguments: [String]) { cases.append(Case(arguments: arguments, outcome: outcome)) }
        let huge = "99999999999999999999", int64Max = "9223372036854775807"
        let badModels = ["", f.missing, f.missingNonASCII, f.directory, "/dev/null", f.fifo, f.text, f.empty, f.truncatedHeader,
                         f.truncatedData, f.unreadable, "hf:", "hf:owner", "hf:owner/repo", "ftp://example.com/m.gguf", "http://",
                         "no-such-alias", "hf:ember-test/missing-GGUF/missing.gguf"]
        let run = ["run", "-m", f.model, "-p", "hi", "-n", "1"]

        // run: the model.
        for model in badModels { add(.fails, ["run", "-m", model, "-p", "hi", "-n", "1"]) }
        add(.mayRun, ["run", "-m", f.nonASCIIModel, "-p", "こんにちは 🔥", "-n", "1"])
        // run: the prompt.
        add(.fails, ["run", "-m", f.model, "-p", "", "-n", "1"])
        for file in [f.missing, f.directory, "/dev/null", f.missingNonASCII, f.empty] { add(.fails, ["run", "-m", f.model, "-f", file, "-n", "1"]) }
        // run: numbers.
        for value in ["0", "-2", huge, "nan", "", "１"] { add(.fails, ["run", "-m", f.model, "-p", "hi", "-n", value]) }
        for value in ["0", "-1", huge, int64Max, "999999999999", "nan", ""] { add(.fails, run + ["-c", value]) }
        for value in ["0", "-1", huge, "nan", ""] { add(.fails, run + ["-t", value]) }
        add(.mayRun, run + ["-t", "1000"])
        add(.mayRun, run + ["-c", "100000"])
        for (option, values) in [("--temp", ["nan", "-1", "inf", "1e309", ""]), ("--top-p", ["2", "0", "-1", "nan"]),
                                 ("--min-p", ["-0.1", "1.5", "nan"]), ("--top-k", ["nan", huge]),
                                 ("--seed", ["-2", "18446744073709551616", "nan"]), ("--repeat-penalty", ["0", "-1", "nan"]),
                                 ("--repeat-last-n", ["-2", huge]), ("--presence-penalty", ["nan", "inf"]),
                                 ("--logit-bias", ["abc", "999999999+1", "1+nan", "", "-5+1"]), ("--cache-type", ["q4", ""]),
                                 ("--connections", ["0", "-1", "65"]), ("--connect-timeout", ["0", "-1", "nan", "1e9"]),
                                 ("--stall-timeout", ["0", "inf"]), ("--retries", ["-1", "101"]), ("--log-level", ["loud", ""])] {
            for value in values { add(.fails, run + [option, value]) }
        }
        for (option, value) in [("--top-k", "-3"), ("--top-k", "0"), ("--seed", "-1"), ("--seed", int64Max), ("--repeat-last-n", "-1"),
                                ("--stop", ""), ("--stop", "😀"), ("--temp", "1e30")] {
            add(.mayRun, run + [option, value])
        }
        add(.mayRun, ["run", "-m", f.model, "-p", "hi", "-n", "-1", "-c", "32"])  // no limit: ends when the context is full
        // run: speculative decoding.
        for value in ["0", "-1", "33", "x", huge, ""] { add(.fails, run + ["--lookup", value]) }
        for value in ["0", "33", "nan"] { add(.fails, run + ["--draft-model", f.model, "--draft", value]) }
        for model in [f.missing, f.directory, f.text, f.truncatedHeader] { add(.fails, run + ["--draft-model", model]) }
        add(.fails, run + ["--lookup", "4", "--draft-model", f.model])
        add(.mayRun, run + ["--lookup", "4"])
        add(.mayRun, run + ["--draft-model", f.model, "--draft", "2"])
        // Traces written where they cannot be.
        for trace in ["/proc/ember-trace.json", "/dev/null/trace.json", f.directory, ""] { add(.fails, run + ["--trace", trace]) }

        // chat: the model and numbers; an empty conversation ends cleanly.
        for model in [f.missing, f.directory, "/dev/null", f.text, f.truncatedHeader] { add(.fails, ["chat", "-m", model]) }
        for (option, value) in [("-n", "0"), ("--temp", "nan"), ("-c", "0"), ("-t", "-1"), ("--top-p", "7"), ("--lookup", "0")] {
            add(.fails, ["chat", "-m", f.model, option, value])
        }
        cases.append(Case(arguments: ["chat", "-m", f.model], outcome: .mayRun, input: ""))

        // serve: what cannot listen or cannot fit.
        for (option, value) in [("--port", "-1"), ("--port", "70000"), ("--port", "abc"), ("--parallel", "0"), ("--parallel", "-1"),
                                ("--queue", "-1"), ("--timeout", "-1"), ("--timeout", "nan"), ("--host", "not a host"), ("-c", "0"),
                                ("--lookup", "0"), ("--draft-model", f.missing)] {
            add(.fails, ["serve", "-m", f.model, option, value])
        }
        add(.fails, ["serve", "-m", f.model, "--parallel", "100000", "-c", "4096"])
        add(.fails, ["serve", "-m", f.model, "--port", String(f.busyPort)])
        add(.fails, ["serve", "-m", f.model, "--parallel", huge])
        for model in [f.missing, f.directory, f.text] { add(.fails, ["serve", "-m", model]) }

        // inspect.
        for model in badModels { add(.fails, ["inspect", model]) }
        add(.mayRun, ["inspect", f.nonASCIIModel])

        // bench: sizes, counts and samplers.
        let bench = ["bench", "-m", f.model, "-r", "1", "-p", "8", "-n", "2"]
        for (option, values) in [("-p", ["-1", "x", "100000", huge, ""]), ("-n", ["-1", "1,,2", "100000"]), ("-r", ["0", "-1", huge]),
                                 ("-t", ["0", "-1", "nan"]), ("-d", ["-5", "100000"]), ("-s", ["0", "-1"]),
                                 ("--sampler", ["bogus", ""]), ("--cache-type", ["q4"])] {
            for value in values { add(.fails, bench + [option, value]) }
        }
        for model in [f.missing, f.directory, f.text] { add(.fails, ["bench", "-m", model, "-r", "1"]) }

        // The store: pull, rm, list, cache prune.
        for reference in ["", "hf:", "hf:owner/repo", f.missing, "no-such-alias", "hf:ember-test/missing-GGUF/missing.gguf"] {
            add(.fails, ["pull", reference])
        }
        for reference in ["", "no-such-alias", f.missing, "hf:ember-test/missing-GGUF/missing.gguf"] { add(.fails, ["rm", reference]) }
        add(.mayRun, ["list"])
        for size in ["", "-1", "lots", "1XB", huge + "GB"] { add(.fails, ["cache", "prune", "--max-size", size]) }

        // trace tools on files that are not traces.
        for input in [f.missing, f.text, f.empty, "/dev/null", f.model] { add(.fails, ["trace", "summary", input]) }
        for input in [f.missing, f.text] { add(.fails, ["trace", "merge", input, "--output", f.trace]) }
        add(.fails, ["trace", "merge", f.directory, "--output", "/proc/merged.json"])

        // Subcommands and flags that do not exist.
        add(.fails, ["--bogus"])
        add(.fails, ["nonexistent-subcommand", "-p", "hi"])
        add(.fails, ["run", "-m", f.model, "-p", "hi", "--bogus"])
        return cases
    }

    /// Whether `stderr` tells of exactly one error in one line: ArgumentParser's hints after it (from
    /// a "Help:" or "Usage:" line on) and Ember's warnings ("ember: ...") aside.
    static func oneErrorLine(_ stderr: String) -> Bool {
        let lines = stderr.split(separator: "\n").prefix { !$0.hasPrefix("Usage:") && !$0.hasPrefix("Help:") }
            .filter { !$0.hasPrefix("ember: ") && !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        return lines.count == 1 && lines[0].hasPrefix("Error: ") && lines[0].count > "Error: ".count + 10
    }

    static let crashSigns = ["Fatal error", "Stack dump", "Current stack trace", "Segmentation fault", "Illegal instruction",
                             "💣", "Please submit a bug report"]

    @Test func everySubcommandEndsCleanlyOnEdgeValues() throws {
        let fixtures = try makeFixtures()
        let environment = ["EMBER_HOME": scratch.appendingPathComponent("home").path, "EMBER_OFFLINE": "1"]
        for testCase in cases(fixtures) {
            let result = try EmberProcess.run(testCase.arguments, environment: environment, input: testCase.input ?? "",
                                              timeout: .seconds(90))
            let context = "\(testCase)\nstatus \(result.status)\nstderr: \(result.stderr.prefix(600))"
            let (hung, signalled) = (result.timedOut, result.signalled)
            let crashed = Self.crashSigns.contains { result.stderr.contains($0) }
            #expect(!hung, "hung: \(context)")
            #expect(!signalled, "killed by a signal: \(context)")
            #expect(!crashed, "crashed: \(context)")
            guard !hung, !signalled else { continue }
            switch (testCase.outcome, result.status) {
            case (.mayRun, 0):
                break
            case (_, 1), (_, 64):
                #expect(Self.oneErrorLine(result.stderr), "not one clear error line: \(context)")
            default:
                Issue.record("exit status \(result.status), expected \(testCase.outcome == .fails ? "1 or 64" : "0, 1 or 64"): \(context)")
            }
        }
    }
}
