// The recorder's fragments parsed back and held to the trace-event format (TraceChecks: every event
// has name, ph, ts, pid and tid, spans have dur >= 0 and nest properly on each row), and concurrent
// async work on one row per track. Serialized: tracing is process-wide.

import EmberTestSupport
import EmberTrace
import Foundation
import Testing

/// A fresh directory under the system's temporary one.
func temporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("ember-trace-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Suite(.serialized) struct TraceRecorderTests {
    @Test func spansInstantsCountersAndMetadataFollowTheFormat() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let fragment = try Trace.start(directory: directory, level: .layer, processName: "trace test")
        #expect(Trace.isOn(.phase) && Trace.isOn(.layer) && !Trace.isOn(.op))
        let result = Trace.span("outer", args: ["index": 7, "kind": "test \"quoted\"", "ratio": 0.5]) { () -> Int in
            Trace.span("inner", level: .layer) { Trace.instant("checkpoint") }
            Trace.span("skipped", level: .op) {}
            Trace.counter("tokens/s", 123.5)
            return 42
        }
        // Spans from other threads land on rows of their own.
        DispatchQueue.concurrentPerform(iterations: 4) { index in
            Trace.nameThread("helper \(index)")
            for _ in 0 ..< 50 { Trace.span("work", level: .layer) { Trace.span("step", level: .layer) {} } }
        }
        Trace.stop()
        #expect(result == 42 && !Trace.isOn(.phase))

        let recorded = try TraceChecks.events(inFragment: fragment)
        #expect(TraceChecks.problems(recorded).isEmpty, "\(TraceChecks.problems(recorded))")
        let names = recorded.map { $0["name"] as! String }
        #expect(names.contains("process_name") && names.contains("thread_name"))
        #expect(!names.contains("skipped"))
        #expect(names.filter { $0 == "work" }.count == 200)
        let outer = try #require(recorded.first { $0["name"] as? String == "outer" })
        #expect(outer["ph"] as? String == "X" && outer["cat"] as? String == "phase")
        let args = try #require(outer["args"] as? [String: Any])
        #expect(args["index"] as? Int == 7 && args["kind"] as? String == "test \"quoted\"" && args["ratio"] as? Double == 0.5)
        let counter = try #require(recorded.first { $0["ph"] as? String == "C" })
        #expect((counter["args"] as? [String: Any])?["value"] as? Double == 123.5)
        #expect(recorded.contains { $0["ph"] as? String == "i" && $0["name"] as? String == "checkpoint" })
        let process = try #require(recorded.first { $0["name"] as? String == "process_name" })
        #expect((process["args"] as? [String: Any])?["name"] as? String == "trace test")
        let rows = Set(recorded.filter { $0["name"] as? String == "work" }.map { $0["tid"] as! Int })
        #expect(rows.count >= 1 && rows.count <= 4)
    }

    @Test func concurrentTasksGetOneRowEach() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let fragment = try Trace.start(directory: directory, level: .phase, processName: "tracks")
        await withTaskGroup(of: Void.self) { group in
            for request in 0 ..< 8 {
                group.addTask {
                    await Trace.withTrack("request \(request)") {
                        await Trace.span("request") {
                            for _ in 0 ..< 5 {
                                await Trace.span("step") { try? await Task.sleep(for: .milliseconds(2)) }
                            }
                        }
                    }
                }
            }
        }
        Trace.stop()

        let recorded = try TraceChecks.events(inFragment: fragment)
        #expect(TraceChecks.problems(recorded).isEmpty, "\(TraceChecks.problems(recorded))")
        let steps = recorded.filter { $0["name"] as? String == "step" }
        let rows = Dictionary(grouping: steps) { $0["tid"] as! Int }
        #expect(steps.count == 40 && rows.count == 8 && rows.values.allSatisfy { $0.count == 5 })
        let rowNames = recorded.filter { $0["name"] as? String == "thread_name" }
            .compactMap { ($0["args"] as? [String: Any])?["name"] as? String }
        #expect(Set(rowNames).isSuperset(of: (0 ..< 8).map { "request \($0)" }))
    }

    @Test func offRecordsNothingAndBuildsNoArguments() {
        #expect(!Trace.isOn(.phase))
        var evaluated = false
        let value = Trace.span({ evaluated = true; return "name" }(), args: { evaluated = true; return [:] }()) { 5 }
        #expect(value == 5 && !evaluated)
    }

    @Test func anUncreatableDirectoryIsATypedError() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/plain-file"
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        #expect(throws: TraceError.self) { try Trace.start(directory: file + "/traces", level: .layer, processName: "x") }
        #expect(!Trace.isOn(.phase))
    }

    @Test func levelsParseByName() {
        #expect(TraceLevel(name: "phase") == .phase && TraceLevel(name: "LAYER") == .layer && TraceLevel(name: "op") == .op)
        #expect(TraceLevel(name: "verbose") == nil)
        #expect(TraceLevel.phase < .layer && TraceLevel.layer < .op)
    }
}
