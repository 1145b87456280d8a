// What `/metrics` reports, in Prometheus' text format: requests by route and status, prompt and
// generated tokens, time to first token and per-token latency histograms, and the scheduler's queue
// depth, active sequences and KV cache use at the moment of the scrape.

import EmberEngine
import EmberTrace
import Synchronization

public final class ServerMetrics: Sendable {
    private struct Histogram {
        static let bounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
        var counts = [Int](repeating: 0, count: bounds.count)
        var sum = 0.0
        var count = 0

        mutating func observe(_ value: Double) {
            for (index, bound) in Self.bounds.enumerated() where value <= bound { counts[index] += 1 }
            sum += value
            count += 1
        }

        func lines(_ name: String) -> [String] {
            Self.bounds.enumerated().map { "\(name)_bucket{le=\"\($1)\"} \(counts[$0])" }
                + ["\(name)_bucket{le=\"+Inf\"} \(count)", "\(name)_sum \(sum)", "\(name)_count \(count)"]
        }
    }

    private struct State {
        var requests: [String: Int] = [:]  // "route|status"
        var promptTokens = 0
        var generatedTokens = 0
        var timeToFirstToken = Histogram()
        var timePerToken = Histogram()
    }

    private let state = Mutex(State())

    public init() {}

    func request(route: String, status: Int) {
        state.withLock { $0.requests["\(route)|\(status)", default: 0] += 1 }
    }

    func finished(_ statistics: Scheduler.SequenceStatistics) {
        state.withLock { state in
            state.promptTokens += statistics.promptTokens
            state.generatedTokens += statistics.generatedTokens
            state.timeToFirstToken.observe(statistics.timeToFirstToken.seconds)
            if statistics.generatedTokens > 1 {
                state.timePerToken.observe(statistics.decodeTime.seconds / Double(statistics.generatedTokens - 1))
            }
        }
    }

    /// The exposition, with the scheduler's `snapshot` as gauges.
    func text(_ snapshot: Scheduler.Snapshot) -> String {
        let state = state.withLock { $0 }
        var lines = ["# HELP ember_requests_total HTTP requests by route and status.", "# TYPE ember_requests_total counter"]
        for (key, count) in state.requests.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "|")
            lines.append("ember_requests_total{route=\"\(parts[0])\",status=\"\(parts[1])\"} \(count)")
        }
        lines += ["# HELP ember_prompt_tokens_total Prompt tokens processed.", "# TYPE ember_prompt_tokens_total counter",
                  "ember_prompt_tokens_total \(state.promptTokens)",
                  "# HELP ember_generated_tokens_total Tokens generated.", "# TYPE ember_generated_tokens_total counter",
                  "ember_generated_tokens_total \(state.generatedTokens)",
                  "# HELP ember_time_to_first_token_seconds From request to first token.",
                  "# TYPE ember_time_to_first_token_seconds histogram"]
        lines += state.timeToFirstToken.lines("ember_time_to_first_token_seconds")
        lines += ["# HELP ember_time_per_output_token_seconds Mean time between generated tokens of a request.",
                  "# TYPE ember_time_per_output_token_seconds histogram"]
        lines += state.timePerToken.lines("ember_time_per_output_token_seconds")
        let usage = snapshot.cachePositions > 0 ? Double(snapshot.cachePositionsUsed) / Double(snapshot.cachePositions) : 0
        lines += ["# HELP ember_queue_depth Requests waiting for a slot.", "# TYPE ember_queue_depth gauge",
                  "ember_queue_depth \(snapshot.waiting)",
                  "# HELP ember_active_sequences Requests generating.", "# TYPE ember_active_sequences gauge",
                  "ember_active_sequences \(snapshot.active)",
                  "# HELP ember_kv_cache_usage_ratio Share of the KV cache slots' positions in use.",
                  "# TYPE ember_kv_cache_usage_ratio gauge", "ember_kv_cache_usage_ratio \(usage)"]
        return lines.joined(separator: "\n") + "\n"
    }
}
