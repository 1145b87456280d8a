// Tracing and log checkpoints as a user meets them: a traced `ember run` on the real model holds every
// phase in order and every layer; `ember trace merge` and `summary` work on fragments of two
// processes; tracing that cannot write (an unusable directory, a full disk) leaves generation exactly
// as it was; a run killed by signals keeps what it recorded; `--log-level trace` shows checkpoints.

import EmberTestSupport
import Foundation
import Testing

@Suite(.serialized) struct TraceCLITests {
    static let prompt = ["run", "-p", "The capital of France is", "-n", "8", "--temp", "0", "-t", "2"]

    func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ember-cli-trace-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The spans of `events` named `name`, in time order.
    func spans(_ events: [[String: Any]], _ name: String) -> [(start: Double, end: Double, args: [String: Any])] {
        events.filter { $0["ph"] as? String == "X" && $0["name"] as? String == name }
            .compactMap { event in TraceChecks.interval(event).map { ($0.start, $0.end, event["args"] as? [String: Any] ?? [:]) } }
            .sorted { $0.start < $1.start }
    }

    @Test func realModelTracedRunHasEveryPhaseInOrderAndEveryLayer() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/run.json"
        let result = try EmberProcess.run(Self.prompt + ["--trace", file])
        #expect(result.status == 0 && result.stdout.hasPrefix(" Paris."))
        let events = try TraceChecks.events(inTrace: file)
        #expect(TraceChecks.problems(events).isEmpty, "\(TraceChecks.problems(events))")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["run.json"], "the fragment is merged and removed")

        let load = try #require(spans(events, "load").first)
        for child in ["load.resolve", "load.mmap", "load.parse", "load.tokenizer", "load.weights"] {
            let span = try #require(spans(events, child).first, "\(child) missing")
            #expect(span.start >= load.start && span.end <= load.end, "\(child) outside load")
        }
        let tokenize = try #require(spans(events, "tokenize").first)
        let prefill = try #require(spans(events, "prefill").first)
        let samples = spans(events, "sample"), decodes = spans(events, "decode"), detokenizes = spans(events, "detokenize")
        #expect(load.end <= tokenize.start && tokenize.end <= prefill.start)
        #expect(prefill.end <= samples[0].start)
        // Greedy: the first token is sampled from the prompt's logits, the others are chosen in the
        // forward pass that makes them (`forwardGreedy`).
        #expect(samples.count == 1 && detokenizes.count == 8)
        // The eighth token ends the run, so it needs no forward pass: seven decode steps, indexed 1...7.
        #expect(decodes.map { $0.args["index"] as? Int } == (1 ... 7).map { $0 })
        #expect(samples[0].end <= decodes[0].start)
        for layer in 0 ..< 30 {
            #expect(spans(events, "blk.\(layer)").count == 8, "blk.\(layer): one span per forward pass")
        }
        #expect(!events.contains { $0["cat"] as? String == "op" }, "op spans only at EMBER_TRACE_LEVEL=op")
        #expect(events.contains { $0["ph"] as? String == "C" && $0["name"] as? String == "kv_cache_fill" })
    }

    @Test func realModelOpLevelRecordsKernelsWithShapesAndTypes() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/op.json"
        let result = try EmberProcess.run(Self.prompt + ["--trace", file], environment: ["EMBER_TRACE_LEVEL": "op"])
        #expect(result.status == 0)
        let events = try TraceChecks.events(inTrace: file)
        #expect(TraceChecks.problems(events).isEmpty)
        let matmuls = spans(events, "matmul")
        #expect(matmuls.contains { $0.args["weights"] as? String == "blk.0.attn_q.weight,blk.0.attn_k.weight,blk.0.attn_v.weight"
                && $0.args["type"] as? String == "Q4_1,Q4_1,Q4_1" && $0.args["shape"] as? String == "5x576 -> 576+192+192" })
        for op in ["begin_step", "attention", "rms_norm", "matmul_gated", "embed", "logits"] {
            #expect(!spans(events, op).isEmpty, "\(op) missing")
        }
    }

    @Test func realModelMergeAndSummaryOfTwoProcesses() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let fragments = directory + "/fragments"
        let environment = ["EMBER_TRACE": fragments, "EMBER_TRACE_LEVEL": "phase"]
        #expect(try EmberProcess.run(Self.prompt, environment: environment).status == 0)
        #expect(try EmberProcess.run(["inspect", "--json"], environment: environment).status == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: fragments).count == 2)

        let merged = directory + "/trace.json"
        let merge = try EmberProcess.run(["trace", "merge", fragments, "-o", merged])
        #expect(merge.status == 0 && merge.stderr.contains("from 2 fragments"))
        let events = try TraceChecks.events(inTrace: merged)
        #expect(Set(events.compactMap { $0["pid"] as? Int }).count == 2)
        #expect(!events.contains { $0["cat"] as? String == "layer" })

        let summary = try EmberProcess.run(["trace", "summary", merged])
        #expect(summary.status == 0)
        for name in ["load.parse", "prefill", "decode", "sample", "share", "p95 ms"] {
            #expect(summary.stdout.contains(name), "summary lacks \(name)")
        }
        let missing = try EmberProcess.run(["trace", "summary", directory + "/nothing.json"])
        #expect(missing.status != 0 && missing.stderr.contains("nothing.json"))
    }

    @Test func realModelTracingThatCannotWriteLeavesGenerationAlone() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let plain = try EmberProcess.run(Self.prompt)
        #expect(plain.status == 0)

        // A directory that cannot be created: its parent is a file.
        try Data("x".utf8).write(to: URL(fileURLWithPath: directory + "/file"))
        let unusable = try EmberProcess.run(Self.prompt, environment: ["EMBER_TRACE": directory + "/file/traces"])
        #expect(unusable.status == 0 && unusable.stdout == plain.stdout)
        #expect(unusable.stderr.contains("tracing is off"))

        // A disk that fills up after 16 KiB: the first block of the fragment cannot be written.
        let full = try EmberProcess.run(Self.prompt, environment: ["EMBER_TRACE": directory + "/full", "EMBER_TRACE_LEVEL": "op"],
                                        fileSizeLimit: 16)
        #expect(full.status == 0 && full.stdout == plain.stdout)
        #expect(full.stderr.contains("tracing stopped"))
    }

    @Test func realModelRunKilledBySignalsKeepsItsTrace() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Phase level writes ~0.5 KB per token, so after two seconds (under 512 tokens) nothing has
        // filled a 256 KiB block: what the fragment holds was written by the signal handler. (One
        // second was too short to get past loading while the other suites load the machine.) SIGINT then SIGTERM back to back:
        // the second makes ember exit at once, without its exit handlers.
        let result = try EmberProcess.run(["run", "-p", "1, 2, 3, 4, 5, 6,", "-n", "-1", "--temp", "0"],
                                          environment: ["EMBER_TRACE": directory, "EMBER_TRACE_LEVEL": "phase"],
                                          signals: [(.seconds(2), SIGINT), (.zero, SIGTERM)])
        #expect(result.status == 128 + SIGTERM || result.status == 128 + SIGINT)
        let fragment = try #require(try FileManager.default.contentsOfDirectory(atPath: directory).first)
        let events = try TraceChecks.events(inFragment: directory + "/" + fragment)
        #expect(TraceChecks.problems(events).isEmpty)
        // A few tokens at least, however slow the machine and however many tests share it.
        #expect(spans(events, "decode").count >= 3)
    }

    @Test func realModelTraceLogLevelPrintsCheckpointsInOrder() throws {
        let result = try EmberProcess.run(["run", "-p", "1, 2, 3, 4, 5, 6,", "-n", "40", "--temp", "0", "--log-level", "trace"])
        #expect(result.status == 0)
        let lines = result.stderr.split(separator: "\n").map(String.init)
        let order = ["resolve: cache hit", "parsed", "weights ready", "prefill start", "prefill end",
                     "decoded 16 tokens", "decoded 32 tokens"]
        let positions = order.map { checkpoint in lines.firstIndex { $0.contains(checkpoint) } }
        #expect(positions.allSatisfy { $0 != nil }, "\(zip(order, positions).filter { $0.1 == nil }.map(\.0)) missing")
        #expect(positions.compactMap { $0 } == positions.compactMap { $0 }.sorted())
        #expect(lines.filter { $0.contains("prefill start") }.allSatisfy { $0.contains("trace") })
        let quiet = try EmberProcess.run(["run", "-p", "1, 2,", "-n", "4", "--temp", "0"])
        #expect(!quiet.stderr.contains("prefill start"))
        let bad = try EmberProcess.run(["run", "-p", "hi", "--log-level", "loud"])
        #expect(bad.status != 0 && bad.stderr.contains("--log-level"))
    }
}
