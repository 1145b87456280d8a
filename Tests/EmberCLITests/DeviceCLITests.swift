// `--gpu`, `--device` and `ember devices` as a user meets them: without a Vulkan loader (forced by
// EMBER_VULKAN_LOADER naming a file that is not there) every command says so in one line and the
// CPU default is untouched; a bad or absent device is one clear error, never a crash; where a device
// is present (lavapipe in CI) `run --gpu` gives the CPU's greedy text.

import EmberTestSupport
import Foundation
import Testing

@Suite struct DeviceCLITests {
    static let noLoader = ["EMBER_VULKAN_LOADER": "/nonexistent/libvulkan.so.1"]

    static func errorLines(_ result: EmberProcess.Result) -> [Substring] {
        result.stderr.split(separator: "\n").filter { $0.hasPrefix("Error") || $0.hasPrefix("ember: error") || $0.contains("error:") }
    }

    @Test func devicesWithoutALoaderListTheCPUAndSayWhy() throws {
        let result = try EmberProcess.run(["devices"], environment: Self.noLoader)
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("cpu"))
        #expect(result.stdout.contains("vulkan: no Vulkan loader (/nonexistent/libvulkan.so.1 not found"))
    }

    @Test func realModelGPUWithoutALoaderIsOneClearError() throws {
        let result = try EmberProcess.run(["run", "--gpu", "-p", "Hi", "-n", "1"], environment: Self.noLoader)
        #expect(result.status == 1, "\(result.stderr)")
        #expect(!result.signalled)
        #expect(result.stderr.contains("--device vulkan:0: no Vulkan loader"), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test func badDevicesAreClearErrors() throws {
        let bogus = try EmberProcess.run(["run", "--device", "tpu", "-p", "Hi", "-n", "1"])
        #expect(bogus.status == 64 && bogus.stderr.contains("--device must be cpu, vulkan or vulkan:N, not \"tpu\""), "\(bogus.stderr)")
        let contradiction = try EmberProcess.run(["bench", "--gpu", "--device", "cpu"])
        #expect(contradiction.status == 64 && contradiction.stderr.contains("contradict"), "\(contradiction.stderr)")
    }

    @Test(.enabled(if: usableVulkanDevice || requireVulkan))
    func realModelMissingDeviceIndexIsAClearError() throws {
        let result = try EmberProcess.run(["run", "--device", "vulkan:99", "-p", "Hi", "-n", "1"])
        #expect(result.status == 1 && result.stderr.contains("no Vulkan device 99"), "\(result.stderr)")
    }

    /// Two greedy tokens on the GPU (seconds each on lavapipe): the reference's " Paris.".
    @Test(.enabled(if: usableVulkanDevice || requireVulkan))
    func realModelRunOnTheGPUGivesTheGreedyText() throws {
        let result = try EmberProcess.run(["run", "--gpu", "-p", "The capital of France is", "-n", "2", "--temp", "0", "-c", "64"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == " Paris.")
    }
}

extension DeviceCLITests {
    /// With operations traced, the GPU's own timestamps appear as spans on a row of their own.
    @Test(.enabled(if: usableVulkanDevice || requireVulkan))
    func gpuTimestampsAreARowOfTheTrace() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("EmberModelTests/Fixtures/tiny_llama.json")
        let model = try GGUFJSON.modelFile(json: fixture)
        let trace = FileManager.default.temporaryDirectory.appendingPathComponent("ember-gpu-trace-\(UUID().uuidString).json").path
        defer {
            try? FileManager.default.removeItem(atPath: model)
            try? FileManager.default.removeItem(atPath: trace)
        }
        let result = try EmberProcess.run(["run", "--gpu", "-m", model, "-p", "Hello", "-n", "3", "--trace", trace],
                                          environment: ["EMBER_TRACE_LEVEL": "op"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: trace))) as? [String: Any]
        let events = try #require(object?["traceEvents"] as? [[String: Any]])
        let row = try #require(events.first { ($0["args"] as? [String: Any])?["name"].map { "\($0)".hasPrefix("gpu (") } ?? false }?["tid"] as? Int)
        let spans = events.filter { $0["tid"] as? Int == row && $0["ph"] as? String == "X" }
        let names = Set(spans.compactMap { $0["name"] as? String })
        #expect(names.isSuperset(of: ["embed", "rms_norm", "matmul", "matmul_gated", "attention", "logits"]), "\(names)")
        #expect(spans.allSatisfy { ($0["dur"] as? Double ?? -1) >= 0 })
    }
}
