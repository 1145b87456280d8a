// `ember-download-bench` (scripts/bench-download runs it): the model store against the test server
// (`ember-test-server`, its own process) with every connection capped in bandwidth and delayed per
// request, as a distant server is:
//  1. `ember pull` of the default model over 1 connection vs the parallel, tensor-aligned downloader;
//  2. `ember run -n 1` from a cache miss (download, load, first token) vs from a cache hit, with the
//     load time (to weights ready) each reports;
//  3. random 4 MiB reads through RemoteFile by 8 concurrent readers, with and without the prefetcher,
//     and one reader going front to back through a file of 8 MiB tensors in 1 MiB reads, spending
//     10 ms on each as a loader would (the pattern prefetching is for).
// Prints markdown tables of medians over the repetitions.
//
//     ember-download-bench [--repetitions N] [--rate BYTES_PER_SECOND] [--latency-ms N]

import EmberStore
import EmberTrace
import EmberTestSupport
import Foundation

var repetitions = 3
var rate = 20 << 20
var latencyMilliseconds = 20
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    let value = arguments.popFirst().flatMap(Int.init)
    switch (argument, value) {
    case let ("--repetitions", value?) where value > 0: repetitions = value
    case let ("--rate", value?) where value > 0: rate = value
    case let ("--latency-ms", value?) where value >= 0: latencyMilliseconds = value
    default:
        FileHandle.standardError.write(Data("usage: ember-download-bench [--repetitions N] [--rate BYTES_PER_SECOND] [--latency-ms N]\n".utf8))
        exit(2)
    }
}

let tools = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
let ember = tools.appendingPathComponent("ember").path
let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ember-download-bench-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: scratch) }

struct Run {
    let status: Int32
    let stdout: String
    let stderr: String
    let seconds: Double
}

/// Runs `executable` to its end, timed.
func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Run {
    let start = ContinuousClock.now
    let outcome = try ChildProcess(URL(fileURLWithPath: executable), arguments, environment: environment, outputIn: scratch, name: "run").wait()
    let result = Run(status: outcome.status, stdout: outcome.stdout, stderr: outcome.stderr, seconds: (ContinuousClock.now - start).seconds)
    guard result.status == 0 else {
        FileHandle.standardError.write(Data("\(executable) \(arguments.joined(separator: " ")) failed:\n\(result.stderr)".utf8))
        exit(1)
    }
    return result
}

/// A fresh, empty EMBER_HOME.
func freshHome() -> String {
    scratch.appendingPathComponent("home-\(UUID().uuidString)").path
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func format(_ value: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", value) }


// The files: the default model, and a file of 8 MiB tensors for the sequential pass.
let model = try run(ember, ["pull", "--quiet", "smollm2"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
let modelSize = try FileManager.default.attributesOfItem(atPath: model)[.size] as! Int
let tensorFile = scratch.appendingPathComponent("tensors.gguf").path
try Data(SyntheticModel.gguf(tensorBytes: Array(repeating: 8 << 20, count: 12))).write(to: URL(fileURLWithPath: tensorFile))

let server = Process()
server.executableURL = tools.appendingPathComponent("ember-test-server")
server.arguments = ["--rate", "\(rate)", "--latency-ms", "\(latencyMilliseconds)", "--etag", "sha256", model, tensorFile]
let serverInput = Pipe(), serverOutput = Pipe()
server.standardInput = serverInput
server.standardOutput = serverOutput
try server.run()
var portLine = Data()
while let byte = try serverOutput.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) { portLine += byte }
guard let port = Int(String(decoding: portLine, as: UTF8.self)) else { fatalError("the test server did not start") }
let modelURL = "http://127.0.0.1:\(port)/\(URL(fileURLWithPath: model).lastPathComponent)"
let tensorURL = URL(string: "http://127.0.0.1:\(port)/tensors.gguf")!

print("# ember download benchmark\n")
print("Test server: each connection capped at \(format(Double(rate) / 1_048_576, 1)) MiB/s, \(latencyMilliseconds) ms latency per request; "
    + "\(repetitions) repetitions, medians. Model: \(URL(fileURLWithPath: model).lastPathComponent) (\(format(Double(modelSize) / 1e6, 1)) MB).\n")

// 1. One connection against the parallel downloader.
var pullSeconds: [Int: [Double]] = [1: [], 8: []]
for _ in 0 ..< repetitions {
    for connections in [1, 8] {
        let pull = try run(ember, ["pull", "--quiet", "--connections", "\(connections)", modelURL], environment: ["EMBER_HOME": freshHome()])
        pullSeconds[connections]!.append(pull.seconds)
    }
}
let single = median(pullSeconds[1]!), parallel = median(pullSeconds[8]!)
print("## Pull (download, verify, install)\n")
print("| connections | seconds | MB/s |\n| --- | --- | --- |")
for (connections, seconds) in [(1, single), (8, parallel)] {
    print("| \(connections) | \(format(seconds)) | \(format(Double(modelSize) / 1e6 / seconds, 1)) |")
}
print("\nParallel, tensor-aligned vs 1 connection: **\(format(single / parallel, 1))x** faster.\n")

// 2. Cold (download) vs cached run to the first token.
func loadMilliseconds(_ stderr: String) -> Double {
    let summary = stderr.split(separator: "\n").last { $0.hasPrefix("load ") } ?? ""
    return Double(summary.dropFirst(5).prefix { $0 != " " }) ?? .nan
}
var cold: [(seconds: Double, load: Double)] = [], cached: [(seconds: Double, load: Double)] = []
for _ in 0 ..< repetitions {
    let home = freshHome()
    let arguments = ["run", "-m", modelURL, "-p", "Hello", "-n", "1", "--temp", "0", "--quiet"]
    let miss = try run(ember, arguments, environment: ["EMBER_HOME": home])
    let hit = try run(ember, arguments, environment: ["EMBER_HOME": home])
    cold.append((miss.seconds, loadMilliseconds(miss.stderr)))
    cached.append((hit.seconds, loadMilliseconds(hit.stderr)))
}
print("## `ember run -n 1` from a URL: cache miss vs cache hit\n")
print("| run | to first token (s, whole process) | load to weights ready (ms) |\n| --- | --- | --- |")
print("| cache miss (download) | \(format(median(cold.map(\.seconds)))) | \(format(median(cold.map(\.load)), 1)) |")
print("| cache hit | \(format(median(cached.map(\.seconds)))) | \(format(median(cached.map(\.load)), 1)) |\n")

// 3. RemoteFile reads.
struct ReadStatistics {
    let megabytesPerSecond: Double
    let worstMilliseconds: Double
    let requests: Int
}

/// `readers` concurrent readers, each making the reads `plan(reader)` gives, through one RemoteFile.
func measureReads(url: URL, prefetches: Bool, readers: Int, work: Duration,
                  plan: @escaping @Sendable (Int, Int) -> [Range<Int>]) async throws -> ReadStatistics {
    let file = try await RemoteFile.open(url: url, token: nil, prefetches: prefetches)
    _ = try await file.header()
    let size = file.size
    let start = ContinuousClock.now
    let (bytes, worst) = try await withThrowingTaskGroup(of: (bytes: Int, worst: Double).self) { group in
        for reader in 0 ..< readers {
            group.addTask {
                var total = 0, worst = 0.0
                for range in plan(reader, size) {
                    let began = ContinuousClock.now
                    total += try await file.read(range).count
                    worst = max(worst, (ContinuousClock.now - began).seconds * 1e3)
                    if work > .zero { try await Task.sleep(for: work) }
                }
                return (total, worst)
            }
        }
        return try await group.reduce((0, 0.0)) { ($0.0 + $1.bytes, max($0.1, $1.worst)) }
    }
    let seconds = (ContinuousClock.now - start).seconds
    return ReadStatistics(megabytesPerSecond: Double(bytes) / 1e6 / seconds, worstMilliseconds: worst, requests: file.requests)
}

let randomReads: @Sendable (Int, Int) -> [Range<Int>] = { reader, size in
    var state = UInt64(reader + 1) &* 0x9E37_79B9_7F4A_7C15
    return (0 ..< 6).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let start = Int(state >> 20) % (size - (4 << 20))
        return start ..< start + (4 << 20)
    }
}
let frontToBack: @Sendable (Int, Int) -> [Range<Int>] = { _, size in
    stride(from: 0, to: size, by: 1 << 20).map { $0 ..< min($0 + (1 << 20), size) }
}
print("## RemoteFile reads\n")
print("| pattern | prefetcher | MB/s | worst read (ms) | requests |\n| --- | --- | --- | --- | --- |")
for (name, url, readers, work, plan) in [
    ("random 4 MiB reads, 8 readers", URL(string: modelURL)!, 8, Duration.zero, randomReads),
    ("1 MiB reads front to back + 10 ms work each, 1 reader, 8 MiB tensors", tensorURL, 1, Duration.milliseconds(10), frontToBack),
] {
    for prefetches in [false, true] {
        var runs: [ReadStatistics] = []
        for _ in 0 ..< repetitions {
            runs.append(try await measureReads(url: url, prefetches: prefetches, readers: readers, work: work, plan: plan))
        }
        print("| \(name) | \(prefetches ? "on" : "off") | \(format(median(runs.map(\.megabytesPerSecond)), 1)) "
            + "| \(format(median(runs.map(\.worstMilliseconds)), 0)) | \(Int(median(runs.map { Double($0.requests) }))) |")
    }
}

try serverInput.fileHandleForWriting.close()
server.waitUntilExit()
