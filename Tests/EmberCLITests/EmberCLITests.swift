// The `ember` executable as a user runs it: built by scripts/test (`swift build -c release`), spawned
// here with real arguments on the default model. Checks what goes to stdout and stderr, exit codes,
// and that Ctrl-C (SIGINT) ends a generation cleanly.

import EmberTestSupport
import Foundation
import Testing

@Suite(.serialized) struct EmberCLITests {
    static func ember(_ arguments: [String], interruptAfter: Duration? = nil) throws -> EmberProcess.Result {
        try EmberProcess.run(arguments, signals: interruptAfter.map { [($0, SIGINT)] } ?? [])
    }

    @Test func realModelRunStreamsOnlyTextAndSummarisesOnStderr() throws {
        let result = try Self.ember(["run", "-p", "The capital of France is", "-n", "8", "--temp", "0", "-t", "2"])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix(" Paris."))  // the reference's greedy continuation
        #expect(!result.stdout.contains("tok/s"))
        let summary = try #require(result.stderr.split(separator: "\n").last)
        #expect(summary.contains("load ") && summary.contains("prompt 5 tokens") && summary.contains("generation 8 tokens"))
    }

    @Test func realModelStopStringIsNotPrinted() throws {
        // Greedy continues with " Paris.\n\nThe answer is: ..." (Tests/EmberEngineTests/Fixtures).
        let result = try Self.ember(["run", "-p", "The capital of France is", "-n", "64", "--temp", "0", "--stop", "answer"])
        #expect(result.status == 0)
        #expect(result.stdout == " Paris.\n\nThe ")
        #expect(result.stderr.contains("stop: stopString"))
    }

    @Test func realModelSeedMakesSamplingRepeatable() throws {
        let arguments = ["run", "-p", "Once upon a time", "-n", "16", "--temp", "1.0", "--seed", "42"]
        let first = try Self.ember(arguments), second = try Self.ember(arguments)
        #expect(first.status == 0 && !first.stdout.isEmpty)
        #expect(first.stdout == second.stdout)
    }

    /// `--json-schema` and `--grammar`: the output follows them, sampled too; a schema keyword Ember
    /// cannot follow, a grammar that does not parse and a missing file are one line naming the problem.
    @Test func realModelStructuredOutputFollowsTheSchemaOrGrammar() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ember-cli-grammar-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func write(_ name: String, _ text: String) throws -> String {
            let path = directory.appendingPathComponent(name).path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let schema = try write("city.json", #"{"type":"object","properties":{"city":{"type":"string","maxLength":20},"population":{"type":"integer"}},"required":["city","population"]}"#)
        for temperature in ["0", "0.8"] {
            let result = try Self.ember(["run", "-p", "Name a big city as JSON.", "-n", "200", "--temp", temperature, "--seed", "4",
                                         "--json-schema", schema])
            #expect(result.status == 0 && result.stderr.contains("stop: endOfGeneration"), "\(result.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            #expect(object?["city"] is String && object?["population"] is Int, "\(result.stdout)")
        }
        let grammar = try write("answer.gbnf", #"root ::= ("yes" | "no") "!""#)
        let answer = try Self.ember(["run", "-p", "Is the sea salty?", "--temp", "0.8", "--grammar", grammar])
        #expect(answer.status == 0 && ["yes!", "no!"].contains(answer.stdout), "\(answer.stdout)")

        let pattern = try write("pattern.json", #"{"type":"string","pattern":"^a"}"#)
        let broken = try write("broken.gbnf", #"root ::= "a"# + "\n")
        for (arguments, message) in [(["--json-schema", pattern], "'pattern' is not supported"), (["--grammar", broken], "unterminated string"),
                                     (["--grammar", "/nonexistent/g.gbnf"], "/nonexistent/g.gbnf: cannot read it")] {
            let result = try Self.ember(["run", "-p", "hi"] + arguments)
            #expect(result.status != 0 && result.stderr.contains(message), "\(result.stderr)")
        }
    }

    @Test func realModelPromptLongerThanTheContextIsAClearError() throws {
        let result = try Self.ember(["run", "-c", "8", "-p", String(repeating: "word ", count: 50)])
        #expect(result.status != 0)
        #expect(result.stderr.contains("context"))
        #expect(result.stdout.isEmpty)
    }

    @Test func missingModelFileIsAClearError() throws {
        let result = try Self.ember(["run", "-m", "/nonexistent/model.gguf", "-p", "hi"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("/nonexistent/model.gguf"))
    }

    @Test func badOptionsAreRejected() throws {
        let result = try Self.ember(["run", "-n", "0", "-p", "hi"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("-n must be positive"))
    }

    @Test func numericOptionsTakeNegativeValuesAndNameTheirRanges() throws {
        for (arguments, message) in [(["--temp", "-1"], "--temp must be 0 (greedy) or more"), (["--temp", "nan"], "--temp must be"),
                                     (["--top-p", "nan"], "--top-p must be in (0, 1]"), (["--min-p", "-0.5"], "--min-p must be in [0, 1]"),
                                     (["--seed", "-5"], "--seed must be 0 or more, or -1"),
                                     (["--repeat-last-n", "-2"], "--repeat-last-n must be -1"),
                                     (["--presence-penalty", "inf"], "--presence-penalty must be a finite number"),
                                     (["-t", "-1"], "-t must be at least 1"), (["-c", "-4"], "-c must be at least 1")] {
            let result = try Self.ember(["run", "-p", "hi"] + arguments)
            #expect(result.status == 64, "\(arguments)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
    }

    @Test func realModelSeedMinusOneIsRandomPrintedAndRepeatable() throws {
        let first = try Self.ember(["run", "-p", "Once upon a time", "-n", "12", "--temp", "1", "--seed", "-1"])
        #expect(first.status == 0)
        let line = try #require(first.stderr.split(separator: "\n").first { $0.hasPrefix("ember: seed ") })
        let seed = try #require(line.split(separator: " ").dropFirst(2).first.map(String.init))
        let again = try Self.ember(["run", "-p", "Once upon a time", "-n", "12", "--temp", "1", "--seed", seed])
        #expect(again.stdout == first.stdout && !again.stderr.contains("ember: seed"))
    }

    @Test func realModelTopKBelowZeroIsOffAsInLlamaCpp() throws {
        let arguments = ["run", "-p", "Once upon a time", "-n", "12", "--temp", "1.5", "--top-p", "1", "--min-p", "0", "--seed", "7"]
        let off = try Self.ember(arguments + ["--top-k", "0"]), negative = try Self.ember(arguments + ["--top-k", "-1"])
        #expect(off.status == 0 && negative.status == 0)
        #expect(negative.stdout == off.stdout)
    }

    @Test func realModelThreadsBeyondTheCPUsAreClampedWithAWarning() throws {
        let result = try Self.ember(["run", "-p", "The capital of France is", "-n", "2", "--temp", "0", "-t", "1000"])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix(" Paris"))
        #expect(result.stderr.contains("-t 1000 is more than the"))
    }

    @Test func realModelContextBeyondTheMachineIsAnErrorNamingTheNumbers() throws {
        let run = try Self.ember(["run", "-p", "hi", "-c", "999999999"])
        #expect(run.status == 1)
        #expect(run.stderr.contains("needs 23040.0 GB of KV cache") && run.stderr.contains("use -c"), "\(run.stderr)")
        #expect(!run.stderr.contains("Fatal error"))
        // Interrupted after 5 s (the helper waits that long) in case it were to start serving instead.
        let serve = try Self.ember(["serve", "--parallel", "100000", "-c", "4096", "--port", "0"], interruptAfter: .seconds(5))
        #expect(serve.status == 1)
        #expect(serve.stderr.contains("for each of 100000 slots") && serve.stderr.contains("fewer --parallel"), "\(serve.stderr)")
    }

    @Test func realModelInterruptEndsGenerationCleanly() throws {
        // Greedy on this prompt counts on without an end token (600 tokens checked), so only the
        // interrupt can end it within the 2 seconds.
        let result = try Self.ember(["run", "-p", "1, 2, 3, 4, 5, 6,", "-n", "-1", "-c", "4096", "--temp", "0"],
                                    interruptAfter: .seconds(2))
        #expect(result.status == 0)
        #expect(!result.stdout.isEmpty)
        #expect(result.stderr.contains("stop: cancelled"))
    }

    @Test func realModelBenchReportsEveryMeasurement() throws {
        let result = try Self.ember(["bench", "-p", "16,32", "-n", "4", "-t", "1,2", "-r", "2", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let results = try #require(object["results"] as? [[String: Any]])
        #expect(results.map { "\($0["test"]!)@\($0["threads"]!)" }.sorted()
            == ["pp16@1", "pp16@2", "pp32@1", "pp32@2", "tg4 sampled@1", "tg4 sampled@2", "tg4@1", "tg4@2"])
        for entry in results {
            #expect(entry["model"] as? String == "SmolLM2-135M-Instruct.Q4_1")
            #expect((entry["tokens_per_second"] as? Double ?? 0) > 0 && (entry["samples"] as? [Double])?.count == 2)
        }
        for key in ["load_ms_cold", "load_ms_warm", "ttft_ms", "peak_rss_mb"] {
            #expect((object[key] as? Double ?? 0) > 0, "\(key)")
        }

        let table = try Self.ember(["bench", "-p", "16", "-n", "4", "-r", "1"])
        #expect(table.status == 0 && table.stdout.contains("| pp16 |") && table.stdout.contains("| tg4 |"))
        #expect(table.stdout.contains("peak RSS"))
        let bad = try Self.ember(["bench", "-p", "8,x"])
        #expect(bad.status != 0 && bad.stderr.contains("non-negative"))

        // At a depth, with the temperature-only sampler: each test starts with 40 tokens in the cache.
        let deep = try Self.ember(["bench", "-p", "8", "-n", "4", "-d", "0,40", "--sampler", "temp", "-r", "1", "--json"])
        let skipped = try Self.ember(["bench", "-p", "0", "-n", "4", "-r", "1", "--sampler", "greedy", "--json"])
        let skippedResults = try #require(try JSONSerialization.jsonObject(with: Data(skipped.stdout.utf8)) as? [String: Any])
        #expect((skippedResults["results"] as? [[String: Any]])?.map { $0["test"] as? String } == ["tg4"])
        #expect(deep.status == 0, "\(deep.stderr)")
        let deepObject = try #require(try JSONSerialization.jsonObject(with: Data(deep.stdout.utf8)) as? [String: Any])
        let deepResults = try #require(deepObject["results"] as? [[String: Any]])
        #expect(deepResults.map { "\($0["test"]!)/\($0["depth"]!)" }
            == ["pp8/0", "tg4 sampled/0", "pp8 @ d40/40", "tg4 sampled @ d40/40"])
        let badSampler = try Self.ember(["bench", "--sampler", "hot"])
        #expect(badSampler.status != 0 && badSampler.stderr.contains("greedy, default and temp"))
    }

    @Test func realModelInspectJSONDescribesTheModel() throws {
        let result = try Self.ember(["inspect", "smollm2", "--json"])
        #expect(result.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let metadata = try #require(object["metadata"] as? [String: Any])
        #expect(metadata["general.architecture"] as? String == "llama")
        let tensors = try #require(object["tensors"] as? [[String: Any]])
        #expect(tensors.count == 272)
    }

    /// A checkpoint directory is shown as Ember reads it; a repository not in the cache is not fetched.
    @Test func inspectDescribesACheckpointAsEmberReadsIt() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("EmberModelTests/Fixtures/tiny_llama_checkpoint.json")
        let directory = try CheckpointFixture.directory(json: fixture)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let text = try Self.ember(["inspect", directory])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("Hugging Face checkpoint") && text.stdout.contains("blk.0.attn_q.weight"), "\(text.stdout)")
        let json = try Self.ember(["inspect", directory, "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect((object["metadata"] as? [String: Any])?["general.architecture"] as? String == "llama")
        #expect(((object["tensors"] as? [[String: Any]])?.count ?? 0) > 5)
        let uncached = try Self.ember(["inspect", "hf:ember-test/not-cached", "--offline"])
        #expect(uncached.status != 0 && uncached.stderr.contains("ember pull"), "\(uncached.stderr)")
    }

    @Test func realModelInspectTextShowsTheTensorTable() throws {
        let result = try Self.ember(["inspect"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("blk.0.attn_q.weight"))
        #expect(result.stdout.contains("q4_1") || result.stdout.contains("Q4_1"))
        #expect(result.stdout.contains("chat template") || result.stdout.contains("Chat template"))
    }
}
