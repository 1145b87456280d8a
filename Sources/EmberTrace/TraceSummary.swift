// `ember trace summary`: where the time went. Spans are grouped by name (count, total, mean and p95
// duration), and each phase-level span name gets its share of the wall time, from the first event to
// the end of the last.

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
            let rank = max(0, Int((0.95 * Double(sorted.count)).rounded(.up)) - 1)
            let row = Row(name: name, category: group.category, count: sorted.count, total: total,
                          mean: total / Double(sorted.count), p95: sorted[rank], share: wall > 0 ? total / wall : 0)
            return (row, group.first)
        }
        self.rows = rows.map(\.0).sorted { $0.total != $1.total ? $0.total > $1.total : $0.name < $1.name }
        phases = rows.filter { $0.0.category == TraceLevel.phase.name }.sorted { $0.1 < $1.1 }.map(\.0)
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
