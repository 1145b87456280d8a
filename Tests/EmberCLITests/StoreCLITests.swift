// The model store as a user meets it: `ember pull`, `list`, `rm`, `cache prune`, `inspect URL` (the
// header only) and `run URL` (a download that leaves a verified cache entry), against the test server
// in its own process. A full disk does not stop a run.

import EmberStore
import EmberTestSupport
import Foundation
import Testing

@Suite(.serialized) final class StoreCLITests {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ember-store-cli-\(UUID().uuidString)")
    var home: String { scratch.appendingPathComponent("home").path }

    init() throws {
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: scratch) }

    func ember(_ arguments: [String], fileSizeLimit: Int? = nil) throws -> EmberProcess.Result {
        try EmberProcess.run(arguments, environment: ["EMBER_HOME": home], fileSizeLimit: fileSizeLimit)
    }

    /// A synthetic model file of about `megabytes` MB in the scratch directory.
    func model(_ name: String, megabytes: Int, seed: UInt64) throws -> String {
        let path = scratch.appendingPathComponent(name).path
        try Data(SyntheticModel.gguf(tensorBytes: Array(repeating: 1 << 20, count: megabytes), seed: seed))
            .write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The default model, as the tests' cache holds it.
    static let realModel = Result { try ModelStore.standard().resolve("smollm2") }

    @Test func pullListRemoveAndPrune() throws {
        let server = try TestServerProcess(files: [try model("a.gguf", megabytes: 6, seed: 1), try model("b.gguf", megabytes: 6, seed: 2)])
        let pulledA = try ember(["pull", "--quiet", server.url("a.gguf")])
        #expect(pulledA.status == 0 && pulledA.stderr.isEmpty, "\(pulledA.stderr)")
        let pathA = pulledA.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(pathA.hasPrefix(home + "/cache/") && pathA.hasSuffix("/a.gguf"))
        #expect(FileManager.default.contentsEqual(atPath: pathA, andPath: scratch.appendingPathComponent("a.gguf").path))
        #expect(try ember(["pull", "--quiet", server.url("b.gguf")]).status == 0)

        let list = try ember(["list"])
        #expect(list.status == 0)
        let lines = list.stdout.split(separator: "\n")
        #expect(lines.count == 3 && lines[0].hasPrefix("NAME"))
        #expect(lines[1].hasPrefix("b.gguf") && lines[1].hasSuffix(server.url("b.gguf")))  // most recently used first
        #expect(lines[2].hasPrefix("a.gguf") && lines[2].contains("6.3 MB"))

        // Room for one: the least recently used goes.
        let pruned = try ember(["cache", "prune", "--max-size", "7MB"])
        #expect(pruned.status == 0 && pruned.stdout.contains("removed \(server.url("a.gguf"))"))
        #expect(!FileManager.default.fileExists(atPath: pathA))

        #expect(try ember(["rm", server.url("b.gguf")]).stdout.contains("removed"))
        let again = try ember(["rm", server.url("b.gguf")])
        #expect(again.status != 0 && again.stderr.contains("not in the cache"))
        #expect(try ember(["list"]).stdout.contains("no models cached"))
        _ = try server.stop()
    }

    @Test func inspectOfAURLReadsOnlyTheHeader() throws {
        let server = try TestServerProcess(files: [try Self.realModel.get()])
        let result = try ember(["inspect", server.url("SmolLM2-135M-Instruct.Q4_1.gguf")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("architecture: llama") && result.stdout.contains("blk.29.ffn_down.weight"))
        #expect(result.stdout.contains("header only: fetched 4194304 of 98362432 bytes"))
        #expect(try server.stop() == 4_194_304)
        #expect(try ember(["list"]).stdout.contains("no models cached"))
    }

    @Test func realModelRunOfAURLLeavesAVerifiedEntry() throws {
        let server = try TestServerProcess(files: [try Self.realModel.get()], options: ["--etag", "sha256"])
        let url = server.url("SmolLM2-135M-Instruct.Q4_1.gguf")
        let run = try ember(["run", "-m", url, "-p", "The capital of France is", "-n", "4", "--temp", "0", "--quiet"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.hasPrefix(" Paris."))
        let listing = try #require(try JSONSerialization.jsonObject(with: Data(try ember(["list", "--json"]).stdout.utf8)) as? [String: Any])
        let entry = try #require((listing["models"] as? [[String: Any]])?.first)
        #expect(entry["source"] as? String == url && entry["bytes"] as? Int == 98_362_432)
        #expect(entry["sha256"] as? String == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53")
        // The second run is a cache hit: nothing more is downloaded.
        let sentBefore = try server.stop()
        let hit = try ember(["run", "-m", url, "-p", "The capital of France is", "-n", "4", "--temp", "0", "--log-level", "trace"])
        #expect(hit.status == 0 && hit.stdout.hasPrefix(" Paris.") && hit.stderr.contains("resolve: cache hit"))
        // One copy, and a little more when a slow chunk was split at the end (bytes on the way are lost).
        #expect(sentBefore >= 98_362_432 && sentBefore < 98_362_432 * 5 / 4)
    }

    @Test func realModelRunOnAFullDiskKeepsTheModelInMemory() throws {
        let server = try TestServerProcess(files: [try Self.realModel.get()])
        // Every file ember writes is capped at 1 MiB, as on a disk that is nearly full.
        let run = try ember(["run", "-m", server.url("SmolLM2-135M-Instruct.Q4_1.gguf"), "-p", "The capital of France is",
                             "-n", "4", "--temp", "0", "--quiet"], fileSizeLimit: 1024)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.hasPrefix(" Paris."))
        #expect(run.stderr.contains("keeping the model in memory"))
        let cache = URL(fileURLWithPath: home).appendingPathComponent("cache")
        let left = (FileManager.default.enumerator(atPath: cache.path)?.allObjects as? [String] ?? []).filter { !$0.hasSuffix(".lock") }
        #expect(left.allSatisfy { !$0.contains(".") }, "left behind: \(left)")  // at most empty entry directories
        _ = try server.stop()
    }

    @Test func twoProcessesPullingAtOnceDownloadOnce() throws {
        let file = try model("c.gguf", megabytes: 24, seed: 3)
        // 8 connections at 10 MB/s each: the download takes long enough for the two to overlap.
        let server = try TestServerProcess(files: [file], options: ["--rate", "10000000"])
        let pulls = try EmberProcess.runConcurrently([["pull", "--quiet", server.url("c.gguf")], ["pull", "--quiet", server.url("c.gguf")]],
                                                     environment: ["EMBER_HOME": home])
        #expect(pulls.allSatisfy { $0.status == 0 }, "\(pulls.map(\.stderr))")
        for pull in pulls where pull.status != 0 { Issue.record("stderr: \(pull.stderr)") }
        #expect(pulls[0].stdout == pulls[1].stdout)
        let size = try FileManager.default.attributesOfItem(atPath: file)[.size] as! Int
        #expect(try server.stop() < size + size / 10, "downloaded twice")
    }

    @Test func unreachableNetworksEndSoonWithEachRetryOnStderrAndInTheTrace() throws {
        let url = try DeadEndpoints.refusedURL().absoluteString
        let trace = scratch.appendingPathComponent("pull-trace.json").path
        let start = Date()
        let pull = try ember(["pull", url, "--trace", trace])
        #expect(pull.status == 1 && Date().timeIntervalSince(start) < 15)
        let lines = pull.stderr.split(separator: "\n")
        #expect(lines.filter { $0.contains("refused the connection") && $0.contains("of 5)") }.count == 4, "\(pull.stderr)")
        #expect(lines.last?.contains("cannot download \(url): 127.0.0.1 refused the connection") == true, "\(pull.stderr)")
        let events = try String(contentsOfFile: trace, encoding: .utf8)
        #expect(events.components(separatedBy: "\"network.retry\"").count - 1 == 4)

        // A name that does not resolve: the same, within 15 s by default.
        let dnsStart = Date()
        let dns = try ember(["pull", DeadEndpoints.unresolvableURL().absoluteString])
        #expect(dns.status == 1 && dns.stderr.contains("does not resolve (DNS)"), "\(dns.stderr)")
        #expect(Date().timeIntervalSince(dnsStart) < 15)
        // With a shorter connect timeout, the retries stop when it is spent.
        let short = try ember(["pull", DeadEndpoints.unresolvableURL().absoluteString, "--connect-timeout", "3"])
        #expect(short.status == 1 && short.stderr.contains("does not resolve (DNS)"), "\(short.stderr)")
        #expect(!short.stderr.contains("attempt 4 of"), "\(short.stderr)")
    }

    @Test func aSilentHostOrAStalledBodyEndsAtItsTimeout() throws {
        let hole = try BlackHole()
        var start = Date()
        let silent = try ember(["pull", hole.url().absoluteString, "--connect-timeout", "3"])
        #expect(silent.status == 1 && silent.stderr.contains("did not answer within 3 s (connect timeout)"), "\(silent.stderr)")
        #expect(Date().timeIntervalSince(start) < 15)

        let server = try TestServerProcess(files: [try model("s.gguf", megabytes: 2, seed: 4)], options: ["--stall-after", "1000"])
        start = Date()
        let stalled = try ember(["pull", server.url("s.gguf"), "--stall-timeout", "1", "--retries", "1"])
        #expect(stalled.status == 1, "\(stalled.stderr)")
        let lines = stalled.stderr.split(separator: "\n")
        #expect(lines.contains { $0.contains("no bytes from 127.0.0.1 for 1 s (stall timeout)") && $0.contains("(attempt 2 of 2)") }, "\(stalled.stderr)")
        #expect(lines.last?.contains("stall timeout") == true, "\(stalled.stderr)")
        #expect(Date().timeIntervalSince(start) < 30)
        _ = try server.stop()
    }

    @Test func offlineRunsUseOnlyTheCacheAndSaySoWhenAModelIsMissing() throws {
        let reference = "hf:ember-test/missing-GGUF/missing.Q4_K_M.gguf"
        for (flags, environment) in [(["--offline"], [String: String]()), ([], ["EMBER_OFFLINE": "1"]), ([], ["HF_HUB_OFFLINE": "1"])] {
            let run = try EmberProcess.run(["run", "-m", reference, "-p", "hi"] + flags, environment: environment.merging(["EMBER_HOME": home]) { $1 })
            #expect(run.status == 1, "\(run.stderr)")
            #expect(run.stderr.contains("is not in the cache") && run.stderr.contains("offline"), "\(run.stderr)")
            #expect(run.stderr.split(separator: "\n").count == 1, "\(run.stderr)")
        }
        let badSetting = try EmberProcess.run(["pull", reference], environment: ["EMBER_HOME": home, "EMBER_CONNECT_TIMEOUT": "soon"])
        #expect(badSetting.status == 1 && badSetting.stderr.contains("EMBER_CONNECT_TIMEOUT is \"soon\""), "\(badSetting.stderr)")
    }
}
