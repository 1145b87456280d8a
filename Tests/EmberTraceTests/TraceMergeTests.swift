// Merging fragments (one cut short, as a crashed process leaves it) into one trace-event file, and the
// summary's totals, means, p95 and wall-time shares on a trace whose numbers are known.

import EmberTestSupport
import EmberTrace
import Foundation
import Testing

private func span(_ name: String, _ category: String, ts: Double, dur: Double, tid: Int = 1) -> String {
    #"{"name":"\#(name)","cat":"\#(category)","ph":"X","ts":\#(ts),"dur":\#(dur),"pid":7,"tid":\#(tid)}"#
}

@Suite struct TraceMergeTests {
    @Test func mergeKeepsEveryCompleteLineOfATruncatedFragment() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A complete fragment, but for one line that is not a whole event.
        let whole = [span("load", "phase", ts: 0, dur: 10), #"{"name":"broken","ph":"X","args":{"a":"}"}"#,
                     span("prefill", "phase", ts: 10, dur: 5)]
        try (whole.joined(separator: "\n") + "\n").write(toFile: directory + "/a.jsonl", atomically: true, encoding: .utf8)
        // A crash mid-write: two complete lines, then half of a third.
        let cut = span("decode", "phase", ts: 20, dur: 1, tid: 2) + "\n" + span("decode", "phase", ts: 21, dur: 1, tid: 2) + "\n"
            + String(span("decode", "phase", ts: 22, dur: 1, tid: 2).prefix(30))
        try cut.write(toFile: directory + "/b.jsonl", atomically: true, encoding: .utf8)
        try "not a fragment".write(toFile: directory + "/notes.txt", atomically: true, encoding: .utf8)

        let output = directory + "/trace.json"
        let report = try TraceMerge.merge(inputs: [directory], output: output)
        #expect(report == MergeReport(fragments: 2, events: 4, droppedLines: 2))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output))) as? [String: Any])
        let merged = try #require(object["traceEvents"] as? [[String: Any]])
        #expect(merged.map { $0["name"] as? String } == ["load", "prefill", "decode", "decode"])
        #expect(TraceChecks.problems(merged).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: output + ".tmp-\(getpid())"))
    }

    @Test func aDirectoryWithoutFragmentsIsATypedError() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(throws: TraceError.noFragments(path: directory)) {
            try TraceMerge.merge(inputs: [directory], output: directory + "/trace.json")
        }
        #expect(throws: TraceError.self) { try TraceMerge.merge(inputs: [directory + "/missing"], output: directory + "/t.json") }
    }

    @Test func summaryTotalsMeansP95AndShares() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Wall time 0 ..< 1000 µs: load 100, prefill 200, twenty decode steps of 10..29 µs inside
        // 300 ..< 1000, each with one layer span of half its length.
        var lines = [span("load", "phase", ts: 0, dur: 100), span("prefill", "phase", ts: 100, dur: 200)]
        for step in 0 ..< 20 {
            let start = 300 + Double(step) * 35
            lines.append(span("decode", "phase", ts: start, dur: Double(10 + step)))
            lines.append(span("blk.0", "layer", ts: start, dur: Double(10 + step) / 2))
        }
        lines.append(span("end", "phase", ts: 990, dur: 10))
        try (lines.joined(separator: "\n") + "\n").write(toFile: directory + "/f.jsonl", atomically: true, encoding: .utf8)
        try TraceMerge.merge(inputs: [directory], output: directory + "/trace.json")

        let summary = try TraceSummary(contentsOf: directory + "/trace.json")
        #expect(summary.wall == 1000)
        let decode = try #require(summary.rows.first { $0.name == "decode" })
        #expect(decode.count == 20 && decode.total == 390 && decode.mean == 19.5)
        #expect(decode.p95 == 28)  // the 19th of 20 sorted durations (nearest rank)
        #expect(abs(decode.share - 0.39) < 1e-12)
        #expect(summary.rows.first?.name == "decode")  // most total time first
        #expect(summary.phases.map(\.name) == ["load", "prefill", "decode", "end"])
        let text = summary.render()
        #expect(text.contains("wall time 1.000 ms") && text.contains("blk.0") && text.contains("39.0%"))
    }

    @Test func summaryOfAFileThatIsNotATraceIsATypedError() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "[1, 2]".write(toFile: directory + "/x.json", atomically: true, encoding: .utf8)
        #expect(throws: TraceError.self) { try TraceSummary(contentsOf: directory + "/x.json") }
    }
}
