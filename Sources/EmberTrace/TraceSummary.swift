// `ember trace summary`: where the time went. Spans are grouped by name (count, total, mean and p95
// duration), and each phase-level span name gets its share of the wall time, from the first event to
// the end of the last. A server's trace adds its requests (their rows, RequestTrace in EmberEngine):
// how each ended, and the percentiles of queue time, time to first token and tokens/s.

import FoundationEssentials

public struct TraceSummary: Sendable {
    public struct Row: Sendable, Equatable {
        public let name: String
        /// The span's level: phase, layer or op.
        public let category: String
        public let count: Int
        /// Microseconds.
        public let total: Double
        public let mean: Double
        public let p95: Double
        /// total / wall time.
        public let share: Double
    }

    /// Microseconds from the first event to the end of the last.
    public let wall: Double
    /// Every span name, most total time first.
    public let rows: [Row]

    /// The phase-level rows, in the order the phases first started.
    public let phases: [Row]

    /// The requests a server's trace holds.
    public struct Requests: Sendable, Equatable {
        /// How many ended each way (finished, cancelled, timedOut, failed).
        public let ends: [String: Int]
        /// Milliseconds, per request.
        public let queue: [Double]
        public let timeToFirstToken: [Double]
        /// Tokens after the first per second of decoding, for requests that made more than one.
        public let tokensPerSecond: [Double]
    }

    public let requests: Requests?

    public init(contentsOf path: String) throws(TraceError) {
        struct File: Decodable { let traceEvents: [TraceEvent] }
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch let error as DecodingError {
            throw .malformed(path: path, reason: "\(error)")
        } catch {
            throw .cannotRead(path: path, reason: "\(error)")
        }
        self.init(events: file.traceEvents)
    }

    init(events: [TraceEvent]) {
        let spans = events.filter { $0.ph == "X" && $0.ts != nil && $0.dur != nil }
        let stamped = events.compactMap { event in event.ts.map { ($0, $0 + (event.dur ?? 0)) } }
        let start = stamped.map(\.0).min() ?? 0
        wall = (stamped.map(\.1).max() ?? 0) - start

        var byName: [String: (category: String, first: Double, durations: [Double])] = [:]
        for span in spans {
            byName[span.name, default: (span.cat ?? "", span.ts!, [])].durations.append(span.dur!)
            byName[span.name]!.first = min(byName[span.name]!.first, span.ts!)
        }
        let wall = wall
        let rows = byName.map { name, group -> (Row, Double) in
            let sorted = group.durations.sorted()
            let total = sorted.reduce(0, +)
            let row = Row(name: name, category: group.category, count: sorted.count, total: total,
                          mean: total / Double(sorted.count), p95: Self.percentile(sorted, 0.95), share: wall > 0 ? total / wall : 0)
            return (row, group.first)
        }
        self.rows = rows.map(\.0).sorted { $0.total != $1.total ? $0.total > $1.total : $0.name < $1.name }
        phases = rows.filter { $0.0.category == TraceLevel.phase.name }.sorted { $0.1 < $1.1 }.map(\.0)
        requests = Self.requests(spans)
    }

    /// Each request's row: its `request` span and the `queued`, `prefill` and `decode` spans beside it.
    static func requests(_ spans: [TraceEvent]) -> Requests? {
        var rows: [String: [String: TraceEvent]] = [:]
        for span in spans where ["request", "queued", "prefill", "decode"].contains(span.name) {
            rows["\(span.pid)/\(span.tid)", default: [:]][span.name] = span
        }
        var ends: [String: Int] = [:], queue: [Double] = [], firstToken: [Double] = [], speeds: [Double] = []
        for row in rows.values {
            guard let request = row["request"], let queued = row["queued"]?.dur, let prefill = row["prefill"]?.dur,
                  let decode = row["decode"]?.dur else { continue }
            let end = request.args?.texts["end"] ?? "unknown"
            ends[end, default: 0] += 1
            queue.append(queued / 1000)
            let generated = request.args?.numbers["generated_tokens"] ?? 0
            if generated > 0 { firstToken.append((queued + prefill) / 1000) }
            if generated > 1 && decode > 0 { speeds.append((generated - 1) / (decode / 1e6)) }
        }
        guard !ends.isEmpty else { return nil }
        return Requests(ends: ends, queue: queue.sorted(), timeToFirstToken: firstToken.sorted(), tokensPerSecond: speeds.sorted())
    }

    /// The `fraction` percentile of sorted values (nearest rank).
    static func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return sorted[max(0, Int((fraction * Double(sorted.count)).rounded(.up)) - 1)]
    }

    /// The report `ember trace summary` prints.
    public func render() -> String {
        var lines = ["wall time \(Self.fixed(wall / 1000, 3)) ms, \(rows.reduce(0) { $0 + $1.count }) spans", ""]
        let phaseWidth = max(5, phases.map(\.name.count).max() ?? 0)
        lines.append(Self.leftAligned("phase", phaseWidth) + Self.rightAligned("total ms", 12) + Self.rightAligned("share", 8))
        for row in phases {
            lines.append(Self.leftAligned(row.name, phaseWidth) + Self.rightAligned(Self.fixed(row.total / 1000, 3), 12)
                + Self.rightAligned(Self.fixed(row.share * 100, 1) + "%", 8))
        }
        lines.append("")
        let nameWidth = max(4, rows.map(\.name.count).max() ?? 0)
        lines.append(Self.leftAligned("span", nameWidth) + Self.rightAligned("level", 7) + Self.rightAligned("count", 8) + Self.rightAligned("total ms", 12)
            + Self.rightAligned("mean ms", 11) + Self.rightAligned("p95 ms", 11) + Self.rightAligned("share", 8))
        for row in rows {
            lines.append(Self.leftAligned(row.name, nameWidth) + Self.rightAligned(row.category, 7) + Self.rightAligned("\(row.count)", 8)
                + Self.rightAligned(Self.fixed(row.total / 1000, 3), 12) + Self.rightAligned(Self.fixed(row.mean / 1000, 4), 11)
                + Self.rightAligned(Self.fixed(row.p95 / 1000, 4), 11) + Self.rightAligned(Self.fixed(row.share * 100, 1) + "%", 8))
        }
        if let requests {
            let total = requests.ends.values.reduce(0, +)
            let ends = requests.ends.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            lines += ["", "requests: \(total) (\(ends))",
                      Self.leftAligned("", 18) + Self.rightAligned("p50", 10) + Self.rightAligned("p95", 10) + Self.rightAligned("p99", 10)]
            for (name, values) in [("queue ms", requests.queue), ("first token ms", requests.timeToFirstToken), ("tokens/s", requests.tokensPerSecond)] {
                lines.append(Self.leftAligned(name, 18) + [0.5, 0.95, 0.99].map { Self.rightAligned(Self.fixed(Self.percentile(values, $0), 1), 10) }.joined())
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `value` with `decimals` digits after the point (no Foundation formatting in the engine's targets).
    static func fixed(_ value: Double, _ decimals: Int) -> String {
        var scale = 1.0
        for _ in 0 ..< decimals { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        let whole = Int(scaled / scale), fraction = Int(scaled.truncatingRemainder(dividingBy: scale))
        let digits = String(fraction)
        let sign = value < 0 && scaled > 0 ? "-" : ""
        guard decimals > 0 else { return sign + String(whole) }
        return sign + String(whole) + "." + String(repeating: "0", count: decimals - digits.count) + digits
    }

    private static func leftAligned(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(0, width - text.count))
    }

    private static func rightAligned(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(1, width - text.count)) + text
    }
}
