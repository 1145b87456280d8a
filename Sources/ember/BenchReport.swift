// What `ember bench` prints: llama-bench's markdown table (model, size, params, type, threads, test,
// t/s as mean ± stddev), a table of load and first-token times, and the peak RSS; or the same as one
// JSON object whose `results` array holds one entry per (model, test, threads).

import EmberEngine
import Foundation

struct BenchReport {
    struct Result {
        let threads: Int
        let result: BenchmarkResult
    }

    struct Model {
        let name: String
        let path: String
        let loadMillisecondsCold: Double
        let loadMillisecondsWarm: Double
        let description: ModelDescription
        var results: [Result] = []
        /// Seconds per first token, per thread count.
        var timeToFirstToken: [Result] = []
    }

    var models: [Model] = []
    var peakResidentMegabytes = 0.0

    func markdown() -> String {
        var lines = ["| model | size | params | type | threads | test | t/s |",
                     "| --- | ---: | ---: | --- | ---: | --- | ---: |"]
        for model in models {
            let d = model.description
            for entry in model.results {
                lines.append("| \(model.name) | \(Self.fixed(Double(d.bytes) / 1_048_576, 2)) MiB | "
                    + "\(Self.fixed(Double(d.parameters) / 1e6, 2)) M | \(d.type) | \(entry.threads) | \(entry.result.test) | "
                    + "\(Self.fixed(entry.result.mean, 2)) ± \(Self.fixed(entry.result.standardDeviation, 2)) |")
            }
        }
        lines += ["", "| model | threads | load cold ms | load warm ms | time to first token (32-token prompt) ms |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        for model in models {
            for ttft in model.timeToFirstToken {
                lines.append("| \(model.name) | \(ttft.threads) | \(Self.fixed(model.loadMillisecondsCold, 1)) | "
                    + "\(Self.fixed(model.loadMillisecondsWarm, 1)) | \(Self.fixed(ttft.result.mean * 1000, 2)) ± "
                    + "\(Self.fixed(ttft.result.standardDeviation * 1000, 2)) |")
            }
        }
        lines += ["", "peak RSS: \(Self.fixed(peakResidentMegabytes, 1)) MB"]
        return lines.joined(separator: "\n") + "\n"
    }

    func json() throws -> String {
        var results: [[String: Any]] = []
        var perModel: [[String: Any]] = []
        for model in models {
            for entry in model.results {
                results.append(["model": model.name, "path": model.path, "type": model.description.type,
                                "test": entry.result.test, "depth": entry.result.depth, "threads": entry.threads,
                                "tokens_per_second": entry.result.mean, "stddev": entry.result.standardDeviation,
                                "samples": entry.result.samples])
            }
            perModel.append(["model": model.name, "load_ms_cold": model.loadMillisecondsCold,
                             "load_ms_warm": model.loadMillisecondsWarm, "size_bytes": model.description.bytes,
                             "parameters": model.description.parameters,
                             "ttft_ms": model.timeToFirstToken.map { ["threads": $0.threads, "ms": $0.result.mean * 1000] }])
        }
        // The top-level load and first-token figures are the first model's (at its first thread count).
        let first = models.first
        let object: [String: Any] = [
            "results": results, "models": perModel,
            "load_ms_cold": first?.loadMillisecondsCold ?? 0, "load_ms_warm": first?.loadMillisecondsWarm ?? 0,
            "ttft_ms": (first?.timeToFirstToken.first?.result.mean ?? 0) * 1000,
            "peak_rss_mb": peakResidentMegabytes,
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    static func fixed(_ value: Double, _ decimals: Int) -> String {
        String(format: "%.\(decimals)f", value)
    }
}
