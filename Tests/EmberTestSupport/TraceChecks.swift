// The trace-event format as tests hold recorded traces to it: the fields every event needs, dur >= 0
// on spans, and spans that nest properly on each row (a span starts after the previous one on its row
// has ended, or ends inside the one that encloses it).

import Foundation

public enum TraceChecks {
    /// The events of a merged trace file (`{"traceEvents": [...]}`).
    public static func events(inTrace path: String) throws -> [[String: Any]] {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
        guard let events = (object as? [String: Any])?["traceEvents"] as? [[String: Any]] else {
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: path])
        }
        return events
    }

    /// The events of one JSON-lines fragment; every line must be a complete JSON object.
    public static func events(inFragment path: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            guard let event = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: path])
            }
            return event
        }
    }

    /// Start and duration in microseconds of a span event.
    public static func interval(_ event: [String: Any]) -> (start: Double, end: Double)? {
        guard let start = (event["ts"] as? NSNumber)?.doubleValue, let duration = (event["dur"] as? NSNumber)?.doubleValue else {
            return nil
        }
        return (start, start + duration)
    }

    /// Everything wrong with `events` as a trace; empty when they are well-formed.
    public static func problems(_ events: [[String: Any]]) -> [String] {
        var problems: [String] = []
        var spansByRow: [Int: [(start: Double, end: Double, name: String)]] = [:]
        for event in events {
            let phase = event["ph"] as? String
            guard event["name"] is String, let phase, event["pid"] is Int, let row = event["tid"] as? Int else {
                problems.append("missing name, ph, pid or tid: \(event)")
                continue
            }
            if phase != "M", !(event["ts"] is NSNumber) { problems.append("no ts: \(event)") }
            if phase == "X" {
                guard let span = interval(event), span.end >= span.start else {
                    problems.append("span without dur >= 0: \(event)")
                    continue
                }
                spansByRow[row, default: []].append((span.start, span.end, event["name"] as! String))
            }
        }
        for (row, spans) in spansByRow {
            // Enclosing spans first when two start together.
            var open: [(start: Double, end: Double, name: String)] = []
            for span in spans.sorted(by: { $0.start != $1.start ? $0.start < $1.start : $0.end > $1.end }) {
                // Spans that touch (one ends where the next starts) may differ by a rounding of the
                // microsecond timestamps.
                while let last = open.last, last.end <= span.start + 0.001 { open.removeLast() }
                if let parent = open.last, span.end > parent.end + 0.001 {
                    problems.append("row \(row): \(span.name) at \(span.start) overlaps \(parent.name) without nesting")
                }
                open.append(span)
            }
        }
        return problems
    }
}
